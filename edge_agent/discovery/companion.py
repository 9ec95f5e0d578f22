"""Companion specifications the discovery recognises, read from ``companion_specs.yaml`` beside this module."""

from __future__ import annotations

from functools import cache
from importlib import resources

import yaml
from pydantic import BaseModel, ConfigDict, Field, model_validator

from edge_agent.discovery.space import Object, Variable
from edge_agent.mapping import ValueMap
from plantmodel.catalog import SignalName, TypeId


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Feed(_Strict):
    path: str
    map: ValueMap | None = None


class SignalRule(_Strict):
    paths: list[str] = Field(min_length=1, description="browse paths below the instance, tried in order")
    map: ValueMap | None = None
    also: list[Feed] = Field([], description="further variables feeding the same signal (each that exists), "
                                             "e.g. the outer state machines of a nested one")


class CompanionSpec(_Strict):
    id: str
    title: str
    namespace: str
    types: list[str] = Field([], description="ObjectType names (in `namespace`) whose instances are assets")
    has: str | None = Field(None, description="or: any object with a variable at this path")
    asset_type: TypeId
    identification: str | None = None
    signals: dict[SignalName, SignalRule]

    @model_validator(mode="after")
    def _matchable(self) -> CompanionSpec:
        if not self.types and not self.has:
            raise ValueError("give types or has")
        return self

    def matches(self, obj: Object) -> bool:
        if self.types and obj.is_a(self.namespace, set(self.types)):
            return True
        return self.has is not None and isinstance(obj.find(tuple(self.has.split("/"))), Variable)

    def variables(self, obj: Object) -> dict[str, list[tuple[Variable, ValueMap | None]]]:
        """Signal -> the variables that feed it and their maps: the first of a rule's paths the instance has,
        and each of its `also` feeds that exists."""
        found: dict[str, list[tuple[Variable, ValueMap | None]]] = {}
        for signal, rule in self.signals.items():
            for path in rule.paths:
                hit = obj.find(tuple(path.split("/")))
                if isinstance(hit, Variable):
                    found[signal] = [(hit, rule.map)]
                    break
            else:
                continue
            for feed in rule.also:
                hit = obj.find(tuple(feed.path.split("/")))
                if isinstance(hit, Variable):
                    found[signal].append((hit, feed.map))
        return found


class _File(_Strict):
    specs: list[CompanionSpec]


@cache
def companion_specs() -> tuple[CompanionSpec, ...]:
    text = resources.files("edge_agent.discovery").joinpath("companion_specs.yaml").read_text(encoding="utf-8")
    return tuple(_File.model_validate(yaml.safe_load(text)).specs)

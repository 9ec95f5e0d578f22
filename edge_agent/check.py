"""`factory-twin plant check`: what the twin will and will not understand of a plant model and its agents.

Read offline, before anything runs: every tag, topic field and mapping of the agents' configs is held
against the plant model and its catalogue. An *error* is something that would be refused at run time
(a path the historian refuses, a signal the asset's type does not have, a unit that cannot be converted,
a state map missing a value the server declared); a *warning* is something the twin will run without
but cannot tell (a station with no part counter has no OEE quality). The summary says, per asset, what is
fed and which figures follow.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from edge_agent.config import agent_config_model
from edge_agent.mapping import PRESETS, ValueMap
from plantmodel import isa95, units
from plantmodel.catalog import AssetRole, SignalKind, SignalSpec
from plantmodel.config import ConfigError, load_config
from plantmodel.plant import Asset, PlantConfig

_PLACEHOLDER = re.compile(r"\{([a-z_][a-z0-9_]*)\}")


@dataclass(frozen=True)
class Finding:
    level: str  # error | warning
    file: str
    where: str  # key path inside the file
    message: str

    def __str__(self) -> str:
        return f"{self.level}: {self.file}: {self.where}: {self.message}"


@dataclass
class Fed:
    """What feeds one asset: its signals by source."""

    signals: dict[str, str] = field(default_factory=dict)  # signal -> where it comes from


@dataclass
class Report:
    findings: list[Finding] = field(default_factory=list)
    fed: dict[str, Fed] = field(default_factory=dict)
    summary: list[str] = field(default_factory=list)
    browsed: list[str] = field(default_factory=list)  # roots mapped by browsing at run time

    @property
    def errors(self) -> list[Finding]:
        return [f for f in self.findings if f.level == "error"]

    def add(self, level: str, file: Path | str, where: str, message: str) -> None:
        self.findings.append(Finding(level, str(file), where, message))


def check(plant_file: Path, agent_files: Iterable[Path] = ()) -> Report:
    report = Report()
    try:
        plant = load_config(plant_file, PlantConfig)
    except ConfigError as exc:
        for problem in exc.problems:
            where, _, message = problem.partition(": ")
            report.add("error", plant_file, where, message)
        return report
    assets = {a.path: a for a in plant.assets()}
    for a in assets.values():
        report.fed[a.path] = Fed()
    for agent_file in agent_files:
        _check_agent(agent_file, plant_file, plant, assets, report)
    _coverage(plant_file, assets, report)
    return report


def _check_agent(agent_file: Path, plant_file: Path, plant: PlantConfig, assets: dict[str, Asset],
                 report: Report) -> None:
    try:
        cfg: Any = load_config(agent_file, agent_config_model())
    except ConfigError as exc:
        for problem in exc.problems:
            where, _, message = problem.partition(": ")
            report.add("error", agent_file, where, message)
        return
    if cfg.plant is None:
        report.add("warning", agent_file, "plant", f"not set: the agent derives states and parts by the namespace's "
                                                  f"conventions rather than from {plant_file.name}")
    for s, src in enumerate(cfg.sources):
        where = f"sources[{s}]"
        if src.type == "opcua":
            tags_file = src.tags_file
            if src.root or src.object_types:
                report.browsed.append(src.root.strip("/") if src.root and not src.object_types else "")
                report.add("warning", agent_file, where, "variables found by browsing at start-up cannot be "
                                                         "checked offline; `edge discover` writes a tag file that can")
            for t, tag in enumerate(src.tags):
                _check_feed(report, assets, agent_file, f"{where}.tags[{t}]", tag.asset, tag.signal, tag.unit,
                            tag.map, tag.enum, f"{src.name}:{tag.node}")
            for t, tag in enumerate(src.configured_tags()[len(src.tags):]):
                file = _beside(agent_file, tags_file)
                _check_feed(report, assets, file, f"tags[{t}]", tag.asset, tag.signal, tag.unit, tag.map, tag.enum,
                            f"{src.name}:{tag.node}")
        elif src.type == "mqtt":
            for m, sub in enumerate(src.subscriptions):
                for signal, fm in sub.fields.items():
                    at = f"{where}.subscriptions[{m}].fields.{signal}"
                    for asset in _matching(sub.asset, assets, report, agent_file, f"{where}.subscriptions[{m}].asset"):
                        _check_feed(report, assets, agent_file, at, asset, signal, fm.unit, fm.map, None,
                                    f"{src.name}:{sub.topic}")
            for g, group in enumerate(src.sparkplug):
                report.add("warning", agent_file, f"{where}.sparkplug[{g}]",
                           f"Sparkplug group {group.group!r}: metrics are named by the edge nodes' births at run "
                           "time and cannot be checked offline")


def _beside(agent_file: Path, path: Path | None) -> Path:
    if path is None:
        return agent_file
    return path if path.is_absolute() or not (agent_file.parent / path).exists() else agent_file.parent / path


def _matching(template: str, assets: dict[str, Asset], report: Report, file: Path, where: str) -> list[str]:
    """The plant's assets an MQTT asset template can name (itself, if it has no placeholders)."""
    if not _PLACEHOLDER.search(template):
        return [template]
    levels = template.split("/")
    if len(levels) != isa95.DEPTH:
        report.add("error", file, where, f"{template!r} has {len(levels)} levels; the historian needs "
                                         f"{isa95.DEPTH} (enterprise/site/area/line/cell/asset)")
        return []
    pattern = _PLACEHOLDER.sub("*", template)
    hits = [p for p in assets if fnmatch.fnmatchcase(p, pattern)]
    if not hits:
        report.add("error", file, where, f"{template!r} names no asset of the plant model: the twin will refuse "
                                         "everything it carries")
    return hits


def _check_feed(report: Report, assets: dict[str, Asset], file: Path, where: str, asset_path: str, signal: str,
                unit: str, m: ValueMap | None, enum: dict[int, str] | None, source: str) -> None:
    if not isa95.is_asset_path(asset_path):
        report.add("error", file, f"{where}.asset", f"{asset_path!r} is not an ISA-95 path of six segments "
                                                    "(enterprise/site/area/line/cell/asset): the historian refuses it")
        return
    asset = assets.get(asset_path)
    if asset is None:
        report.add("error", file, f"{where}.asset", f"{asset_path!r} is not in the plant model: the twin refuses "
                                                    "its samples")
        return
    spec = asset.signal(signal)
    if spec is None:
        report.add("error", file, f"{where}.signal", f"a {asset.type} has no signal {signal!r}: it is mapped to "
                                                     f"nothing (add it under the asset's `signals:` or its type)")
        return
    report.fed[asset_path].signals[signal] = source
    _check_value(report, file, where, asset, spec, unit, m, enum)


def _check_value(report: Report, file: Path, where: str, asset: Asset, spec: SignalSpec, unit: str,
                 m: ValueMap | None, enum: dict[int, str] | None) -> None:
    yields_state = m is not None and m.yields_state()
    if spec.kind is SignalKind.STATE and m is not None and (m.preset or m.states or m.bits) and not yields_state:
        report.add("error", file, f"{where}.map", f"{spec.name} is {asset.path}'s state: its map must give states "
                                                  f"of the twin")
    if yields_state and spec.kind is not SignalKind.STATE:
        report.add("error", file, f"{where}.map", f"maps onto states, but {spec.name} is a {spec.kind} signal")
    if not spec.textual and not (m and (m.preset or m.states or m.bits)):
        source_unit = m.unit if m is not None and m.unit is not None else unit
        final = units.normalise(m.to_unit if m is not None and m.to_unit is not None else source_unit)
        if final and spec.unit and final != spec.unit:
            if units.convertible(final, spec.unit):
                report.add("warning", file, f"{where}.unit", f"{final!r} is converted to the catalogue's "
                                                             f"{spec.unit!r} by the twin; say `to_unit` to convert "
                                                             "at the edge")
            else:
                report.add("error", file, f"{where}.unit", f"{final!r} cannot be converted to {spec.unit!r}, the unit "
                                                           f"of {spec.name}: the twin refuses its samples")
        elif final and not units.is_known(final):
            report.add("warning", file, f"{where}.unit", f"unknown unit {final!r}")
    if enum and m is not None and (m.preset or m.states):
        table = {**PRESETS.get(m.preset or "", {}), **{str(k): v for k, v in (m.states or {}).items()}}
        folded = {k.casefold() for k in table}
        missing = [f"{k} ({v})" for k, v in sorted(enum.items())
                   if str(k) not in table and v.casefold() not in folded]
        if missing and m.default is None:
            report.add("error", file, f"{where}.map", f"the server declares {', '.join(missing)}, which the map does "
                                                      "not cover: such values would be refused (add them, or a "
                                                      "`default`)")


def _coverage(plant_file: Path, assets: dict[str, Asset], report: Report) -> None:
    any_fed = any(f.signals for f in report.fed.values())
    for path, asset in assets.items():
        fed = report.fed[path].signals
        spec = asset.spec
        parts = [n for n, o in spec.part_counters.items() if n in fed]
        outcomes = {spec.part_counters[n] for n in parts}
        line = f"{path} ({asset.type}): {len(fed)} signal(s) fed"
        if not fed and any(path.startswith(root) for root in report.browsed):
            report.summary.append(line + ": by browsing at start-up (not checked)")
            continue
        if not fed:
            if any_fed:
                report.add("warning", plant_file, path, "no tag or topic feeds this asset")
            report.summary.append(line + ": nothing")
            continue
        if spec.role is AssetRole.BUFFER:
            level = spec.level in fed
            report.summary.append(line + (": level" if level else ": no level, so no state"))
            continue
        state = spec.state in fed if spec.state else False
        figures = []
        if spec.role is AssetRole.STATION:
            if not state:
                report.add("warning", plant_file, path, f"its state ({spec.state}) is fed by nothing: the twin shows "
                                                        "it as unknown and cannot compute availability")
            if not outcomes & {"good", "total"}:
                report.add("warning", plant_file, path, "no part counter (good or total) is fed: no performance or "
                                                        "quality")
            elif "good" in outcomes and not outcomes & {"scrap", "total"}:
                report.add("warning", plant_file, path, "no scrap or total counter is fed: quality counts every part "
                                                        "as good")
            if asset.config.ideal_cycle_time_s is None:
                report.add("warning", plant_file, path, "no ideal_cycle_time_s: OEE has availability and quality but "
                                                        "no performance")
            figures = [f for f, ok in (("availability", state), ("performance", state and bool(outcomes & {
                "good", "total"}) and asset.config.ideal_cycle_time_s is not None), ("quality", bool(outcomes)))
                       if ok]
        report.summary.append(line + f"; state {'fed' if state else 'not fed'}"
                              + (f"; parts: {', '.join(sorted(outcomes))}" if outcomes else "")
                              + (f"; OEE: {', '.join(figures) or 'none'}" if spec.role is AssetRole.STATION else ""))

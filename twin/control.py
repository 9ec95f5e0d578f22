"""Commands to equipment, from an allow-list in config: what may be asked of which assets, and how.

Sample config (the twin's YAML)::

    control:
      endpoint: opc.tcp://10.0.0.20:4840/          # the line's OPC-UA server (PLC or machine controllers)
      namespace: urn:factory-twin:simulator         # namespace of the asset objects' NodeIds
      object_id: "{asset}"                          # string NodeId of an asset's object; {asset}: ISA-95 path
      security: {policy: Basic256Sha256, mode: SignAndEncrypt, certificate: twin.der, private_key: twin.pem}
      username: twin                                # optional user token ...
      password_env: TWIN_OPCUA_PASSWORD             # ... its password from the environment, never the file
      request_ttl_s: 900                            # an unapproved request expires after this
      commands:
        - {name: reduce_speed, assets: ["*/cnc-*"], kind: write, browse_name: speed_override,
           value: double, min: 50, max: 100, description: "feed-rate override, percent"}
        - {name: stop_for_maintenance, assets: ["*/cnc-*"], kind: method, browse_name: StopForMaintenance,
           value: double, min: 60, max: 28800}
        - {name: reset_alarm, assets: ["*"], kind: method, browse_name: ResetAlarm}

A `write` sets the variable (or property) with that browse name under the asset's object; a `method`
calls the method with that browse name on the object, with the value as its single argument when the
command takes one. The bounds here are the plant's policy and may be tighter than what the equipment
accepts; the equipment's own refusal is recorded with its OPC-UA status.
"""

from __future__ import annotations

import fnmatch
import math
from pathlib import Path
from typing import Any, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

ValueType = Literal["double", "float", "int32", "int64", "boolean"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class CommandSpec(_Strict):
    name: str = Field(pattern=r"^[a-z][a-z0-9_]*$", max_length=64)
    assets: list[str] = Field(min_length=1, description="asset path globs it may be sent to")
    kind: Literal["write", "method"]
    browse_name: str = Field(min_length=1, description="the variable or method below the asset's object")
    value: ValueType | None = Field(None, description="type of the value written or the method's argument; "
                                    "none: the command takes no value")
    min: float | None = None
    max: float | None = None
    description: str = ""

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if self.kind == "write" and self.value is None:
            raise ValueError("a write needs value (the type of what is written)")
        if (self.min is not None or self.max is not None) and self.value in (None, "boolean"):
            raise ValueError("min and max bound a numeric value")
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(f"min ({self.min}) is above max ({self.max})")
        return self

    def allows(self, asset: str) -> bool:
        return any(fnmatch.fnmatchcase(asset, g) for g in self.assets)

    def check(self, value: Any) -> tuple[Any, str | None]:
        """The value as it will be sent, or the reason it may not be."""
        if self.value is None:
            return None, None if value is None else f"{self.name} takes no value"
        if value is None:
            return None, f"{self.name} needs a value ({self.value})"
        if self.value == "boolean":
            return (value, None) if isinstance(value, bool) else (None, f"{self.name} needs true or false")
        if isinstance(value, bool) or not isinstance(value, int | float):
            return None, f"{self.name} needs a number ({self.value})"
        try:
            number = float(value)
        except OverflowError:
            number = math.inf
        if not math.isfinite(number):
            return None, f"{self.name} needs a finite number"
        if self.value in ("int32", "int64") and number != int(number):
            return None, f"{self.name} needs a whole number"
        bits = {"int32": 31, "int64": 63}.get(self.value)
        if bits is not None and not -(2**bits) <= int(number) < 2**bits:
            return None, f"{value} does not fit in an {self.value}"
        if (self.min is not None and value < self.min) or (self.max is not None and value > self.max):
            return None, f"{value} is outside the allowed range {self.min} .. {self.max} of {self.name}"
        return (int(number) if bits is not None else number), None

    def as_dict(self) -> dict[str, Any]:
        return self.model_dump(mode="json")


class ControlSecurity(_Strict):
    policy: Literal["None", "Basic256Sha256", "Aes256_Sha256_RsaPss"] = "None"
    mode: Literal["Sign", "SignAndEncrypt"] = "SignAndEncrypt"
    certificate: Path | None = Field(None, description="the twin's application certificate (DER or PEM)")
    private_key: Path | None = None
    server_certificate: Path | None = Field(None, description="pin the server's certificate")

    @model_validator(mode="after")
    def _keys(self) -> Self:
        if self.policy != "None" and (self.certificate is None or self.private_key is None):
            raise ValueError(f"security policy {self.policy} needs certificate and private_key")
        return self


class ControlConfig(_Strict):
    endpoint: str = Field(pattern=r"^opc\.tcp://")
    namespace: str = Field("urn:factory-twin:simulator", description="namespace URI of the asset objects")
    object_id: str = Field("{asset}", description="string NodeId identifier of an asset's object")
    security: ControlSecurity = ControlSecurity()
    username: str | None = None
    password_env: str | None = Field(None, description="environment variable holding the user's password")
    timeout_s: float = Field(10.0, gt=0)
    request_ttl_s: float = Field(900.0, gt=0, description="an unapproved request expires after this long")
    commands: list[CommandSpec] = Field(default_factory=list)

    @model_validator(mode="after")
    def _unique(self) -> Self:
        names = [c.name for c in self.commands]
        doubled = sorted({n for n in names if names.count(n) > 1})
        if doubled:
            raise ValueError(f"command names must be unique: {doubled}")
        return self

    def command(self, name: str) -> CommandSpec | None:
        return next((c for c in self.commands if c.name == name), None)

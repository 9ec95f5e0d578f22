"""Sends an approved command to the equipment over OPC-UA: a write, or a method call, and what came back.

A session per command: commands are rare and each must stand on its own, so no connection is kept
that could be half-broken when one is needed. The outcome names the OPC-UA status, good or bad.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from asyncua import Client, ua
from asyncua.crypto import security_policies

from twin.control import CommandSpec, ControlConfig

log = logging.getLogger(__name__)

_VARIANTS = {"double": ua.VariantType.Double, "float": ua.VariantType.Float, "int32": ua.VariantType.Int32,
             "int64": ua.VariantType.Int64, "boolean": ua.VariantType.Boolean}
_POLICIES: dict[str, type[security_policies.SecurityPolicy]] = {
    "Basic256Sha256": security_policies.SecurityPolicyBasic256Sha256,
    "Aes256_Sha256_RsaPss": security_policies.SecurityPolicyAes256Sha256RsaPss,
}


@dataclass(frozen=True, slots=True)
class Outcome:
    ok: bool
    status: str  # the OPC-UA status name (Good, BadOutOfRange, ...) or what kept the command from reaching it
    result: Any  # a method's output arguments, the value written, or the error's text


class Equipment:
    def __init__(self, config: ControlConfig, env: Mapping[str, str] | None = None) -> None:
        self.config = config
        self.password = None
        if config.password_env:
            self.password = (os.environ if env is None else env).get(config.password_env)

    async def send(self, asset: str, spec: CommandSpec, value: Any) -> Outcome:
        cfg = self.config
        client = Client(cfg.endpoint, timeout=cfg.timeout_s)
        client.name = client.description = "factory-twin control"
        if cfg.username:
            client.set_user(cfg.username)
            if self.password is not None:
                client.set_password(self.password)
        try:
            if cfg.security.policy != "None":
                s = cfg.security
                await client.set_security(_POLICIES[s.policy], str(s.certificate), str(s.private_key),
                                          server_certificate=str(s.server_certificate) if s.server_certificate
                                          else None, mode=getattr(ua.MessageSecurityMode, s.mode))
            async with client:
                ns = await client.get_namespace_index(cfg.namespace)
                obj = client.get_node(ua.NodeId(cfg.object_id.format(asset=asset), ns))
                node = await obj.get_child(f"{ns}:{spec.browse_name}")
                if spec.kind == "write":
                    await node.write_value(ua.Variant(value, _VARIANTS[spec.value or "double"]))
                    return Outcome(True, "Good", value)
                args = [] if spec.value is None else [ua.Variant(value, _VARIANTS[spec.value])]
                out = await obj.call_method(node, *args)
                return Outcome(True, "Good", out)
        except ua.UaStatusCodeError as exc:
            name, doc = ua.status_codes.get_name_and_doc(exc.code)
            return Outcome(False, name, doc)
        except ValueError as exc:  # the namespace is not on that server
            return Outcome(False, "BadNamespaceUnknown", str(exc))
        except (OSError, TimeoutError, ua.UaError) as exc:
            log.warning("command to %s via %s failed: %s", asset, cfg.endpoint, exc)
            return Outcome(False, "BadCommunicationError", f"{type(exc).__name__}: {exc}" if str(exc)
                           else type(exc).__name__)

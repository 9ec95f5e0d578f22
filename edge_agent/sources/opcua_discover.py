"""`factory-twin edge discover`: browse a server with the agent's own identity and write a tag file."""

from __future__ import annotations

from pathlib import Path

from edge_agent.plugins import PluginContext
from edge_agent.quarantine import Quarantine
from edge_agent.sources.opcua import OpcUaSource, OpcUaSourceConfig
from edge_agent.sources.opcua_tags import browse, tags_yaml


async def discover(endpoint: str, root: str | None, object_types: list[str], security: str, pki: Path,
                   username: str | None = None, password_env: str | None = None) -> tuple[str, int]:
    """The tag file's text and how many variables it maps; raises with the reason when it cannot."""
    policy, _, mode = security.partition(",")
    config = OpcUaSourceConfig.model_validate({
        "type": "opcua", "name": "discover", "endpoint": endpoint, "root": root, "object_types": object_types,
        "security": {"policy": policy, "mode": mode or "SignAndEncrypt"}, "pki_dir": pki,
        "username": username, "password_env": password_env,
        **({} if root or object_types else {"root": "/"})})
    quarantine = Quarantine(":memory:")
    try:
        source = OpcUaSource(config, PluginContext("discover", pki.parent, lambda _: None, quarantine))
        client = await source.open_client(auto_reconnect=False)
        async with client:
            tags = await browse(client, root, object_types)
    finally:
        quarantine.close()
    if not tags:
        raise LookupError(f"no variables below {root or 'Objects'}")
    return tags_yaml(tags, endpoint, root, object_types), len(tags)


"""`factory-twin edge discover`: browse a server with the agent's own identity and write a tag file."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from asyncua import Client

from edge_agent.discovery.draft import Draft
from edge_agent.discovery.draft import discover_draft as draft_of
from edge_agent.plugins import PluginContext
from edge_agent.quarantine import Quarantine
from edge_agent.sources.opcua import OpcUaSource, OpcUaSourceConfig
from edge_agent.sources.opcua_tags import browse, tags_yaml


@asynccontextmanager
async def connected(endpoint: str, security: str, pki: Path, username: str | None = None,
                    password_env: str | None = None) -> AsyncIterator[Client]:
    """A session opened with the agent's own identity, trust list and security settings."""
    policy, _, mode = security.partition(",")
    config = OpcUaSourceConfig.model_validate({
        "type": "opcua", "name": "discover", "endpoint": endpoint, "root": "/",
        "security": {"policy": policy, "mode": mode or "SignAndEncrypt"}, "pki_dir": pki,
        "username": username, "password_env": password_env})
    quarantine = Quarantine(":memory:")
    try:
        source = OpcUaSource(config, PluginContext("discover", pki.parent, lambda *_, **__: None, quarantine))
        client = await source.open_client(auto_reconnect=False)
        async with client:
            yield client
    finally:
        quarantine.close()


async def discover(endpoint: str, root: str | None, object_types: list[str], security: str, pki: Path,
                   username: str | None = None, password_env: str | None = None) -> tuple[str, int]:
    """The tag file's text and how many variables it maps; raises with the reason when it cannot."""
    async with connected(endpoint, security, pki, username, password_env) as client:
        tags = await browse(client, root, object_types)
    if not tags:
        raise LookupError(f"no variables below {root or 'Objects'}")
    return tags_yaml(tags, endpoint, root, object_types), len(tags)


async def discover_draft(endpoint: str, prefix: str, root: str | None, security: str, pki: Path,
                         username: str | None = None, password_env: str | None = None) -> Draft:
    """A reviewable draft (plant model, tag file, agent and twin configs) of the line at `prefix`."""
    async with connected(endpoint, security, pki, username, password_env) as client:
        draft = await draft_of(client, endpoint, prefix, root)
    if not draft.assets:
        raise LookupError(f"no variables below {root or 'Objects'}")
    return draft


"""Who is calling, and what they may do: API keys and OAuth2 bearer tokens mapped to roles and scopes.

Roles are ordered: a viewer reads, an engineer also writes (acknowledges alerts, qualifies stops, requests and
approves commands, starts planning jobs), an admin may do everything. A principal may be scoped to parts of
the plant (ISA-95 path prefixes such as a site or a line); it then sees and acts on those assets only.

Secrets come only from the environment (``key_env``, ``secret_env``): never from a config file. A key is
accepted as ``Authorization: Bearer <key>`` or ``X-API-Key: <key>``; a browser's WebSocket, which cannot
set headers, may give it as ``?token=<key>`` (the WebSocket only: a query string ends up in logs and history).
A key has at least `MIN_KEY_LENGTH` characters and is not a placeholder such as ``change-me``; two entries may
not share a name or a key.

Each caller is an identity: an API key's name, or ``jwt:<name>`` for a bearer token, so a token's user name can
never pass for a key holder (four-eyes approval compares identities). Keys are meant per person; the service
warns at start-up when a role's key looks shared. With ``scope_claim`` set, a token must name what it may see:
an empty, missing, null or malformed claim is refused (``"*"`` names the whole plant).
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from enum import IntEnum
from typing import Any, Literal

import jwt
from fastapi import HTTPException, Request, WebSocket
from pydantic import BaseModel, ConfigDict, Field, model_validator

from twin.app_state import services_of

log = logging.getLogger(__name__)


class Role(IntEnum):
    viewer = 1
    engineer = 2
    admin = 3


RoleName = Literal["viewer", "engineer", "admin"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


MIN_KEY_LENGTH = 16
PLACEHOLDERS = ("change-me", "changeme", "secret", "password")


class ApiKeyConfig(_Strict):
    name: str = Field(min_length=1, max_length=100, pattern=r"^[^:\s][^:]*$",
                      description="who holds the key (a person, not a role): shown in audit logs and alert "
                      "transitions; no ':' (reserved for token identities such as jwt:<name>)")
    role: RoleName
    key_env: str = Field(min_length=1, description="environment variable that holds the key")
    scope: list[str] = Field(default_factory=list, description="ISA-95 path prefixes; empty: the whole plant")


class OAuth2Config(_Strict):
    """Bearer JWTs from the plant's identity provider (Keycloak, Entra ID, ...), verified locally."""

    algorithms: list[str] = Field(default_factory=lambda: ["RS256"], min_length=1)
    secret_env: str | None = Field(None, description="environment variable with the HS* secret")
    public_key_env: str | None = Field(None, description="environment variable with the PEM public key (RS*, ES*)")
    issuer: str | None = None
    audience: str | None = None
    name_claim: str = "preferred_username"
    roles_claim: str = Field("roles", description="claim listing roles; the highest known one is taken")
    scope_claim: str | None = Field(None, description="claim listing ISA-95 path prefixes the caller may see")

    @model_validator(mode="after")
    def _one_key(self) -> OAuth2Config:
        if (self.secret_env is None) == (self.public_key_env is None):
            raise ValueError("give exactly one of secret_env (HS*) and public_key_env (RS*, ES*)")
        return self


class AuthConfig(_Strict):
    enabled: bool = Field(True, description="off only for a closed lab network: every caller is then an admin")
    api_keys: list[ApiKeyConfig] = Field(default_factory=list)
    oauth2: OAuth2Config | None = None
    cors_origins: list[str] = Field(default_factory=list, description="browser origins allowed; none by default")

    @model_validator(mode="after")
    def _distinct_names(self) -> AuthConfig:
        seen: dict[str, int] = {}
        for i, k in enumerate(self.api_keys):
            if k.name in seen:
                raise ValueError(f"api_keys[{i}].name: {k.name!r} is already the name of api_keys[{seen[k.name]}]; "
                                 "each key belongs to one person")
            seen[k.name] = i
        return self


@dataclass(frozen=True, slots=True)
class Principal:
    name: str
    role: Role
    scope: tuple[str, ...] = ()
    kind: Literal["key", "jwt", "anonymous"] = "key"

    @property
    def identity(self) -> str:
        """Who, for audit, four-eyes, job ownership and rate limits: a key's name, or `jwt:<name>`."""
        return self.name if self.kind == "key" else f"{self.kind}:{self.name}"

    @property
    def plant_wide(self) -> bool:
        return not self.scope

    def sees(self, path: str) -> bool:
        """Whether a path (asset, cell or line) is inside the scope: a scoped line's assets, not the site above."""
        return not self.scope or any(path == s or path.startswith(s.rstrip("/") + "/") for s in self.scope)

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "identity": self.identity, "role": self.role.name, "scope": list(self.scope)}


class AuthError(ValueError):
    """A secret the configuration names is missing from the environment."""


ANONYMOUS_ADMIN = Principal("anonymous", Role.admin, kind="anonymous")


class Authenticator:
    def __init__(self, config: AuthConfig, env: Mapping[str, str]) -> None:
        self.config = config
        self._keys: dict[bytes, Principal] = {}
        missing = []
        owner: dict[bytes, int] = {}
        for i, k in enumerate(config.api_keys):
            secret = env.get(k.key_env)
            if not secret:
                missing.append(f"auth.api_keys[{i}].key_env: environment variable {k.key_env} is not set")
                continue
            weak = _weak(secret)
            if weak:
                missing.append(f"auth.api_keys[{i}].key_env: the key in {k.key_env} {weak}")
                continue
            digest = _digest(secret)
            if digest in owner:
                missing.append(f"auth.api_keys[{i}].key_env: {k.key_env} holds the same key as "
                               f"auth.api_keys[{owner[digest]}] ({config.api_keys[owner[digest]].name}); "
                               "each person needs their own")
                continue
            owner[digest] = i
            self._keys[digest] = Principal(k.name, Role[k.role], tuple(k.scope))
        self._jwt_key: str | None = None
        if config.oauth2 is not None:
            var = config.oauth2.secret_env or config.oauth2.public_key_env
            self._jwt_key = env.get(var or "")
            if not self._jwt_key:
                missing.append(f"auth.oauth2: environment variable {var} is not set")
        if missing:
            raise AuthError("; ".join(missing))
        if config.enabled:
            for warning in shared_key_warnings(config):
                log.warning("%s", warning)
        if config.enabled and not self._keys and config.oauth2 is None:
            log.warning("authentication is on but no API key or OAuth2 issuer is configured: every call is refused")
        if not config.enabled:
            log.warning("authentication is OFF: every caller is an admin")

    def principal(self, token: str | None) -> Principal:
        """The caller a token names; 401 when there is none or it is not valid."""
        if not self.config.enabled:
            return ANONYMOUS_ADMIN
        if not token:
            raise HTTPException(401, "authentication required: an API key or bearer token",
                                headers={"WWW-Authenticate": "Bearer"})
        found = self._keys.get(_digest(token))
        if found is not None:
            return found
        if self._jwt_key is not None and token.count(".") == 2:
            return self._from_jwt(token)
        raise HTTPException(401, "unknown API key or token", headers={"WWW-Authenticate": "Bearer"})

    def _from_jwt(self, token: str) -> Principal:
        o = self.config.oauth2
        assert o is not None and self._jwt_key is not None
        try:
            claims = jwt.decode(token, self._jwt_key, algorithms=o.algorithms, audience=o.audience, issuer=o.issuer,
                                options={"require": ["exp"]})
        except jwt.PyJWTError as exc:
            raise HTTPException(401, f"bearer token refused: {exc}", headers={"WWW-Authenticate": "Bearer"}) from None
        roles = claims.get(o.roles_claim) or []
        roles = [roles] if isinstance(roles, str) else roles
        known = [Role[r] for r in roles if isinstance(r, str) and r in Role.__members__]
        if not known:
            raise HTTPException(403, f"the token's {o.roles_claim!r} claim names no role of this service")
        name = claims.get(o.name_claim) or claims.get("sub")
        if not isinstance(name, str) or not name.strip():
            raise HTTPException(403, f"the token names nobody (no {o.name_claim!r} or 'sub' claim)")
        return Principal(name, max(known), self._scope(claims), kind="jwt")

    def _scope(self, claims: dict[str, Any]) -> tuple[str, ...]:
        """Fail closed: with a scope claim configured, a token that does not name its scope sees nothing."""
        o = self.config.oauth2
        assert o is not None
        if o.scope_claim is None:
            return ()
        scope = claims.get(o.scope_claim)
        scope = [scope] if isinstance(scope, str) else scope
        if (not isinstance(scope, list) or not scope
                or not all(isinstance(s, str) and s.strip() and len(s) <= 500 for s in scope)):
            raise HTTPException(403, f"the token's {o.scope_claim!r} claim must list the ISA-95 paths it may see "
                                "(\"*\" for the whole plant); it is empty, missing or malformed")
        return () if "*" in scope else tuple(scope)


def _weak(secret: str) -> str | None:
    if len(secret) < MIN_KEY_LENGTH:
        return f"is shorter than {MIN_KEY_LENGTH} characters"
    if any(p in secret.lower() for p in PLACEHOLDERS):
        return "is a placeholder (change-me): set a long random value"
    return None


def shared_key_warnings(config: AuthConfig) -> list[str]:
    """Keys that look shared by a role rather than held by a person: four-eyes approval cannot tell the people
    who share one key apart."""
    out = []
    engineers = [k.name for k in config.api_keys if k.role == "engineer"]
    if len(engineers) == 1 and config.oauth2 is None:
        out.append(f"auth: one engineer key ({engineers[0]}) for everyone: approval by a second engineer needs "
                   "each engineer to hold their own key (auth.api_keys, one per person)")
    for k in config.api_keys:
        if k.name in Role.__members__ and k.role != "viewer":
            out.append(f"auth: the {k.role} key is named {k.name!r}, after a role: if several people share it, "
                       "give each person their own key, named after them")
    return out


def _digest(secret: str) -> bytes:
    # Keys are looked up by digest, so a lookup takes the same time whatever prefix an attacker guesses right.
    return hashlib.sha256(secret.encode()).digest()


def token_of(headers: Mapping[str, str], query: Mapping[str, str] | None = None) -> str | None:
    """The key from the headers; from `query` (``?token=``) only where given, which is the WebSocket alone."""
    auth = headers.get("authorization", "")
    if auth[:7].lower() == "bearer ":
        return auth[7:].strip()
    return headers.get("x-api-key") or (query.get("token") if query is not None else None)


def require(role: RoleName) -> Callable[[Request], Awaitable[Principal]]:
    """A FastAPI dependency: the caller, who must hold at least `role` (403 otherwise)."""
    needed = Role[role]

    async def dependency(request: Request) -> Principal:
        principal = services_of(request.app).auth.principal(token_of(request.headers))
        if principal.role < needed:
            raise HTTPException(403, f"{principal.name} has the {principal.role.name} role; "
                                f"this needs {needed.name} or above")
        request.state.principal = principal
        return principal

    dependency.__name__ = f"require_{role}"
    return dependency


def websocket_principal(ws: WebSocket) -> Principal:
    return services_of(ws.app).auth.principal(token_of(ws.headers, ws.query_params))


def check_scope(principal: Principal, path: str) -> None:
    """404, not 403, outside the scope: a scoped caller should not learn what exists elsewhere."""
    if not principal.sees(path):
        raise HTTPException(404, f"no asset {path!r}")


def check_plant_wide(principal: Principal, what: str) -> None:
    """For what spans the whole plant and cannot be cut to a scope (e.g. /metrics)."""
    if not principal.plant_wide:
        raise HTTPException(403, f"{what} covers the whole plant; {principal.identity} is scoped to "
                            f"{', '.join(principal.scope)}")

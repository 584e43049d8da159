"""API keys and scopes.

A key is ``csms_`` followed by 43 URL-safe characters (256 random bits); the database keeps
its SHA-256 only. Requests carry ``Authorization: Bearer KEY``: none or an unknown or revoked
key is 401, a key whose scope does not cover the route is 403.

Scopes: ``read`` may GET everything but webhooks and keys; ``operate`` adds station calls and
charging profiles; ``dispatch`` adds programs, grid events and drivers' settings; ``admin`` may
do everything (stations, keys, webhooks included). A verified key is remembered for
:data:`CACHE_SECONDS`, so a revocation takes effect within that time.
"""

from __future__ import annotations

import asyncio
import hashlib
import secrets
import time
from collections.abc import Awaitable, Callable
from enum import StrEnum
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from csms.api.errors import ApiError
from csms.store import api_keys
from csms.store.api_keys import ApiKey

KEY_PREFIX = "csms_"
CACHE_SECONDS = 5.0


class Scope(StrEnum):
    """What a key may do."""

    READ = "read"
    OPERATE = "operate"
    DISPATCH = "dispatch"
    ADMIN = "admin"


#: the scopes each key scope grants
GRANTS: dict[Scope, frozenset[Scope]] = {
    Scope.READ: frozenset({Scope.READ}),
    Scope.OPERATE: frozenset({Scope.READ, Scope.OPERATE}),
    Scope.DISPATCH: frozenset({Scope.READ, Scope.DISPATCH}),
    Scope.ADMIN: frozenset(Scope),
}


def new_key() -> str:
    """A fresh, high-entropy API key."""
    return KEY_PREFIX + secrets.token_urlsafe(32)


def hash_key(key: str) -> bytes:
    """What is stored of a key."""
    return hashlib.sha256(key.encode()).digest()


def shown_prefix(key: str) -> str:
    """The first characters of a key, kept to recognise it in listings."""
    return key[: len(KEY_PREFIX) + 6]


class KeyCache:
    """Keys verified in the last :data:`CACHE_SECONDS`, and the ids used since the last
    flush (their ``last_used_at`` is written in batches, not on every request)."""

    def __init__(self) -> None:
        self._known: dict[bytes, tuple[ApiKey, float]] = {}
        self.used: set[int] = set()

    async def lookup(self, pool: object, key: str) -> ApiKey | None:
        """The key's record if it is valid now, else None."""
        digest = hash_key(key)
        now = time.monotonic()
        hit = self._known.get(digest)
        if hit is not None and hit[1] > now:
            self.used.add(hit[0].id)
            return hit[0]
        record = await api_keys.key_by_hash(pool, digest)  # type: ignore[arg-type]
        if record is None:
            self._known.pop(digest, None)
            return None
        if len(self._known) > 10_000:
            self._known.clear()
        self._known[digest] = (record, now + CACHE_SECONDS)
        self.used.add(record.id)
        return record

    async def flush(self, pool: object) -> None:
        """Write the keys used since the last flush."""
        if self.used:
            used, self.used = self.used, set()
            await api_keys.mark_used(pool, sorted(used))  # type: ignore[arg-type]

    async def flush_every(self, pool: object, seconds: float) -> None:
        """Flush forever, every ``seconds``."""
        while True:
            await asyncio.sleep(seconds)
            try:
                await self.flush(pool)
            except Exception:  # the database may be away: next time
                continue


_bearer = HTTPBearer(auto_error=False, description="An API key: `csms api-keys create`.")
Credentials = Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]


def require(scope: Scope) -> Callable[..., Awaitable[ApiKey]]:
    """A dependency that admits requests whose key grants ``scope``."""

    async def check(request: Request, credentials: Credentials) -> ApiKey:
        if credentials is None or credentials.scheme.lower() != "bearer":
            raise ApiError(401, "unauthorized", "an API key is needed: "
                           "Authorization: Bearer KEY", headers={"WWW-Authenticate": "Bearer"})
        state = request.app.state.api
        record = await state.keys.lookup(state.pool, credentials.credentials)
        if record is None:
            raise ApiError(401, "unauthorized", "unknown or revoked API key",
                           headers={"WWW-Authenticate": "Bearer"})
        if scope not in GRANTS[Scope(record.scope)]:
            raise ApiError(403, "forbidden", f"this key's scope ({record.scope}) does not "
                           f"allow this; it needs {scope.value}")
        request.state.api_key = record
        return record

    return check


def needs(scope: Scope) -> object:
    """``dependencies=[needs(Scope.X)]`` for a route."""
    return Depends(require(scope))

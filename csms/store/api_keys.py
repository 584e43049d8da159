"""API keys of the HTTP API: only their SHA-256 is stored, the key is shown once."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from csms.store.db import Db

SCOPES = ("read", "operate", "dispatch", "admin")

_COLUMNS = "id, name, scope, prefix, created_at, last_used_at, revoked_at"


@dataclass(frozen=True)
class ApiKey:
    """A key as stored (never the key itself): its scope, the first characters of the key
    to recognise it by, when it was made, last used and revoked."""

    id: int
    name: str
    scope: str
    prefix: str
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None


async def add_key(db: Db, name: str, scope: str, prefix: str, key_hash: bytes) -> ApiKey:
    """Store a new key by its hash."""
    if scope not in SCOPES:
        raise ValueError(f"scope must be one of {', '.join(SCOPES)}")
    row = await db.fetchrow(
        f"INSERT INTO api_keys (name, scope, prefix, key_hash) VALUES ($1, $2, $3, $4)"
        f" RETURNING {_COLUMNS}", name, scope, prefix, key_hash)
    return ApiKey(**dict(row))


async def list_keys(db: Db, *, revoked: bool = True) -> list[ApiKey]:
    """Every key, oldest first (without the revoked ones unless ``revoked``)."""
    rows = await db.fetch(f"SELECT {_COLUMNS} FROM api_keys"
                          f" WHERE $1 OR revoked_at IS NULL ORDER BY id", revoked)
    return [ApiKey(**dict(r)) for r in rows]


async def revoke_key(db: Db, key_id: int) -> ApiKey | None:
    """Revoke a key (at once for new requests; see csms.api.auth for the cache); returns it
    as it is now, or None if there is no such key. Revoking twice changes nothing."""
    row = await db.fetchrow(
        f"UPDATE api_keys SET revoked_at = coalesce(revoked_at, now()) WHERE id = $1"
        f" RETURNING {_COLUMNS}", key_id)
    return None if row is None else ApiKey(**dict(row))


async def key_by_hash(db: Db, key_hash: bytes) -> ApiKey | None:
    """The unrevoked key with this hash, or None."""
    row = await db.fetchrow(f"SELECT {_COLUMNS} FROM api_keys"
                            f" WHERE key_hash = $1 AND revoked_at IS NULL", key_hash)
    return None if row is None else ApiKey(**dict(row))


async def mark_used(db: Db, key_ids: Sequence[int]) -> None:
    """Record that these keys were used now (one statement for a batch)."""
    await db.execute("UPDATE api_keys SET last_used_at = now() WHERE id = ANY($1::bigint[])",
                     list(key_ids))

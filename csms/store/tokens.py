"""ID tokens the CSMS knows, with their authorization status, group and expiry."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from csms.store.db import Db

#: Statuses a stored token may have (idTokenInfo.status values the operator can set).
TOKEN_STATUSES = (
    "Accepted",
    "Blocked",
    "Expired",
    "Invalid",
    "NoCredit",
    "NotAllowedTypeEVSE",
    "NotAtThisLocation",
    "NotAtThisTime",
)


@dataclass
class TokenRecord:
    """A stored ID token."""

    id_token: str
    token_type: str
    status: str
    group_id_token: str | None
    group_token_type: str | None
    expires_at: datetime | None
    language: str | None
    created_at: datetime


_COLUMNS = """id_token, token_type, status, group_id_token, group_token_type, expires_at, language,
    created_at"""


async def add_token(
    db: Db,
    id_token: str,
    token_type: str = "ISO14443",
    *,
    status: str = "Accepted",
    group_id_token: str | None = None,
    group_token_type: str | None = None,
    expires_at: datetime | None = None,
    language: str | None = None,
) -> TokenRecord:
    """Add a token, or replace the status, group and expiry of the same token and type.

    A group without a type gets the type ``Central``. Raises ValueError for an unknown status.
    """
    if status not in TOKEN_STATUSES:
        raise ValueError(f"status must be one of {', '.join(TOKEN_STATUSES)}, not {status}")
    if group_id_token is not None and group_token_type is None:
        group_token_type = "Central"
    row = await db.fetchrow(
        f"""
        INSERT INTO id_tokens (id_token, token_type, status, group_id_token, group_token_type,
                               expires_at, language)
        VALUES ($1, $2, $3, $4, $5, $6, $7)
        ON CONFLICT (lower(id_token), token_type) DO UPDATE
           SET status = EXCLUDED.status, group_id_token = EXCLUDED.group_id_token,
               group_token_type = EXCLUDED.group_token_type, expires_at = EXCLUDED.expires_at,
               language = EXCLUDED.language
        RETURNING {_COLUMNS}
        """,
        id_token,
        token_type,
        status,
        group_id_token,
        group_token_type,
        expires_at,
        language,
    )
    return TokenRecord(**dict(row))


async def get_token(db: Db, id_token: str, token_type: str) -> TokenRecord | None:
    """The stored token with that value (compared case-insensitively) and type, or None."""
    row = await db.fetchrow(
        f"SELECT {_COLUMNS} FROM id_tokens WHERE lower(id_token) = lower($1) AND token_type = $2",
        id_token,
        token_type,
    )
    return TokenRecord(**dict(row)) if row else None


async def list_tokens(db: Db) -> list[TokenRecord]:
    """Every stored token, ordered by value and type."""
    rows = await db.fetch(f"SELECT {_COLUMNS} FROM id_tokens ORDER BY id_token, token_type")
    return [TokenRecord(**dict(r)) for r in rows]


async def remove_token(db: Db, id_token: str, token_type: str | None = None) -> int:
    """Delete a token (of one type, or of every type; any case); return how many rows went."""
    status = await db.execute(
        """
        DELETE FROM id_tokens
         WHERE lower(id_token) = lower($1) AND ($2::text IS NULL OR token_type = $2)
        """,
        id_token,
        token_type,
    )
    return int(status.split()[-1])

"""The secret that signs the dashboard's session cookies and read-only links (one row)."""

from __future__ import annotations

import secrets

from csms.store.db import Db


async def signing_secret(db: Db) -> bytes:
    """The dashboard's signing secret, made (256 random bits) by the first caller."""
    await db.execute("INSERT INTO dashboard_secret (id, secret) VALUES (1, $1)"
                     " ON CONFLICT (id) DO NOTHING", secrets.token_bytes(32))
    return bytes(await db.fetchval("SELECT secret FROM dashboard_secret WHERE id = 1"))


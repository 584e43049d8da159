"""ID tokens."""

from __future__ import annotations

from datetime import UTC, datetime

import asyncpg
import pytest

from csms.store import tokens


async def test_add_get_and_update_are_case_insensitive(pool: asyncpg.Pool):
    await tokens.add_token(pool, "AbC123", "ISO14443", group_id_token="FLEET")
    found = await tokens.get_token(pool, "abc123", "ISO14443")
    assert found is not None and found.status == "Accepted"
    assert found.group_id_token == "FLEET" and found.group_token_type == "Central"
    expiry = datetime(2030, 1, 1, tzinfo=UTC)
    await tokens.add_token(pool, "ABC123", "ISO14443", status="Blocked", expires_at=expiry)
    listed = await tokens.list_tokens(pool)
    assert [(t.id_token, t.status, t.expires_at) for t in listed] == [("AbC123", "Blocked", expiry)]
    assert await tokens.get_token(pool, "abc123", "eMAID") is None


async def test_unknown_status_is_refused(pool: asyncpg.Pool):
    with pytest.raises(ValueError, match="status must be one of"):
        await tokens.add_token(pool, "X", status="Maybe")


async def test_remove_by_value_or_by_value_and_type(pool: asyncpg.Pool):
    await tokens.add_token(pool, "T1", "ISO14443")
    await tokens.add_token(pool, "T1", "eMAID")
    await tokens.add_token(pool, "T2", "ISO14443")
    assert await tokens.remove_token(pool, "t1", "eMAID") == 1
    assert await tokens.remove_token(pool, "T1") == 1
    assert await tokens.remove_token(pool, "T1") == 0
    assert [t.id_token for t in await tokens.list_tokens(pool)] == ["T2"]

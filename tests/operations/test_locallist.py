"""Building the Local Authorization List and its differential updates (D01)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import asyncpg
import pytest

from csms.operations.locallist import differences, list_request, wanted_entries
from csms.store import tokens
from csms.store.db import open_pool
from csms.store.locallist import ListEntry
from tests.store.fixtures import migrated_template, migrated_url

__all__ = ["migrated_template", "migrated_url"]

OK, BLOCKED = {"status": "Accepted"}, {"status": "Blocked"}


def test_differences_add_change_then_remove():
    held = [ListEntry("A", "Central", OK), ListEntry("B", "Central", OK),
            ListEntry("C", "Central", OK)]
    wanted = [ListEntry("a", "Central", OK), ListEntry("B", "Central", BLOCKED),
              ListEntry("D", "Central", OK)]
    assert differences(held, wanted) == [
        ListEntry("B", "Central", BLOCKED), ListEntry("D", "Central", OK),
        ListEntry("C", "Central")]  # D01.FR.17: removal without idTokenInfo
    assert differences(wanted, wanted) == []


def test_a_request_without_entries_leaves_the_list_out():
    assert list_request("Full", 3, []) == {"versionNumber": 3, "updateType": "Full"}
    assert list_request("Differential", 4, [ListEntry("C", "Central")]) == {
        "versionNumber": 4, "updateType": "Differential",
        "localAuthorizationList": [{"idToken": {"idToken": "C", "type": "Central"}}]}


@pytest.fixture
async def pool(migrated_url: str):
    p = await open_pool(migrated_url, min_size=1, max_size=2)
    yield p
    await p.close()


async def test_the_list_carries_what_authorize_would_answer(pool: asyncpg.Pool):
    expiry = datetime.now(UTC) + timedelta(days=30)
    await tokens.add_token(pool, "CARD-1", group_id_token="FLEET", expires_at=expiry)
    await tokens.add_token(pool, "LOST", status="Blocked")
    await tokens.add_token(pool, "X" * 40, "Central")  # longer than 2.0.1 allows
    await tokens.add_token(pool, "PLATE", "VIN")  # a 2.1-only type
    wanted, skipped = await wanted_entries(pool, "2.0.1")
    by_value = {e.id_token: e.info for e in wanted}
    assert set(by_value) == {"CARD-1", "LOST"}
    assert by_value["CARD-1"]["groupIdToken"] == {"idToken": "FLEET", "type": "Central"}
    assert "cacheExpiryDateTime" in by_value["CARD-1"]
    assert by_value["LOST"] == BLOCKED
    assert sorted(skipped) == ["PLATE (VIN)", f"{'X' * 40} (Central)"]
    wanted21, skipped21 = await wanted_entries(pool, "2.1")
    assert len(wanted21) == 4 and skipped21 == []

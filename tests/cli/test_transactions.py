"""``csms transactions list|show``: energy, duration, events and meter values."""

from __future__ import annotations

import json

import pytest

from tests.cli.conftest import Invoke, assert_error, assert_ok, with_db
from tests.cli.seed import discharge_session, open_session


@pytest.fixture
def seeded(csms: Invoke, database_url: str) -> Invoke:
    async def seed(db):  # type: ignore[no-untyped-def]
        await discharge_session(db)
        await open_session(db)

    with_db(database_url, seed)
    return csms


def test_list_shows_energy_both_ways_and_duration(seeded: Invoke) -> None:
    txs = json.loads(assert_ok(seeded("transactions", "list", "--json")).stdout)
    assert [t["transaction_id"] for t in txs] == ["TX-2", "TX-1"]  # newest first
    ended = txs[1]
    assert ended["energy_imported_wh"] == 1000.0
    assert ended["energy_exported_wh"] == 3000.0
    assert ended["duration_s"] == 3600.0
    text = assert_ok(seeded("transactions", "list")).stdout.splitlines()
    assert text[0].split()[:2] == ["STATION", "ID"]
    assert any(line.split()[:2] == ["CP-1", "TX-1"] for line in text)


def test_list_filters(seeded: Invoke) -> None:
    active = json.loads(assert_ok(seeded("transactions", "list", "--active", "--json")).stdout)
    assert [t["transaction_id"] for t in active] == ["TX-2"]
    one = json.loads(
        assert_ok(seeded("transactions", "list", "--station", "CP-1", "--json")).stdout
    )
    assert [t["transaction_id"] for t in one] == ["TX-1"]
    late = json.loads(
        assert_ok(seeded("transactions", "list", "--since", "2026-11-05T17:30Z", "--json")).stdout
    )
    assert [t["transaction_id"] for t in late] == ["TX-2"]
    assert assert_ok(seeded("transactions", "list", "--station", "CP-9")).stdout.strip() == (
        "no transactions"
    )


def test_show_has_events_and_meter_values(seeded: Invoke) -> None:
    tx = json.loads(assert_ok(seeded("transactions", "show", "TX-1", "--json")).stdout)
    assert [e["event_type"] for e in tx["events"]] == ["Started", "Updated", "Ended"]
    assert len(tx["meter_values"]) == 9
    assert tx["energy_exported_wh"] == 3000.0
    text = assert_ok(seeded("transactions", "show", "TX-1", "--station", "CP-1")).stdout
    assert "energy_exported_wh: 3000" in text
    assert "Energy.Active.Export.Register" in text
    assert "EVDisconnected" in text


def test_show_errors(seeded: Invoke, database_url: str) -> None:
    assert_error(seeded("transactions", "show", "NOPE"), 3, "unknown transaction", "NOPE")
    assert_error(seeded("transactions", "show", "TX-1", "--station", "CP-2"), 3, "CP-2")
    # the same id on two stations needs --station
    with_db(database_url, lambda db: discharge_session(db, station_id="CP-3", tx="TX-1"))
    assert_error(seeded("transactions", "show", "TX-1"), 2, "--station", "CP-1", "CP-3")
    assert_ok(seeded("transactions", "show", "TX-1", "--station", "CP-3"))


def test_list_argument_errors(seeded: Invoke) -> None:
    assert_error(seeded("transactions", "list", "--since", "yesterday-ish"), 2, "--since")
    assert_error(seeded("transactions", "list", "--limit", "0"), 2, "--limit")
    assert_error(seeded("transactions", "list", "--limit", str(2**70)), 2, "--limit")

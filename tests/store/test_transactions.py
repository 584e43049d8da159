"""Transactions folded from their events, whatever order the events arrive in."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import asyncpg
import pytest
from hypothesis import given
from hypothesis import strategies as st

from csms.store import transactions
from csms.store.base import StoreError
from csms.store.metering import MeterSample
from csms.store.transactions import TxEvent

T0 = datetime(2026, 6, 1, 16, 0, tzinfo=UTC)


def _event(seq: int, kind: str, minutes: int, **kw) -> TxEvent:
    return TxEvent(transaction_id="tx-1", seq_no=seq, event_type=kind,
                   timestamp=T0 + timedelta(minutes=minutes),
                   trigger_reason=kw.pop("trigger_reason", "MeterValuePeriodic"), **kw)


def _register(minutes: int, imported: float, exported: float) -> list[MeterSample]:
    ts = T0 + timedelta(minutes=minutes)
    return [
        MeterSample(None, "tx-1", ts, "Energy.Active.Import.Register", None, "Outlet", "Wh",
                    "Sample.Periodic", imported),
        MeterSample(None, "tx-1", ts, "Energy.Active.Export.Register", None, "Outlet", "Wh",
                    "Sample.Periodic", exported),
    ]


async def test_events_in_any_order_give_the_same_transaction(pool: asyncpg.Pool, station: str):
    events = [
        (_event(0, "Started", 0, evse_id=1, connector_id=1, charging_state="EVConnected",
                id_token="TAG1", id_token_type="ISO14443", trigger_reason="Authorized"),
         _register(0, 1000, 0)),
        (_event(1, "Updated", 30, charging_state="Charging"), _register(30, 6000, 0)),
        (_event(2, "Updated", 60, charging_state="SuspendedEVSE"), _register(60, 6000, 4000)),
        (_event(3, "Ended", 90, charging_state="Idle", stopped_reason="EVDisconnected",
                trigger_reason="EVCommunicationLost"), _register(90, 6500, 4000)),
    ]
    # Ended first, then the rest late and out of order as offline events.
    for index in (3, 1, 0, 2):
        event, samples = events[index]
        event.offline = index != 3
        assert await transactions.record_transaction_event(pool, station, event, samples)
    tx = await transactions.get_transaction(pool, "tx-1")
    assert tx.started_at == T0 and tx.ended_at == T0 + timedelta(minutes=90)
    assert tx.stopped_reason == "EVDisconnected"
    assert tx.charging_state == "Idle" and tx.last_seq_no == 3
    assert tx.evse_id == 1 and tx.connector_id == 1 and tx.id_token == "TAG1"
    assert tx.offline
    assert tx.energy_imported_wh == 5500 and tx.energy_exported_wh == 4000
    assert tx.duration_s == 90 * 60
    assert [e["seq_no"] for e in tx.events] == [0, 1, 2, 3]
    # Samples of later events without an EVSE take the transaction's EVSE.
    assert {m.evse_id for m in tx.meter_values} == {1}
    assert len(tx.meter_values) == 8


async def test_repeated_event_is_stored_once(pool: asyncpg.Pool, station: str):
    event = _event(0, "Started", 0, evse_id=1)
    assert await transactions.record_transaction_event(pool, station, event, _register(0, 1, 0))
    assert not await transactions.record_transaction_event(
        pool, station, event, _register(0, 1, 0))
    tx = await transactions.get_transaction(pool, "tx-1", station_id=station)
    assert len(tx.events) == 1 and len(tx.meter_values) == 2


async def test_late_offline_event_does_not_overwrite_newer_live_state(
    pool: asyncpg.Pool, station: str
):
    await transactions.record_transaction_event(
        pool, station, _event(5, "Updated", 50, charging_state="SuspendedEV", evse_id=2), [])
    await transactions.record_transaction_event(
        pool, station, _event(4, "Updated", 40, charging_state="Charging", offline=True), [])
    tx = (await transactions.list_transactions(pool, station_id=station))[0]
    assert tx.charging_state == "SuspendedEV" and tx.last_seq_no == 5 and tx.ended_at is None
    assert tx.evse_id == 2 and tx.offline


async def test_list_filters_active_and_ended(pool: asyncpg.Pool, station: str):
    await transactions.record_transaction_event(pool, station, _event(0, "Started", 0), [])
    other = _event(0, "Started", 5)
    other.transaction_id = "tx-2"
    await transactions.record_transaction_event(pool, station, other, [])
    ended = _event(1, "Ended", 10)
    ended.transaction_id = "tx-2"
    await transactions.record_transaction_event(pool, station, ended, [])
    assert [t.transaction_id for t in await transactions.list_transactions(pool)] == [
        "tx-2", "tx-1"]
    assert [t.transaction_id for t in await transactions.list_transactions(
        pool, active=True)] == ["tx-1"]
    assert await transactions.active_transaction_ids(pool, station) == ["tx-1"]
    tx2 = await transactions.get_transaction(pool, "tx-2")
    assert tx2.stopped_reason == "Local"  # stoppedReason may be omitted only when Local


async def test_same_transaction_id_on_two_stations_needs_the_station(
    pool: asyncpg.Pool, station: str
):
    from csms.store import stations

    await stations.register_station(pool, "CS-002", "another password 16")
    for sid in (station, "CS-002"):
        await transactions.record_transaction_event(pool, sid, _event(0, "Started", 0), [])
    with pytest.raises(StoreError, match="several stations"):
        await transactions.get_transaction(pool, "tx-1")
    assert (await transactions.get_transaction(pool, "tx-1", station_id="CS-002")) is not None
    assert await transactions.get_transaction(pool, "nope") is None



async def _hot_updates(pool: asyncpg.Pool, station: str, count: int, rounds: int) -> int:
    """How many updates of ``transactions`` rows were HOT (heap-only: no index entry) while
    ``count`` transactions were started and then each received ``rounds`` Updated events,
    every round in a transaction of its own as group commit does."""
    async with pool.acquire() as conn:
        for seq in range(rounds + 1):
            kind = "Started" if seq == 0 else "Updated"
            items = [(station, TxEvent(
                transaction_id=f"tx-{n}", seq_no=seq, event_type=kind,
                timestamp=T0 + timedelta(minutes=seq), trigger_reason="MeterValuePeriodic",
                evse_id=1 + n % 2, connector_id=1, charging_state="Charging"),
                _register(seq, 1000.0 + seq, 0.0)) for n in range(count)]
            async with conn.transaction():
                assert all(await transactions.record_transaction_events(conn, items))
        await conn.execute("SELECT pg_stat_force_next_flush()")
        await conn.execute("SELECT 1")  # a transaction end: the counters are flushed
        await conn.execute("SELECT pg_stat_clear_snapshot()")
        row = await conn.fetchrow(
            "SELECT n_tup_upd, n_tup_hot_upd FROM pg_stat_user_tables"
            " WHERE relname = 'transactions'")
    # Every event folds into its row; the Started ones set indexed columns (started_at, the
    # EVSE), so only the Updated ones can be HOT.
    assert row["n_tup_upd"] == count * (rounds + 1)
    return row["n_tup_hot_upd"]


async def test_folding_events_updates_transactions_in_place(pool: asyncpg.Pool, station: str):
    # The fold of every TransactionEvent rewrites its transaction's row. With half of each
    # page left free (migration 0250) those rewrites stay on their page and touch no index.
    assert await _hot_updates(pool, station, count=400, rounds=4) >= 0.95 * 400 * 4


async def test_full_pages_would_move_the_rows(pool: asyncpg.Pool, station: str):
    # The same load on full pages: most rewrites move to another page and add index entries.
    await pool.execute("ALTER TABLE transactions SET (fillfactor = 100)")
    assert await _hot_updates(pool, station, count=400, rounds=4) < 0.5 * 400 * 4


_REGISTERS = ("Energy.Active.Import.Register", "Energy.Active.Export.Register")


def _reference_bounds(samples: list[MeterSample]) -> tuple:
    """What the bounds mean, written plainly: per register, the earliest and the latest total
    (the first of equal times), or four Nones."""
    out: list = []
    for measurand in _REGISTERS:
        totals = [s for s in samples
                  if s.measurand == measurand and s.phase is None and s.unit_valid]
        if not totals:
            out += [None] * 4
            continue
        first = min(totals, key=lambda s: s.timestamp)
        last = max(totals, key=lambda s: s.timestamp)
        out += [first.value, first.timestamp, last.value, last.timestamp]
    return tuple(out)


@given(st.lists(st.tuples(
    st.sampled_from((*_REGISTERS, "Power.Active.Import")), st.sampled_from((None, "L1")),
    st.booleans(), st.integers(0, 5), st.integers(0, 10**6)), max_size=12))
def test_register_bounds_are_the_first_and_last_totals(
        drawn: list[tuple[str, str | None, bool, int, int]]) -> None:
    samples = [MeterSample(1, "tx", T0 + timedelta(minutes=minute), measurand, phase, "Outlet",
                           "Wh", "Sample.Periodic", float(value), unit_valid=valid)
               for measurand, phase, valid, minute, value in drawn]
    assert transactions._bounds(samples) == _reference_bounds(samples)

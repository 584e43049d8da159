"""Group commit: many stations' writes in one transaction, each caller answered after it."""

from __future__ import annotations

import asyncio
import math
from datetime import UTC, datetime, timedelta

import asyncpg
import pytest

from csms.store import batch, commands, transactions
from csms.store.db import open_pool
from csms.store.metering import MeterSample
from csms.store.transactions import TxEvent

T0 = datetime(2026, 6, 1, 16, 0, tzinfo=UTC)


def sample(minutes: int, value: float, evse_id: int | None = 1, tx: str | None = None,
           measurand: str = "Energy.Active.Import.Register") -> MeterSample:
    return MeterSample(evse_id, tx, T0 + timedelta(minutes=minutes), measurand, None, "Outlet",
                       "Wh", "Sample.Periodic", value)


def event(seq: int, kind: str = "Updated", tx: str = "tx-1", **kw) -> TxEvent:
    return TxEvent(transaction_id=tx, seq_no=seq, event_type=kind,
                   timestamp=T0 + timedelta(minutes=seq), trigger_reason="MeterValuePeriodic",
                   **kw)


async def test_writes_of_many_stations_share_transactions_and_all_land(
    pool: asyncpg.Pool, stations: list[str]
):
    writer = batch.GroupCommit(pool)
    results = await asyncio.gather(*(
        coro for i, s in enumerate(stations) for coro in (
            writer.meter_values(s, [sample(0, 100.0 + i), sample(0, 7.0, measurand="SoC")]),
            writer.heartbeat(s),
            writer.transaction_event(
                s, event(0, "Started", evse_id=2, charging_state="Charging"),
                [sample(0, 1000.0 + i, evse_id=None, tx="tx-1")]),
        )))
    assert [r for r in results if r is not None] == [True] * len(stations)
    assert writer.writes == 3 * len(stations)
    assert writer.batches < writer.writes
    assert await pool.fetchval("SELECT count(*) FROM meter_values") == 3 * len(stations)
    assert await pool.fetchval(
        "SELECT count(*) FROM stations WHERE last_heartbeat_at IS NOT NULL") == len(stations)
    # A transaction sample without EVSE takes the transaction's EVSE.
    assert await pool.fetchval(
        "SELECT count(*) FROM meter_values WHERE transaction_id = 'tx-1' AND evse_id = 2"
    ) == len(stations)
    tx = await transactions.get_transaction(pool, "tx-1", station_id=stations[3])
    assert tx.evse_id == 2 and tx.charging_state == "Charging" and tx.last_seq_no == 0


async def test_heartbeats_and_meter_values_go_in_one_statement_and_both_land(
    pool: asyncpg.Pool, stations: list[str]
):
    writer = batch.GroupCommit(pool)
    await writer.meter_values(stations[0], [sample(0, 5.0)])
    # One batch of heartbeats and meter values: no transaction around its one statement, even
    # when every value in it was stored before (a resent MeterValues).
    await asyncio.gather(
        writer.meter_values(stations[0], [sample(0, 5.0)]),
        writer.meter_values(stations[1], [sample(1, 6.0)]),
        *(writer.heartbeat(s) for s in stations[:4]))
    assert await pool.fetchval("SELECT count(*) FROM meter_values") == 2
    assert await pool.fetchval(
        "SELECT count(*) FROM stations WHERE last_heartbeat_at IS NOT NULL") == 4
    await asyncio.gather(writer.meter_values(stations[0], [sample(0, 5.0)]),
                         *(writer.heartbeat(s) for s in stations[4:6]))
    assert await pool.fetchval(
        "SELECT count(*) FROM stations WHERE last_heartbeat_at IS NOT NULL") == 6
    assert await pool.fetchval("SELECT count(*) FROM meter_values") == 2


async def test_a_bad_write_fails_alone(pool: asyncpg.Pool, stations: list[str]):
    writer = batch.GroupCommit(pool)
    good = writer.meter_values(stations[0], [sample(0, 1.0)])
    # No such station: the transaction row's foreign key refuses it.
    bad = writer.transaction_event("NOT-REGISTERED", event(0, "Started"), [])
    other = writer.transaction_event(stations[1], event(0, "Started"), [])
    results = await asyncio.gather(good, bad, other, return_exceptions=True)
    assert results[0] is None and results[2] is True
    assert isinstance(results[1], asyncpg.ForeignKeyViolationError)
    assert await pool.fetchval("SELECT count(*) FROM meter_values") == 1
    assert await pool.fetchval("SELECT count(*) FROM transactions") == 1


async def test_two_events_of_one_transaction_go_in_order_in_separate_batches(
    pool: asyncpg.Pool, stations: list[str]
):
    writer = batch.GroupCommit(pool, max_inflight=1)
    first = writer.transaction_event(stations[0], event(0, "Started", charging_state="EVConnected"),
                                     [])
    second = writer.transaction_event(stations[0], event(1, charging_state="Charging"), [])
    repeat = writer.transaction_event(stations[0], event(1, charging_state="Charging"), [])
    assert await asyncio.gather(first, second, repeat) == [True, True, False]
    tx = await transactions.get_transaction(pool, "tx-1", station_id=stations[0])
    assert tx.last_seq_no == 1 and tx.charging_state == "Charging"
    assert [e["seq_no"] for e in tx.events] == [0, 1]


async def test_late_event_labels_earlier_samples_with_the_evse(
    pool: asyncpg.Pool, stations: list[str]
):
    writer = batch.GroupCommit(pool)
    await writer.transaction_event(stations[0], event(1), [sample(1, 5.0, None, "tx-1")])
    await writer.transaction_event(stations[0], event(0, "Started", evse_id=3, offline=True),
                                   [sample(0, 1.0, None, "tx-1")])
    evses = await pool.fetch("SELECT evse_id FROM meter_values WHERE transaction_id = 'tx-1'")
    assert [r[0] for r in evses] == [3, 3]


async def test_signed_values_are_stored_beside_copied_ones(
    pool: asyncpg.Pool, stations: list[str]
):
    signed = sample(0, 2.0)
    signed.signed_meter_value = {"signedMeterData": "abc", "signingMethod": "x",
                                 "encodingMethod": "y", "publicKey": "z"}
    await batch.GroupCommit(pool).meter_values(stations[0], [sample(0, 1.0), signed])
    rows = await pool.fetch("SELECT value, signed_meter_value FROM meter_values ORDER BY value")
    assert [(r[0], r[1]) for r in rows] == [(1.0, None), (2.0, signed.signed_meter_value)]


async def test_bulk_commands_are_queued_notified_and_finished(
    pool: asyncpg.Pool, stations: list[str]
):
    woken: list[str] = []
    listener = await pool.acquire()

    def notified(*args: object) -> None:
        woken.append(str(args[3]))

    await listener.add_listener(commands.COMMAND_CHANNEL, notified)
    try:
        ids = await commands.submit_commands(pool, stations[:5], "Reset", {"type": "OnIdle"})
        for _ in range(50):
            if len(woken) == 5:
                break
            await asyncio.sleep(0.02)
    finally:
        await listener.remove_listener(commands.COMMAND_CHANNEL, notified)
        await pool.release(listener)
    assert sorted(int(w) for w in woken) == sorted(ids)
    rows = await pool.fetch("SELECT station_id FROM commands WHERE id = ANY($1) ORDER BY id", ids)
    assert [r[0] for r in rows] == stations[:5]
    writer = batch.GroupCommit(pool)
    await asyncio.gather(
        writer.finish_command(ids[0], "answered", response={"status": "Accepted"}),
        writer.finish_command(ids[1], "error", error_code="NotSupported", error_description="no"))
    first = await commands.get_result(pool, ids[0])
    second = await commands.get_result(pool, ids[1])
    assert first.status == "answered" and first.response == {"status": "Accepted"}
    assert second.status == "error" and second.error_code == "NotSupported"
    assert await commands.get_result(pool, ids[2]) is None
    with pytest.raises(ValueError):
        await writer.finish_command(ids[2], "pending")


async def test_writes_fail_with_the_pools_error_when_no_connection_can_be_had(
    migrated_url: str, stations: list[str]
):
    closed = await asyncpg.create_pool(migrated_url, min_size=1, max_size=1)
    await closed.close()
    writer = batch.GroupCommit(closed)
    results = await asyncio.wait_for(asyncio.gather(
        writer.meter_values(stations[0], [sample(0, 1.0)]), writer.heartbeat(stations[1]),
        return_exceptions=True), 10)
    assert all(isinstance(r, asyncpg.InterfaceError) for r in results), results
    assert not writer._queue


async def test_writes_land_after_the_writers_connection_is_killed(
    migrated_url: str, pool: asyncpg.Pool, stations: list[str]
):
    own = await open_pool(migrated_url, min_size=1, max_size=1, apply_migrations=False,
                          application_name="writer-under-test")
    try:
        writer = batch.GroupCommit(own)
        await writer.meter_values(stations[0], [sample(0, 1.0)])
        killed = await pool.fetchval(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
            " WHERE application_name = 'writer-under-test'")
        assert killed == 1
        await asyncio.wait_for(asyncio.gather(
            writer.meter_values(stations[0], [sample(1, 2.0)]),
            writer.transaction_event(stations[1], event(0, "Started"), [])), 30)
        assert await pool.fetchval("SELECT count(*) FROM meter_values") == 2
        assert await pool.fetchval("SELECT count(*) FROM transactions") == 1
    finally:
        await own.close()


async def test_infinite_and_tiny_values_huge_payload_integers_and_microseconds_are_kept(
    pool: asyncpg.Pool, stations: list[str]
):
    station = stations[0]
    at = datetime(2026, 6, 1, 16, 0, 0, 250001, tzinfo=UTC)

    def sample(value: float, measurand: str) -> MeterSample:
        return MeterSample(1, "tx-j", at, measurand, None, "Outlet", "Wh", "Sample.Periodic",
                           value)

    writer = batch.GroupCommit(pool)
    event = TxEvent(transaction_id="tx-j", seq_no=0, event_type="Started", timestamp=at,
                    trigger_reason="CablePluggedIn", evse_id=1,
                    payload={"customData": {"vendorId": "x", "counter": 2**70}})
    assert await writer.transaction_event(
        station, event, [sample(math.inf, "Energy.Active.Import.Register"),
                         sample(5e-324, "Energy.Active.Export.Register")])
    await writer.meter_values(station, [sample(0.1, "Power.Active.Import")])
    values = {r["measurand"]: r["value"] for r in await pool.fetch(
        "SELECT measurand, value FROM meter_values WHERE station_id = $1", station)}
    assert values == {"Energy.Active.Import.Register": math.inf,
                      "Energy.Active.Export.Register": 5e-324, "Power.Active.Import": 0.1}
    stored = await pool.fetchrow(
        "SELECT timestamp, payload FROM transaction_events WHERE station_id = $1", station)
    assert stored["timestamp"] == at
    assert stored["payload"]["customData"]["counter"] == 2**70
    tx = await transactions.get_transaction(pool, "tx-j", station_id=station)
    assert tx.energy_import_start == math.inf and tx.energy_export_start == 5e-324


def _tx_sample(minutes: int, value: float, measurand: str = "Energy.Active.Import.Register",
               evse_id: int | None = None, tx: str = "tx-u") -> MeterSample:
    return MeterSample(evse_id, tx, T0 + timedelta(minutes=minutes), measurand, None, "Outlet",
                       "Wh", "Sample.Periodic", value)


def _update(seq: int, minute: int, **kw) -> TxEvent:
    return TxEvent(transaction_id="tx-u", seq_no=seq, event_type="Updated",
                   timestamp=T0 + timedelta(minutes=minute), trigger_reason="MeterValuePeriodic",
                   **kw)


async def _periodic_traffic(writer: batch.GroupCommit, station: str, *, long_way: bool) -> list:
    """A transaction's life as field firmware sends it, each step with MeterValues and
    Heartbeats of the same station in the same batch; ``long_way``: the writer forgets its
    open transactions before each step (every batch then takes the long way)."""
    steps = [
        [writer.transaction_event(station, TxEvent(
            transaction_id="tx-u", seq_no=0, event_type="Started", timestamp=T0,
            trigger_reason="CablePluggedIn", evse_id=2, connector_id=1,
            charging_state="EVConnected"), [_tx_sample(0, 100.0, evse_id=2)])],
        # Updated events carry no EVSE, nor do their samples (the transaction's is used)
        [writer.transaction_event(station, _update(1, 1, charging_state="Charging"),
                                  [_tx_sample(1, 150.0),
                                   _tx_sample(1, 7.5, "Power.Active.Import")]),
         writer.meter_values(station, [sample(1, 42.0, evse_id=2, measurand="SoC")]),
         writer.heartbeat(station)],
        # the same event again (a lost answer): stored once, answered False
        [writer.transaction_event(station, _update(1, 1, charging_state="Charging"),
                                  [_tx_sample(1, 150.0),
                                   _tx_sample(1, 7.5, "Power.Active.Import")])],
        # seqNo 1 reused with other content; then an older event arriving late (offline)
        [writer.transaction_event(station, _update(1, 3), [_tx_sample(3, 300.0)])],
        [writer.transaction_event(station, _update(2, 2, offline=True,
                                                   charging_state="SuspendedEV"),
                                  [_tx_sample(2, 200.0)]),
         writer.meter_values(station, [sample(2, 43.0, evse_id=2, measurand="SoC")])],
        [writer.transaction_event(station, _update(4, 4, charging_state="Charging"),
                                  [_tx_sample(4, 400.0),
                                   _tx_sample(4, 9.0, "Power.Active.Import")]),
         writer.heartbeat(station)],
    ]
    results = []
    for step in steps:
        if long_way:
            writer.open.clear()
        results.append(await asyncio.gather(*step))
    return results


async def test_periodic_updates_in_one_statement_store_what_the_long_way_stores(
    pool: asyncpg.Pool, stations: list[str]
):
    fast, slow = batch.GroupCommit(pool), batch.GroupCommit(pool)
    fast_results = await _periodic_traffic(fast, stations[0], long_way=False)
    slow_results = await _periodic_traffic(slow, stations[1], long_way=True)
    assert fast_results == slow_results
    assert fast_results[2] == [False] and fast_results[3] == [True]
    # every Updated batch after the Started went in one statement
    assert fast.update_batches == 5 and slow.update_batches == 0

    async def stored(station: str) -> dict[str, object]:
        return {
            "transaction": dict(await pool.fetchrow(
                "SELECT to_jsonb(t) - 'station_id' - 'created_at' - 'updated_at' AS row"
                " FROM transactions t WHERE station_id = $1", station)),
            "events": [dict(r) for r in await pool.fetch(
                "SELECT seq_no, digest, event_type, timestamp, offline, charging_state, evse_id"
                " FROM transaction_events WHERE station_id = $1 ORDER BY seq_no, timestamp",
                station)],
            "values": [tuple(r) for r in await pool.fetch(
                "SELECT timestamp, evse_id, transaction_id, measurand, value FROM meter_values"
                " WHERE station_id = $1 ORDER BY 1, 4, 3 NULLS FIRST", station)],
            "heartbeat": await pool.fetchval(
                "SELECT last_heartbeat_at IS NOT NULL FROM stations WHERE id = $1", station),
        }

    fast_stored, slow_stored = await stored(stations[0]), await stored(stations[1])
    assert fast_stored == slow_stored
    transaction = fast_stored["transaction"]["row"]
    assert transaction["seq_no_reused"] is True and transaction["last_seq_no"] == 4
    assert transaction["energy_import_end"] == 400.0 and transaction["evse_id"] == 2
    # the Updated events' samples took the transaction's EVSE
    assert {v[1] for v in fast_stored["values"]} == {2}
    assert len(fast_stored["values"]) == 9


async def test_updates_of_a_transaction_whose_row_is_gone_are_stored_the_long_way(
    pool: asyncpg.Pool, stations: list[str]
):
    writer = batch.GroupCommit(pool)
    assert await writer.transaction_event(stations[0], TxEvent(
        transaction_id="tx-u", seq_no=0, event_type="Started", timestamp=T0,
        trigger_reason="CablePluggedIn", evse_id=1), [])
    assert (stations[0], "tx-u") in writer.open
    await pool.execute("DELETE FROM transaction_events WHERE station_id = $1", stations[0])
    await pool.execute("DELETE FROM transactions WHERE station_id = $1", stations[0])
    # the one statement fails on its foreign key; the write is stored the long way
    assert await writer.transaction_event(stations[0], _update(1, 1), [_tx_sample(1, 5.0)])
    assert writer.update_batches == 0
    assert await pool.fetchval(
        "SELECT last_seq_no FROM transactions WHERE station_id = $1", stations[0]) == 1
    assert await pool.fetchval(
        "SELECT evse_id FROM meter_values WHERE station_id = $1", stations[0]) is None

"""Minutes read from the rollups and the samples written since the rollup job's watermark: an
event's M&V report from them equals the one from every raw sample, before and after the job
and after compaction, with late values; a register's rise across a minute boundary counts
once whichever form each side is in."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import asyncpg

from csms.grid.report import build_report
from csms.store import meter_data, meter_minutes
from csms.store.grid import events, fleet
from csms.store.grid.records import Program
from csms.store.metering import MeterSample, insert_meter_values

START = datetime(2026, 2, 3, 17, tzinfo=UTC)  # the event: one hour
NOW = START + timedelta(days=1)
IMP, EXP = "Energy.Active.Import.Register", "Energy.Active.Export.Register"


def sample(at: datetime, measurand: str, value: float, evse: int, tx: str | None,
           unit: str = "Wh") -> MeterSample:
    return MeterSample(evse_id=evse, transaction_id=tx, timestamp=at, measurand=measurand,
                       phase=None, location="Outlet", unit=unit, context="Sample.Periodic",
                       value=value)


def session(evse: int, tx: str, first: int, last: int, *, imported: float = 10_000.0,
            exported: float = 500.0) -> list[MeterSample]:
    """Samples every 20 s (at 7, 27 and 47 s past each minute) from minute ``first`` to
    ``last`` of the event: exporting at a varying rate during it, importing around it."""
    out = []
    for n in range(first * 3, last * 3):
        at = START + timedelta(seconds=20 * n + 7)
        minute = n // 3
        if 0 <= minute < 60:
            exported += round(30.0 + 11.3 * evse + (n % 7) * 4.1, 1)
        else:
            imported += round(9.1 + (n % 5) * 1.7, 1)
        out += [sample(at, IMP, round(imported, 1), evse, tx),
                sample(at, EXP, round(exported, 1), evse, tx),
                sample(at, "SoC", round(80.0 - n / 30, 2), evse, tx, "Percent"),
                sample(at, "Power.Active.Export", 4000.0 + 10 * (n % 9), evse, tx, "W")]
    return out


async def reports(pool: asyncpg.Pool, event_id: int) -> list[tuple[dict, dict]]:
    """(from minutes, from every sample) for 5-minute intervals and for 90-second ones (whose
    edges fall inside minutes)."""
    out = []
    for interval_s in (300.0, 90.0):
        kw = {"interval_s": interval_s, "now": NOW}
        out.append(((await build_report(pool, event_id, **kw)).to_dict(),
                    (await build_report(pool, event_id, raw=True, **kw)).to_dict()))
    return out


async def test_an_events_report_from_minutes_equals_the_raw_one_before_and_after_rollups_late_values_and_compaction(  # noqa: E501
        pool: asyncpg.Pool, station: str):
    await events.save_program(pool, Program("mv", baseline="meter-before-after",
                                            rate_per_kwh=0.5))
    event_id = await events.create_event(pool, "mv", START, START + timedelta(hours=1), 20.0)
    # TX-1 plugged in 90 minutes before the event, after another session on the same EVSE;
    # TX-2 plugged in during the baseline hour (at a second that is not a minute boundary)
    # and is still running
    txs = [("TX-0", 1, START - timedelta(minutes=95), START - timedelta(minutes=91, seconds=30)),
           ("TX-1", 1, START - timedelta(minutes=91, seconds=13), START + timedelta(minutes=80)),
           ("TX-2", 2, START - timedelta(minutes=31, seconds=50), None)]
    await pool.executemany(
        "INSERT INTO transactions (station_id, transaction_id, evse_id, started_at, ended_at)"
        " VALUES ($1, $2, $3, $4, $5)", [(station, *t) for t in txs])
    await fleet.save_event_evs(pool, event_id, [
        {"station_id": station, "evse_id": evse, "transaction_id": tx, "id_token": tx,
         "version": "2.0.1", "state": "in"} for tx, evse in (("TX-1", 1), ("TX-2", 2))])
    await insert_meter_values(pool, station, session(1, "TX-0", -95, -91, imported=9_000.0))
    await insert_meter_values(pool, station, session(1, "TX-1", -91, 80))
    # a reading at the very end of the event: the last SoC of the event
    await insert_meter_values(pool, station, [
        sample(START + timedelta(hours=1), "SoC", 1.5, 1, "TX-1", "Percent")])
    await insert_meter_values(pool, station, session(2, "TX-2", -31, 40))

    # nothing rolled up: every minute from the samples
    assert all(m.fresh for m in await meter_minutes.minutes(
        pool, [station], START - timedelta(hours=2), NOW))
    before_job = await reports(pool, event_id)
    for minutes_report, raw_report in before_job:
        assert minutes_report == raw_report
    assert before_job[0][0]["energy_kwh"] > 0 and before_job[0][0]["baseline_kw"] != 0
    assert before_job[0][0]["drivers"][0]["soc_start"] is not None
    assert before_job[0][0]["drivers"][0]["soc_end"] == 1.5

    assert await meter_data.roll_up(pool) > 0
    assert not any(m.fresh for m in await meter_minutes.minutes(
        pool, [station], START - timedelta(hours=2), NOW))
    assert await reports(pool, event_id) == before_job

    # late and out of order, after the watermark: a burst inside a rolled-up minute of the
    # event, and TX-2's offline-queued minutes after it had stopped sending
    async with pool.acquire() as conn:
        between = await conn.fetch(
            "SELECT timestamp, measurand, value FROM meter_values WHERE transaction_id = 'TX-2'"
            " AND measurand = $1 AND timestamp BETWEEN $2 AND $3 ORDER BY timestamp", EXP,
            START + timedelta(minutes=20, seconds=27), START + timedelta(minutes=20, seconds=47))
    late = [sample(START + timedelta(minutes=20, seconds=37), EXP, between[0][2] + 150.0, 2,
                   "TX-2")]
    late += session(2, "TX-2", 40, 58, exported=between[-1][2] + 4_000.0)
    await insert_meter_values(pool, station, late)
    with_late = await reports(pool, event_id)
    for minutes_report, raw_report in with_late:
        assert minutes_report == raw_report
    assert with_late[0][0]["energy_kwh"] > before_job[0][0]["energy_kwh"]
    assert {m.fresh for m in await meter_minutes.minutes(
        pool, [station], START, START + timedelta(hours=1))} == {True, False}

    assert await meter_data.roll_up(pool) > 0
    assert await reports(pool, event_id) == with_late
    await meter_data.ensure_partitions(pool, START.date(), days_ahead=0)
    (part,) = [p for p in await meter_data.partitions(pool, "meter_raw")
               if p.start == START.date()]
    await meter_data.compact_day(pool, part)
    assert await pool.fetchval("SELECT count(*) FROM meter_raw") == 0
    assert await reports(pool, event_id) == with_late


async def test_a_rise_across_the_watermark_and_a_minute_boundary_counts_once(
        pool: asyncpg.Pool, station: str):
    """Registers read at :50 of each minute, half rolled up: the minutes' energy adds up to
    the register's rise whichever side of the watermark each minute is on, also when a late
    reading lands just before the boundary, and the sum does not change once all is rolled
    up; hourly buckets hold the same."""
    def reading(minute: int, second: int = 50) -> MeterSample:
        return sample(START + timedelta(minutes=minute, seconds=second), IMP,
                      1000.0 + 100 * minute + second, 1, None)

    await insert_meter_values(pool, station, [reading(m) for m in range(0, 10)])
    await meter_data.roll_up(pool)
    await insert_meter_values(pool, station, [reading(m) for m in range(10, 20)])
    # late: readings of rolled-up minutes 3 and 9 after their last ones, another of the
    # not yet rolled-up minute 10 before its first
    await insert_meter_values(pool, station, [reading(3, 55), reading(9, 55), reading(10, 5)])

    async def energy(since: datetime, until: datetime) -> tuple[float, set[bool]]:
        found = await meter_minutes.minutes(pool, [station], since, until)
        return sum(m.import_wh or 0.0 for m in found), {m.fresh for m in found}

    # from minute 5 (rolled up) to minute 15 (not): the rise from the last reading of
    # minute 4 to the last of minute 14
    rise = (1000.0 + 1400 + 50) - (1000.0 + 400 + 50)
    assert await energy(START + timedelta(minutes=5), START + timedelta(minutes=15)) == (
        rise, {False, True})
    # minute 4 alone (rolled up): from minute 3's late last reading (3:55) to 4:50
    assert (await energy(START + timedelta(minutes=4), START + timedelta(minutes=5))) == (
        (1000.0 + 400 + 50) - (1000.0 + 300 + 55), {False})
    # minute 10 alone: from minute 9's late last reading (9:55) to 10:50
    assert (await energy(START + timedelta(minutes=10), START + timedelta(minutes=11)))[0] \
        == (1000.0 + 1000 + 50) - (1000.0 + 900 + 55)
    whole = (1000.0 + 1900 + 50) - (1000.0 + 50)  # minute 0 has no reading before it
    assert (await energy(START, START + timedelta(hours=1)))[0] == whole
    await meter_data.roll_up(pool)
    assert await energy(START, START + timedelta(hours=1)) == (whole, {False})
    [hour] = await meter_minutes.buckets(pool, [station], START, START + timedelta(hours=1),
                                         bucket=timedelta(hours=1))
    assert (hour.evse_id, hour.start, hour.minutes, hour.samples, hour.import_wh) == (
        1, START, 20, 23, whole)


async def test_a_running_transactions_latest_soc_is_its_latest_sample(
        pool: asyncpg.Pool, station: str):
    """The fleet's latest SoC (read from the latest rolled-up minute on): a reading after
    the job's watermark counts, a late older one does not replace it, and another session's
    reading in the rolled-up minute the transaction started in is not taken for its own."""
    started = START + timedelta(minutes=5, seconds=30)
    await pool.executemany(
        "INSERT INTO transactions (station_id, transaction_id, evse_id, started_at, ended_at)"
        " VALUES ($1, $2, 1, $3, $4)",
        [(station, "TX-0", START, START + timedelta(minutes=5, seconds=10)),
         (station, "TX-1", started, None)])

    def soc(at: datetime, value: float, tx: str) -> MeterSample:
        return sample(at, "SoC", value, 1, tx, "Percent")

    async def latest() -> float | None:
        [found] = await fleet.plugged_in(pool)
        return found.soc_percent

    await insert_meter_values(pool, station, [
        soc(START + timedelta(minutes=5, seconds=5), 90.0, "TX-0"),
        soc(started + timedelta(seconds=10), 41.0, "TX-1"),
        soc(START + timedelta(minutes=5, seconds=50), 99.0, "TX-0")])  # queued, after its end
    await meter_data.roll_up(pool)
    assert await latest() == 41.0
    await insert_meter_values(pool, station, [soc(START + timedelta(minutes=9), 45.5, "TX-1")])
    assert await latest() == 45.5
    await meter_data.roll_up(pool)
    await insert_meter_values(pool, station, [soc(START + timedelta(minutes=7), 43.0, "TX-1")])
    assert await latest() == 45.5

"""Meter data at scale: partitions across a month boundary under concurrent inserts, compaction
that gives every sample back bit for bit, rollups that match the raw values after late and
out-of-order values, and retention that drops only what it should."""

from __future__ import annotations

import asyncio
import math
import struct
from datetime import UTC, date, datetime, timedelta

import asyncpg

from csms.store import meter_data
from csms.store.metering import MeterSample, insert_meter_values, meter_values

T0 = datetime(2026, 1, 31, 23, 58, tzinfo=UTC)


def sample(at: datetime, measurand: str, value: float, *, evse: int | None = 1,
           tx: str | None = "TX", unit: str | None = "Wh", **kw) -> MeterSample:
    return MeterSample(evse_id=evse, transaction_id=tx, timestamp=at, measurand=measurand,
                       phase=kw.pop("phase", None), location="Outlet", unit=unit,
                       context=kw.pop("context", "Sample.Periodic"), value=value, **kw)


def bits(rows) -> list[tuple]:
    """Every field of each row, values as their IEEE bits."""
    return [(r.station_id, r.evse_id, r.transaction_id, r.timestamp, r.measurand, r.phase,
             r.location, r.unit, r.context, struct.pack("<d", r.value), r.signed_meter_value,
             r.sent_unit, r.sent_multiplier, r.unit_valid) for r in rows]


async def raw_partition_of(pool: asyncpg.Pool, at: datetime) -> str:
    return await pool.fetchval(
        "SELECT tableoid::regclass::text FROM meter_raw WHERE timestamp = $1", at)


async def test_partitions_across_a_month_boundary_under_concurrent_inserts(
        pool: asyncpg.Pool, station: str):
    """Values written while partitions are created (the default partition's rows moved into
    them) are all kept, each in its day's partition; a second run has nothing to do."""
    times = [T0 + timedelta(seconds=20 * i) for i in range(24)]  # 23:58 to 00:05:40

    async def writer(offset: int) -> None:
        for at in times[offset::3]:
            await insert_meter_values(pool, station, [
                sample(at, "Energy.Active.Import.Register", 1000.0 + at.second),
                sample(at, "SoC", 50.0, unit="Percent")])
            await asyncio.sleep(0)

    created, *_ = await asyncio.gather(
        meter_data.ensure_partitions(pool, date(2026, 1, 30), days_ahead=2),
        writer(0), writer(1), writer(2))
    assert "meter_raw_p20260131" in created and "meter_raw_p20260201" in created
    assert "meter_rollups_p202601" in created and "meter_rollups_p202602" in created
    await meter_data.ensure_partitions(pool, date(2026, 1, 30), days_ahead=2)
    assert await pool.fetchval("SELECT count(*) FROM meter_raw_default") == 0
    assert await raw_partition_of(pool, times[0]) == "meter_raw_p20260131"
    assert await raw_partition_of(pool, times[-1]) == "meter_raw_p20260201"
    stored = await meter_values(pool, station_id=station)
    assert sorted({r.timestamp for r in stored}) == times
    assert len(stored) == 2 * len(times)
    # a far-off timestamp lands in the default partition, then gets a partition of its own
    late = datetime(2030, 5, 1, 12, tzinfo=UTC)
    await insert_meter_values(pool, station, [sample(late, "SoC", 1.0, unit="Percent")])
    assert await raw_partition_of(pool, late) == "meter_raw_default"
    assert "meter_raw_p20300501" in await meter_data.ensure_partitions(
        pool, date(2026, 1, 30), days_ahead=2)
    assert await raw_partition_of(pool, late) == "meter_raw_p20300501"


AWKWARD = [0.1 + 0.2, -0.0, 0.0, 5e-324, 2.2250738585072014e-308, 1.7976931348623157e308,
           -123456.789, 230.1, 7400.0, 12345678.0, 1 / 3, math.pi, 9007199254740993.0,
           -1e-7, 42.0]


async def test_a_compacted_day_reads_back_bit_for_bit(pool: asyncpg.Pool, station: str):
    day = datetime(2026, 3, 10, tzinfo=UTC)
    samples = []
    for i, value in enumerate(AWKWARD):
        at = day + timedelta(hours=i % 3, minutes=i, microseconds=7 * i)
        samples.append(sample(at, "Energy.Active.Import.Register", 1000.0 + i))
        samples.append(sample(at, "Power.Active.Import", value, unit="W"))
        samples.append(sample(at, "Voltage", value, unit="V", phase="L1-N", evse=None, tx=None))
    # same time and kind, another value; a signed value; an invalid unit; a repeat
    samples.append(sample(day, "Power.Active.Import", 1.5, unit="W"))
    samples.append(sample(day + timedelta(hours=1), "Energy.Active.Export.Register", 5.0,
                          signed_meter_value={"signedMeterData": "abc", "encodingMethod": "x"}))
    samples.append(sample(day, "SoC", 3.0, unit="kWh", sent_unit="kWh", unit_valid=False))
    samples.append(samples[0])
    await insert_meter_values(pool, station, samples)
    await meter_data.ensure_partitions(pool, date(2026, 3, 10), days_ahead=0)
    before = bits(await meter_values(pool, station_id=station))
    assert len(before) == len(samples) - 1
    (part,) = [p for p in await meter_data.partitions(pool, "meter_raw")
               if p.start == date(2026, 3, 10)]
    assert await meter_data.compact_day(pool, part) == 6  # 3 hours x (EVSE 1, no EVSE)
    assert await pool.fetchval("SELECT count(*) FROM meter_raw") == 0
    after = bits(await meter_values(pool, station_id=station))
    assert after == before
    # the exported order is kept across forms, and a time window cuts inside an hour
    hour = day + timedelta(hours=1)
    window = await meter_values(pool, station_id=station, since=hour,
                                until=hour + timedelta(minutes=5))
    assert {r.timestamp for r in window} == {
        hour, hour + timedelta(minutes=1, microseconds=7),
        hour + timedelta(minutes=4, microseconds=28)}
    # a late value for the compacted day, and a repeat of a compacted one, merge into it
    await insert_meter_values(pool, station, [
        sample(day + timedelta(minutes=59), "SoC", 77.0, unit="Percent"), samples[0]])
    await meter_data.ensure_partitions(pool, date(2026, 3, 10), days_ahead=0)
    (part,) = [p for p in await meter_data.partitions(pool, "meter_raw")
               if p.start == date(2026, 3, 10)]
    await meter_data.compact_day(pool, part)
    merged = await meter_values(pool, station_id=station)
    assert len(merged) == len(before) + 1
    assert [r for r in merged if r.measurand == "SoC" and r.value == 77.0]


def expected_rollups(rows) -> dict[tuple, tuple]:
    """Per (station, EVSE, minute): count, last registers, mean powers, last SoC, computed
    from the sampled values (valid and phase-less for the figures)."""
    out: dict[tuple, dict] = {}
    for r in sorted(rows, key=lambda r: r.timestamp):
        key = (r.station_id, -1 if r.evse_id is None else r.evse_id,
               r.timestamp.replace(second=0, microsecond=0))
        m = out.setdefault(key, {"n": 0, "imp": None, "exp": None, "pi": [], "soc": None})
        m["n"] += 1
        if not r.unit_valid or r.phase is not None:
            continue
        if r.measurand == "Energy.Active.Import.Register":
            m["imp"] = r.value
        elif r.measurand == "Energy.Active.Export.Register":
            m["exp"] = r.value
        elif r.measurand == "Power.Active.Import":
            m["pi"].append(r.value)
        elif r.measurand == "SoC":
            m["soc"] = r.value
    return {k: (m["n"], m["imp"], m["exp"], sum(m["pi"]) / len(m["pi"]) if m["pi"] else None,
                m["soc"]) for k, m in out.items()}


async def stored_rollups(pool: asyncpg.Pool) -> dict[tuple, tuple]:
    rows = await pool.fetch("SELECT station_id, evse_id, minute, samples, import_register,"
                            " export_register, import_w, soc FROM meter_rollups")
    return {(r[0], r[1], r[2]): (r[3], r[4], r[5], r[6], r[7]) for r in rows}


async def test_rollups_match_the_raw_values_after_out_of_order_and_late_values(
        pool: asyncpg.Pool, station: str):
    start = datetime(2026, 4, 1, 10, tzinfo=UTC)
    register = {m: 1000.0 + 100 * m for m in range(10)}
    first = [(m, s) for m in (3, 0, 5, 1) for s in (50, 10)]  # out of order
    await insert_meter_values(pool, station, [
        x for m, s in first for x in (
            sample(start + timedelta(minutes=m, seconds=s), "Energy.Active.Import.Register",
                   register[m] + s),
            sample(start + timedelta(minutes=m, seconds=s), "Power.Active.Import", 7000.0 + s,
                   unit="W"),
            sample(start + timedelta(minutes=m, seconds=s), "Current.Import", 16.0, unit="A",
                   phase="L1"))])
    assert await meter_data.roll_up(pool) == 4
    # late: an offline-queued minute 2 (between rolled-up minutes), and more of minute 3
    await insert_meter_values(pool, station, [
        sample(start + timedelta(minutes=2, seconds=30), "Energy.Active.Import.Register",
               register[2] + 30),
        sample(start + timedelta(minutes=2, seconds=30), "SoC", 61.0, unit="Percent"),
        sample(start + timedelta(minutes=3, seconds=55), "Power.Active.Import", 6000.0,
               unit="W"),
        sample(start + timedelta(minutes=4), "Energy.Active.Export.Register", 3.0, evse=None,
               tx=None)])
    # minutes 2, 3 and 4 (written), and 5 (its delta starts from minute 3)
    assert await meter_data.roll_up(pool) == 4
    assert await meter_data.roll_up(pool) == 0  # nothing new: nothing recomputed
    assert await stored_rollups(pool) == expected_rollups(
        await meter_values(pool, station_id=station))
    deltas = dict(await pool.fetch(
        "SELECT minute, import_wh FROM meter_rollups WHERE evse_id = 1 ORDER BY minute"))
    at = {m: start + timedelta(minutes=m) for m in range(6)}
    assert deltas[at[0]] is None  # no register before it
    assert deltas[at[1]] == (register[1] + 50) - (register[0] + 50)
    assert deltas[at[2]] == (register[2] + 30) - (register[1] + 50)
    assert deltas[at[3]] == (register[3] + 50) - (register[2] + 30)
    assert deltas[at[5]] == (register[5] + 50) - (register[3] + 50)


async def test_retention_drops_only_what_it_should(pool: asyncpg.Pool, station: str):
    today = date(2026, 6, 15)
    days = [date(2026, 3, 20), date(2026, 5, 31), date(2026, 6, 11), date(2026, 6, 14)]
    for d in days:
        at = datetime(d.year, d.month, d.day, 12, tzinfo=UTC)
        await insert_meter_values(pool, station, [
            sample(at, "Energy.Active.Import.Register", 5.0),
            sample(at, "SoC", 40.0, unit="Percent")])
    await meter_data.set_retention(pool, meter_data.Retention(3, 45, 60))
    report = await meter_data.maintain(pool, today)
    # raw 3 days: 11 June and 31 May compacted; March is past the compact retention
    assert sorted(report.compacted) == ["meter_raw_p20260531", "meter_raw_p20260611"]
    assert "meter_raw_p20260320" in report.dropped
    assert "meter_rollups_p202603" in report.dropped  # March ended 77 days before
    assert not [p for p in report.dropped if p.startswith("meter_compact")]
    kept = await meter_values(pool, station_id=station)
    assert sorted({r.timestamp.date() for r in kept}) == days[1:]
    assert await pool.fetchval("SELECT count(*) FROM meter_raw") == 1  # 14 June stays raw
    rollup_days = {r[0].date() for r in await pool.fetch("SELECT minute FROM meter_rollups")}
    assert rollup_days == set(days[1:])
    # two months on: May's compacted month goes, June's is kept
    later = await meter_data.maintain(pool, date(2026, 7, 20))
    assert "meter_compact_p202605" in later.dropped
    assert sorted({r.timestamp.date() for r in await meter_values(pool, station_id=station)}) \
        == days[2:]


async def test_an_events_report_is_the_same_after_its_data_is_compacted(
        pool: asyncpg.Pool, station: str):
    from csms.grid.report import build_report
    from csms.store.grid import events, fleet
    from csms.store.grid.records import Program

    start = datetime(2026, 2, 3, 17, tzinfo=UTC)
    await events.save_program(pool, Program("mv", baseline="meter-before-after",
                                            rate_per_kwh=0.5))
    event_id = await events.create_event(pool, "mv", start, start + timedelta(hours=1), 20.0)
    await fleet.save_event_evs(pool, event_id, [
        {"station_id": station, "evse_id": evse, "transaction_id": f"TX-{evse}",
         "id_token": f"tok-{evse}", "version": "2.0.1", "state": "in"} for evse in (1, 2)])
    samples = []
    for evse in (1, 2):
        imported, exported = 10_000.0, 500.0
        for minute in range(-70, 75, 5):  # baseline hour before, the event, after
            at = start + timedelta(minutes=minute, seconds=3 * evse)
            if 0 <= minute < 60:
                exported += 830.5 * evse / 12
            else:
                imported += 111.1 / 12
            samples += [
                sample(at, "Energy.Active.Import.Register", round(imported, 1), evse=evse,
                       tx=f"TX-{evse}"),
                sample(at, "Energy.Active.Export.Register", round(exported, 1), evse=evse,
                       tx=f"TX-{evse}"),
                sample(at, "SoC", 80.0 - minute / 10, unit="Percent", evse=evse,
                       tx=f"TX-{evse}")]
    await insert_meter_values(pool, station, samples)
    await meter_data.ensure_partitions(pool, start.date(), days_ahead=0)
    now = start + timedelta(days=1)
    before = (await build_report(pool, event_id, now=now)).to_dict()
    assert before["energy_kwh"] > 0 and before["drivers"][0]["soc_start"] is not None
    (part,) = [p for p in await meter_data.partitions(pool, "meter_raw")
               if p.start == start.date()]
    await meter_data.compact_day(pool, part)
    assert await pool.fetchval("SELECT count(*) FROM meter_raw") == 0
    assert (await build_report(pool, event_id, now=now)).to_dict() == before

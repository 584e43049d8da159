"""Benchmark: a month of a fleet's meter data, raw and compacted.

Loads a synthetic month for ``--stations`` stations (8 measurands each minute, one EVSE, a
charging session a day with a transaction id of 36 characters, registers in 0.1 Wh, power in
W, voltage in 0.1 V, ...) with COPY into ``meter_raw``, in the codes and rows the ingest path
writes (:class:`csms.store.metering.MeterCodes`), then prints:

- load rate (sampled values/s through COPY) and bytes per sample raw, indexes included;
- the per-minute rollup of one day's rows and of the month's
  (:func:`csms.store.meter_data.roll_up`; the sessions are stored as transactions);
- dropping one day's raw partition;
- the M&V report of a one-hour event of the month (all stations exporting) read from the
  per-minute rollups and from every raw sample (same report checked), a 30-day energy summary
  of every station from the rollups and from the raw registers (largest difference printed),
  with the ratios, and a 30-day export of one station, on raw data;
- compaction of every day (:func:`csms.store.meter_data.compact_day`), bytes per sample
  compacted, and the report (both ways) and export again on compacted data.

Reproduce (figures in docs/performance.md)::

    python tests/benchmarks/bench_meter_data.py --stations 200 --days 30

Smoke size: ``--stations 5 --days 2``. ``--event-sample-s 5``: the event hour sampled every
5 s, as stations are asked to during grid events (docs/grid.md).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import asyncpg

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from csms.grid.report import build_report
from csms.store import meter_data, meter_minutes
from csms.store.db import open_pool
from csms.store.grid import events, fleet
from csms.store.grid.records import Program
from csms.store.metering import MeterCodes, MeterSample, stream_meter_values

MEASURANDS = [  # (measurand, unit, phase)
    ("Energy.Active.Import.Register", "Wh", None),
    ("Energy.Active.Export.Register", "Wh", None),
    ("Power.Active.Import", "W", None),
    ("Power.Active.Export", "W", None),
    ("Current.Import", "A", None),
    ("Voltage", "V", "L1-N"),
    ("SoC", "Percent", None),
    ("Frequency", "Hz", None),
]
EVENT_HOUR = 17  # the event: 17:00-18:00 UTC on the middle day, every station exporting


async def kind_set(pool: asyncpg.Pool) -> int:
    codes = MeterCodes()
    at = datetime(2000, 1, 1, tzinfo=UTC)
    samples = [("S", MeterSample(1, None, at, m, p, "Outlet", u, "Sample.Periodic", 0.0))
               for m, u, p in MEASURANDS]
    async with pool.acquire() as conn:
        await codes.prepare(conn, samples)
    (kinds,) = [tuple(codes.kinds[(m, p, "Outlet", u, "Sample.Periodic", None, None, True)]
                      for m, u, p in MEASURANDS)]
    return codes.sets[kinds]


class Station:
    """One station's meter, minute by minute."""

    def __init__(self, index: int, rng: random.Random):
        self.id = f"CS-{index:05d}"
        self.rng = rng
        self.session_start = (12 + index % 4) * 60  # minute of the day
        self.imported = rng.uniform(1e5, 1e7)
        self.exported = rng.uniform(0, 1e6)
        self.soc = 30.0
        self.tx: str | None = None
        self.sessions: list[list] = []  # [transaction, day, start minute, (day, end minute)]

    def registers(self) -> list[float]:
        """Import and export registers now, as sent."""
        return [round(self.imported, 1), round(self.exported, 1)]

    def minute(self, day: int, minute: int, event: bool) -> tuple[str | None, list[float]]:
        rng = self.rng
        in_session = self.session_start <= minute < self.session_start + 600
        if in_session and self.tx is None:
            self.tx = str(uuid.UUID(int=rng.getrandbits(128)))
            self.soc = rng.uniform(20, 50)
            self.sessions.append([self.tx, day, minute, None])
        elif not in_session and self.tx is not None:
            self.sessions[-1][3] = (day, minute)
            self.tx = None
        p_import = p_export = 0.0
        if in_session and event:
            p_export = float(round(7000 + rng.uniform(-40, 40)))
        elif in_session and self.soc < 95:
            p_import = float(round(7400 + rng.uniform(-60, 60)))
        self.imported += p_import / 60
        self.exported += p_export / 60
        self.soc = min(100.0, max(5.0, self.soc + (p_import - p_export) / 60 / 600))
        volts = round(230 + rng.uniform(-3, 3), 1)
        amps = round((p_import + p_export) / volts, 2)
        return self.tx, [round(self.imported, 1), round(self.exported, 1), p_import, p_export,
                         amps, volts, round(self.soc), round(50 + rng.uniform(-0.05, 0.05), 3)]


async def load(pool: asyncpg.Pool, stations: list[Station], first: datetime, days: int,
               set_id: int, event_day: int, event_step_s: int = 60) -> tuple[int, float]:
    """COPY ``days`` days of every station into meter_raw; (samples, seconds)."""
    columns = ["timestamp", "received_at", "evse_id", "kind_set", "station_id",
               "transaction_id", "vals"]
    samples = 0
    took = 0.0
    for day in range(days):
        records = []
        base = first + timedelta(days=day)
        for minute in range(1440):
            at = base + timedelta(minutes=minute)
            received = at + timedelta(seconds=2)
            event = day == event_day and minute // 60 == EVENT_HOUR
            for st in stations:
                before = st.registers()
                tx, vals = st.minute(day, minute, event)
                if event and event_step_s < 60:
                    # during the event a sample every event_step_s: the registers rising
                    # evenly over the minute, the rest as at its end
                    n = 60 // event_step_s
                    for j in range(n):
                        f = (j + 1) / n
                        part = [round(b + f * (v - b), 1) for b, v in zip(before, vals[:2],
                                                                          strict=True)]
                        records.append((at + timedelta(seconds=j * event_step_s), received, 1,
                                        set_id, st.id, tx, part + vals[2:]))
                    continue
                records.append((at, received, 1, set_id, st.id, tx, vals))
        samples += len(records) * len(MEASURANDS)
        started = time.perf_counter()
        async with pool.acquire() as conn:
            await conn.copy_records_to_table("meter_raw", records=records, columns=columns)
        took += time.perf_counter() - started
        print(f"  day {day + 1}/{days} loaded", file=sys.stderr)
    return samples, took


async def table_bytes(pool: asyncpg.Pool, parent: str) -> int:
    return await pool.fetchval(
        "SELECT coalesce(sum(pg_total_relation_size(inhrelid)), 0) FROM pg_inherits"
        " WHERE inhparent = $1::regclass", parent)


async def export_station(pool: asyncpg.Pool, station: str, first: datetime,
                         days: int) -> tuple[int, float]:
    started = time.perf_counter()
    count = 0
    async with pool.acquire() as conn:
        async for _row in stream_meter_values(conn, station_id=station, since=first,
                                              until=first + timedelta(days=days)):
            count += 1
    return count, time.perf_counter() - started


async def timed_report(pool: asyncpg.Pool, event_id: int, raw: bool = False
                       ) -> tuple[dict, float]:
    started = time.perf_counter()
    report = await build_report(pool, event_id, now=datetime.now(UTC), raw=raw)
    return report.to_dict(), time.perf_counter() - started


async def save_transactions(pool: asyncpg.Pool, stations: list[Station],
                            first: datetime) -> None:
    """The sessions as transactions (their EVSE and times: what per-transaction minutes
    read)."""
    rows = []
    for st in stations:
        for tx, day, start, ended in st.sessions:
            at = first + timedelta(days=day, minutes=start)
            end = None if ended is None else first + timedelta(days=ended[0], minutes=ended[1])
            rows.append((st.id, tx, 1, at, end))
    await pool.executemany(
        "INSERT INTO transactions (station_id, transaction_id, evse_id, started_at, ended_at)"
        " VALUES ($1, $2, $3, $4, $5)", rows)


async def energy_summary_raw(pool: asyncpg.Pool, since: datetime, until: datetime
                             ) -> tuple[dict[str, tuple[float, float]], float]:
    """Each station's energy imported and exported over [since, until) from every sample
    (the registers' rise: monotonic registers, no reading before ``since``)."""
    started = time.perf_counter()
    rows = await pool.fetch(
        "SELECT station_id, measurand, max(value) - min(value)"
        "  FROM meter_values_between($1, $2)"
        " WHERE measurand IN ('Energy.Active.Import.Register', 'Energy.Active.Export.Register')"
        "   AND phase IS NULL AND unit_valid AND evse_id <> 0 GROUP BY 1, 2", since, until)
    out: dict[str, list[float]] = {}
    for station, measurand, wh in rows:
        out.setdefault(station, [0.0, 0.0])[measurand.endswith("Export.Register")] = wh
    return {k: (v[0], v[1]) for k, v in out.items()}, time.perf_counter() - started


async def energy_summary_minutes(pool: asyncpg.Pool, stations: list[Station], since: datetime,
                                 until: datetime
                                 ) -> tuple[dict[str, tuple[float, float]], float]:
    """The same from the per-minute rollups (one bucket per station)."""
    started = time.perf_counter()
    found = await meter_minutes.buckets(pool, [s.id for s in stations], since, until,
                                        per_evse=False)
    return ({b.station_id: (b.import_wh, b.export_wh) for b in found},
            time.perf_counter() - started)


def largest_difference(a: dict[str, tuple[float, float]],
                       b: dict[str, tuple[float, float]]) -> float:
    """The largest difference (Wh) between two summaries, over stations and directions."""
    return max((abs(x - y) for k in a.keys() | b.keys()
                for x, y in zip(a.get(k, (0.0, 0.0)), b.get(k, (0.0, 0.0)), strict=True)),
               default=0.0)


def first_difference(a: object, b: object, path: str = "") -> str | None:
    """Where two reports first differ (None: nowhere)."""
    if isinstance(a, dict) and isinstance(b, dict):
        for k in a.keys() | b.keys():
            found = first_difference(a.get(k), b.get(k), f"{path}.{k}")
            if found:
                return found
        return None
    if isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            found = first_difference(x, y, f"{path}[{i}]")
            if found:
                return found
        return None
    return None if a == b else f"{path}: {a!r} != {b!r}"


def ratio(slow: float, fast: float) -> float | None:
    return round(slow / fast, 1) if fast > 0 else None


async def run(opts: argparse.Namespace) -> dict:
    out: dict = {"stations": opts.stations, "days": opts.days,
                 "event_sample_s": opts.event_sample_s}
    with tempfile.TemporaryDirectory(prefix="csms-bench-meter-") as tmp:
        if opts.database_url:
            server_url = opts.database_url
        else:
            from csms.store.embedded import start_embedded
            server_url = start_embedded(Path(tmp), cleanup_mode="delete")
        name = f"bench_meter_{uuid.uuid4().hex[:8]}"
        parts = urlsplit(server_url)
        url = urlunsplit((parts.scheme, parts.netloc, "/" + name, parts.query, parts.fragment))
        admin = await asyncpg.connect(server_url)
        await admin.execute(f"CREATE DATABASE {name}")
        await admin.close()
        pool = await open_pool(url, max_size=2)
        try:
            await measure(pool, opts, out)
        finally:
            await pool.close()
            admin = await asyncpg.connect(server_url)
            await admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
            await admin.close()
    return out


async def measure(pool: asyncpg.Pool, opts: argparse.Namespace, out: dict) -> None:
    rng = random.Random(16)
    today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    # the month ends the day before yesterday; one more day before it, to be dropped
    first = today - timedelta(days=opts.days + 2)
    spare = first - timedelta(days=1)
    stations = [Station(i, rng) for i in range(opts.stations)]
    await pool.executemany("INSERT INTO stations (id, password_hash) VALUES ($1, 'x')",
                           [(s.id,) for s in stations])
    for d in range(opts.days + 1):
        await meter_data.ensure_partitions(pool, (spare + timedelta(days=d)).date(),
                                           days_ahead=0)
    set_id = await kind_set(pool)
    event_day = opts.days // 2
    samples, took = await load(pool, stations, spare, opts.days + 1, set_id, event_day + 1,
                               opts.event_sample_s)
    await pool.execute("VACUUM ANALYZE meter_raw")
    raw_bytes = await table_bytes(pool, "meter_raw")
    per_day = samples // (opts.days + 1)
    out["load"] = {"samples": samples, "copy_samples_per_s": round(samples / took),
                   "raw_bytes": raw_bytes, "raw_bytes_per_sample": round(raw_bytes / samples, 2)}

    # rollups: the last day's rows (as if the job had kept up until then)
    last = first + timedelta(days=opts.days - 1)
    await pool.execute("UPDATE meter_rollup_state SET watermark = $1", last)
    await meter_data.ensure_partitions(pool, last.date(), days_ahead=0)
    started = time.perf_counter()
    minutes = await meter_data.roll_up(pool)
    out["rollup_one_day"] = {"minutes": minutes, "s": round(time.perf_counter() - started, 3)}

    # the whole month rolled up, as the job keeps it
    await save_transactions(pool, stations, spare)
    await pool.execute("UPDATE meter_rollup_state SET watermark = '-infinity'")
    for d in range(opts.days + 1):
        await meter_data.ensure_partitions(pool, (spare + timedelta(days=d)).date(),
                                           days_ahead=0)
    started = time.perf_counter()
    minutes = await meter_data.roll_up(pool)
    out["rollup_month"] = {"minutes": minutes, "s": round(time.perf_counter() - started, 3)}
    await pool.execute("VACUUM ANALYZE meter_rollups")

    # dropping a day's partition
    (spare_part,) = [p for p in await meter_data.partitions(pool, "meter_raw")
                     if p.start == spare.date()]
    started = time.perf_counter()
    await pool.execute(f"DROP TABLE {spare_part.name}")
    out["drop_day_partition_s"] = round(time.perf_counter() - started, 3)

    # a one-hour event of the month, its M&V report; a station's 30-day export
    await events.save_program(pool, Program("bench", baseline="meter-before-after",
                                            rate_per_kwh=0.2))
    event_start = first + timedelta(days=event_day, hours=EVENT_HOUR)
    event_id = await events.create_event(pool, "bench", event_start,
                                         event_start + timedelta(hours=1), 1000.0)
    evs = await pool.fetch(
        "SELECT DISTINCT station_id, transaction_id FROM meter_values_between($1, $2)"
        " WHERE transaction_id IS NOT NULL", event_start, event_start + timedelta(minutes=1))
    await fleet.save_event_evs(pool, event_id, [
        {"station_id": r[0], "evse_id": 1, "transaction_id": r[1], "id_token": None,
         "version": "2.0.1", "state": "in"} for r in evs])
    raw_report, raw_report_s = await timed_report(pool, event_id, raw=True)
    report, report_s = await timed_report(pool, event_id)
    rows, raw_export_s = await export_station(pool, stations[0].id, first, opts.days)
    month_end = first + timedelta(days=opts.days)
    raw_summary, raw_summary_s = await energy_summary_raw(pool, first, month_end)
    summary, summary_s = await energy_summary_minutes(pool, stations, first, month_end)
    out["raw_reads"] = {"event_report_s": round(raw_report_s, 3),
                        "event_participants": len(evs),
                        "event_energy_kwh": round(raw_report["energy_kwh"], 3),
                        "export_one_station_rows": rows,
                        "export_one_station_s": round(raw_export_s, 3),
                        "energy_summary_30d_s": round(raw_summary_s, 3)}
    out["minute_reads"] = {
        "event_report_s": round(report_s, 3),
        "event_report_raw_over_minutes": ratio(raw_report_s, report_s),
        "event_report_same_as_raw": report == raw_report,
        "event_report_difference": first_difference(report, raw_report),
        "energy_summary_30d_s": round(summary_s, 3),
        "energy_summary_raw_over_minutes": ratio(raw_summary_s, summary_s),
        "energy_summary_stations": len(summary),
        "energy_summary_largest_difference_wh": round(
            largest_difference(summary, raw_summary), 6)}

    # compaction of every day
    started = time.perf_counter()
    for part in await meter_data.partitions(pool, "meter_raw"):
        if part.start < today.date() - timedelta(days=1):
            await meter_data.compact_day(pool, part)
            print(f"  {part.name} compacted", file=sys.stderr)
    compact_s = time.perf_counter() - started
    await pool.execute("VACUUM ANALYZE meter_compact")
    compacted = await pool.fetchval(
        "SELECT sum((SELECT sum(n) FROM unnest(counts) n))::bigint FROM meter_compact")
    compact_bytes = await table_bytes(pool, "meter_compact")
    out["compact"] = {"samples": compacted, "s": round(compact_s, 1),
                      "samples_per_s": round(compacted / compact_s),
                      "bytes": compact_bytes,
                      "bytes_per_sample": round(compact_bytes / compacted, 2),
                      "days": opts.days, "samples_per_day": per_day}
    compact_report, compact_raw_s = await timed_report(pool, event_id, raw=True)
    report, report_s = await timed_report(pool, event_id)
    rows_after, export_s = await export_station(pool, stations[0].id, first, opts.days)
    out["compacted_reads"] = {"event_report_raw_s": round(compact_raw_s, 3),
                              "event_report_minutes_s": round(report_s, 3),
                              "event_report_raw_over_minutes": ratio(compact_raw_s, report_s),
                              "report_same_as_raw": compact_report == raw_report,
                              "minutes_report_same_as_raw": report == raw_report,
                              "export_one_station_rows": rows_after,
                              "export_one_station_s": round(export_s, 3)}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--stations", type=int, default=200)
    p.add_argument("--days", type=int, default=30)
    p.add_argument("--event-sample-s", type=int, default=60, choices=(1, 2, 5, 10, 15, 30, 60),
                   help="sample interval during the event hour (default: each minute)")
    p.add_argument("--database-url", default="", help="PostgreSQL server (default: embedded)")
    opts = p.parse_args()
    out = asyncio.run(run(opts))
    print(json.dumps(out, indent=2, default=str))


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    main()

"""Meter data over years: partitions, per-minute rollups, compaction, retention and usage.

Three partitioned tables hold the sampled values (migration 0402, docs/scale.md):

- ``meter_raw``, by day: one row per meter value as stored by :mod:`csms.store.metering`;
- ``meter_compact``, by month: one row per station, EVSE, transaction and hour, the samples as
  delta-coded arrays that PostgreSQL compresses; a raw day becomes compact once it is older than
  the raw retention, and its raw partition is dropped;
- ``meter_rollups``, by month: per EVSE per minute, kept up to date by :func:`roll_up`.

Each table has a DEFAULT partition, so an insert never fails for want of a partition;
:func:`ensure_partitions` creates the coming days' partitions ahead and moves whatever landed in
a default partition (a late or far-off timestamp) into a partition of its own. Retention drops
whole partitions, never rows. :class:`MeterMaintenance` runs all of it in the server.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime, timedelta

import asyncpg
import structlog

from csms.store.db import Db, connection

log = structlog.get_logger("csms.store.meter_data")

#: advisory lock keys: one node at a time rolls up / maintains partitions
ROLLUP_LOCK_KEY = 0x0C5A5_0402
MAINTENANCE_LOCK_KEY = 0x0C5A5_0403

#: days of raw partitions created ahead of today
DAYS_AHEAD = 7


def _day(d: date) -> datetime:
    return datetime(d.year, d.month, d.day, tzinfo=UTC)


def _month(d: date) -> date:
    return date(d.year, d.month, 1)


def _next_month(d: date) -> date:
    return date(d.year + (d.month == 12), d.month % 12 + 1, 1)


@dataclass(frozen=True)
class _Layout:
    table: str
    column: str
    monthly: bool

    def bounds(self, d: date) -> tuple[date, date, str]:
        """The partition holding day ``d``: [start, end) and its name."""
        if self.monthly:
            start = _month(d)
            return start, _next_month(start), f"{self.table}_p{start:%Y%m}"
        return d, d + timedelta(days=1), f"{self.table}_p{d:%Y%m%d}"


RAW = _Layout("meter_raw", "timestamp", monthly=False)
COMPACT = _Layout("meter_compact", "hour", monthly=True)
ROLLUPS = _Layout("meter_rollups", "minute", monthly=True)
LAYOUTS = (RAW, COMPACT, ROLLUPS)


@dataclass(frozen=True)
class Partition:
    """One partition: its table, name and [start, end) range."""

    parent: str
    name: str
    start: date
    end: date


async def partitions(conn: asyncpg.Connection, parent: str) -> list[Partition]:
    """The partitions of ``parent`` (default excluded), oldest first."""
    rows = await conn.fetch(
        "SELECT c.relname, pg_get_expr(c.relpartbound, c.oid) FROM pg_inherits i"
        " JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = $1::regclass",
        parent)
    out = []
    for name, bound in rows:
        if bound == "DEFAULT":
            continue
        # FOR VALUES FROM ('2026-01-01 00:00:00+00') TO ('2026-01-02 00:00:00+00')
        parts = bound.split("'")
        start = datetime.fromisoformat(parts[1]).astimezone(UTC).date()
        end = datetime.fromisoformat(parts[3]).astimezone(UTC).date()
        out.append(Partition(parent, name, start, end))
    return sorted(out, key=lambda p: p.start)


async def _create(conn: asyncpg.Connection, layout: _Layout, d: date) -> str | None:
    """Create the partition of ``layout`` holding day ``d`` if missing, moving the rows of its
    range out of the default partition; returns its name if created. Runs in a transaction
    that locks the parent against writes (not reads) for the moment it takes."""
    start, end, name = layout.bounds(d)
    async with conn.transaction():
        # the parent first, as inserts take it: no lock-order deadlock with them
        await conn.execute(f"LOCK TABLE {layout.table} IN SHARE ROW EXCLUSIVE MODE")
        if await conn.fetchval("SELECT to_regclass($1) IS NOT NULL", name):
            return None
        lo, hi = _day(start), _day(end)
        await conn.execute(
            f"CREATE TEMPORARY TABLE meter_moving (LIKE {layout.table}) ON COMMIT DROP")
        await conn.execute(
            f"WITH d AS (DELETE FROM {layout.table}_default WHERE {layout.column} >= $1"
            f" AND {layout.column} < $2 RETURNING *) INSERT INTO meter_moving SELECT * FROM d",
            lo, hi)
        await conn.execute(
            f"CREATE TABLE {name} PARTITION OF {layout.table}"
            f" FOR VALUES FROM ('{lo.isoformat()}') TO ('{hi.isoformat()}')")
        if layout is COMPACT:
            # rows of many samples are compressed; lz4 where the server has it
            await conn.execute(f"ALTER TABLE {name} SET (toast_tuple_target = 256)")
            if await conn.fetchval(
                    "SELECT 'lz4' = ANY(enumvals) FROM pg_settings"
                    " WHERE name = 'default_toast_compression'"):
                for column in ("times", "vals", "signed"):
                    await conn.execute(
                        f"ALTER TABLE {name} ALTER COLUMN {column} SET COMPRESSION lz4")
        await conn.execute(f"INSERT INTO {name} SELECT * FROM meter_moving")
    return name


async def ensure_partitions(db: Db, today: date | None = None,
                            days_ahead: int = DAYS_AHEAD) -> list[str]:
    """Create the partitions of the days from yesterday to ``days_ahead`` ahead (raw) and of
    this month and the next (rollups), and a partition for every day or month that rows in a
    default partition belong to; returns the partitions created."""
    today = today or datetime.now(UTC).date()
    created = []
    async with connection(db) as conn:
        wanted: list[tuple[_Layout, date]] = [
            (RAW, today + timedelta(days=n)) for n in range(-1, days_ahead + 1)]
        wanted += [(ROLLUPS, today), (ROLLUPS, _next_month(today))]
        for layout in LAYOUTS:
            rows = await conn.fetch(
                f"SELECT DISTINCT date_trunc('{'month' if layout.monthly else 'day'}',"
                f" {layout.column} AT TIME ZONE 'UTC')::date FROM {layout.table}_default")
            wanted += [(layout, r[0]) for r in rows]
        for layout, d in wanted:
            name = await _create(conn, layout, d)
            if name is not None:
                created.append(name)
    if created:
        log.info("meter_partitions_created", partitions=created)
    return created


# -- rollups ---------------------------------------------------------------------------------

# The minutes written since the watermark, and for each the next minute of its EVSE already
# rolled up with an import register and the next with an export register (their energy deltas
# start from this one's registers).
_TOUCHED = """
CREATE TEMPORARY TABLE meter_touched ON COMMIT DROP AS
WITH t AS (
    SELECT DISTINCT station_id, coalesce(evse_id, -1) AS evse_id,
           date_trunc('minute', timestamp) AS minute
      FROM meter_raw WHERE received_at >= $1 AND received_at < $2)
SELECT * FROM t
UNION
SELECT n.station_id, n.evse_id, n.minute FROM t CROSS JOIN LATERAL (
    (SELECT r.station_id, r.evse_id, r.minute FROM meter_rollups r
      WHERE r.station_id = t.station_id AND r.evse_id = t.evse_id AND r.minute > t.minute
        AND r.minute <= t.minute + interval '1 day' AND r.import_register IS NOT NULL
      ORDER BY r.minute LIMIT 1)
    UNION ALL
    (SELECT r.station_id, r.evse_id, r.minute FROM meter_rollups r
      WHERE r.station_id = t.station_id AND r.evse_id = t.evse_id AND r.minute > t.minute
        AND r.minute <= t.minute + interval '1 day' AND r.export_register IS NOT NULL
      ORDER BY r.minute LIMIT 1)) n
"""

# Each touched minute from its samples (meter_station_minutes, migration 0440: what readers
# use for minutes not rolled up yet); deltas in a second pass. Each station's samples are read
# once, over the span of its touched minutes.
_MINUTES = """
INSERT INTO meter_rollups AS r (station_id, minute, evse_id, samples, import_register,
                                export_register, import_w, export_w, soc, first_at, last_at,
                                first_import, first_export, first_soc)
SELECT m.station_id, m.minute, m.evse_id, m.samples, m.import_register, m.export_register,
       m.import_w, m.export_w, m.soc, m.first_at, m.last_at, m.first_import, m.first_export,
       m.first_soc
  FROM (SELECT station_id, min(minute) AS lo, max(minute) + interval '1 minute' AS hi
          FROM meter_touched GROUP BY station_id) g
 CROSS JOIN LATERAL meter_station_minutes(g.station_id, g.lo, g.hi) m
  JOIN meter_touched t
    ON t.station_id = m.station_id AND t.evse_id = m.evse_id AND t.minute = m.minute
ON CONFLICT (station_id, minute, evse_id) DO UPDATE SET
   samples = EXCLUDED.samples, import_register = EXCLUDED.import_register,
   export_register = EXCLUDED.export_register, import_w = EXCLUDED.import_w,
   export_w = EXCLUDED.export_w, soc = EXCLUDED.soc, first_at = EXCLUDED.first_at,
   last_at = EXCLUDED.last_at, first_import = EXCLUDED.first_import,
   first_export = EXCLUDED.first_export, first_soc = EXCLUDED.first_soc
"""

# Energy over a minute: its last register less the last register before it (within a day);
# NULL without one, or where the register went down (a new meter, a reset).
_DELTAS = """
UPDATE meter_rollups r SET
    import_wh = CASE WHEN r.import_register >= p.import_register
                     THEN r.import_register - p.import_register END,
    export_wh = CASE WHEN r.export_register >= p.export_register
                     THEN r.export_register - p.export_register END
  FROM meter_touched t
  CROSS JOIN LATERAL (
       SELECT (SELECT o.import_register FROM meter_rollups o
                WHERE o.station_id = t.station_id AND o.evse_id = t.evse_id
                  AND o.minute < t.minute AND o.minute >= t.minute - interval '1 day'
                  AND o.import_register IS NOT NULL ORDER BY o.minute DESC LIMIT 1)
                  AS import_register,
              (SELECT o.export_register FROM meter_rollups o
                WHERE o.station_id = t.station_id AND o.evse_id = t.evse_id
                  AND o.minute < t.minute AND o.minute >= t.minute - interval '1 day'
                  AND o.export_register IS NOT NULL ORDER BY o.minute DESC LIMIT 1)
                  AS export_register) p
 WHERE r.station_id = t.station_id AND r.minute = t.minute AND r.evse_id = t.evse_id
"""


async def roll_up(db: Db) -> int:
    """Bring the rollups up to date with every raw row written since the watermark; returns
    how many minutes were (re)computed (0 too when another node holds the job).

    The watermark is the start of the oldest client transaction running when the job starts:
    every row written before it is committed (a row's received_at is its transaction's start),
    so no row is missed and none is done twice. Only the minutes written to are recomputed.
    A session left idle in a transaction holds the rollups back (never loses rows) until it
    ends.
    """
    async with connection(db) as conn, conn.transaction():
        if not await conn.fetchval("SELECT pg_try_advisory_xact_lock($1)", ROLLUP_LOCK_KEY):
            return 0
        since = await conn.fetchval("SELECT watermark FROM meter_rollup_state FOR UPDATE")
        until = await conn.fetchval(
            "SELECT least(statement_timestamp(), min(xact_start)) FROM pg_stat_activity"
            " WHERE datname = current_database() AND pid <> pg_backend_pid()"
            " AND backend_type = 'client backend' AND xact_start IS NOT NULL")
        await conn.execute(_TOUCHED, since, until)
        touched = await conn.fetchval("SELECT count(*) FROM meter_touched")
        if touched:
            await conn.execute("ANALYZE meter_touched")
            await conn.execute(_MINUTES)
            await conn.execute(_DELTAS)
        await conn.execute("UPDATE meter_rollup_state SET watermark = $1", until)
        return touched


async def rollup_watermark(db: Db) -> datetime:
    """Every raw row written before this is in the rollups."""
    return await db.fetchval("SELECT watermark FROM meter_rollup_state")


# -- compaction ------------------------------------------------------------------------------

# One raw day into compact rows, merged with the compact rows of that day already there (late
# values that came after the day was compacted): every sample once, ordered by kind, time and
# value within its row.
# A segment (row and kind) takes the largest of its values' scales if every value comes back
# from it bit for bit, else its values are stored as their bits (scale -1).
_COMPACT = """
WITH samples AS (
    SELECT {distinct} station_id, evse_id, transaction_id, timestamp, kind, value,
           signed_meter_value AS signed, date_trunc('hour', timestamp) AS hour,
           meter_scale(value) AS scale
      FROM meter_samples($1, $2)
     {order}
),
scaled AS (
    SELECT *, CASE WHEN min(scale) OVER seg >= 0 THEN max(scale) OVER seg ELSE -1 END
                  AS seg_scale
      FROM samples
    WINDOW seg AS (PARTITION BY station_id, evse_id, transaction_id, hour, kind)
),
checked AS (
    SELECT *, bool_and(seg_scale >= 0 AND (scale = seg_scale OR (
                       abs(value) < 9007199254740992 / power(10::float8, seg_scale)
                       AND float8send(round(value * power(10::float8, seg_scale))
                                      / power(10::float8, seg_scale)) = float8send(value))))
                  OVER seg AS exact
      FROM scaled
    WINDOW seg AS (PARTITION BY station_id, evse_id, transaction_id, hour, kind)
),
coded AS (
    SELECT station_id, evse_id, transaction_id, hour, kind, timestamp, value, signed,
           CASE WHEN exact THEN seg_scale ELSE -1 END AS scale,
           (extract(epoch FROM timestamp - hour) * 1000000)::bigint AS us,
           CASE WHEN exact THEN round(value * power(10::float8, seg_scale))::bigint
                ELSE meter_float_bits(value) END AS n
      FROM checked
),
deltas AS (
    SELECT *,
           us - lag(us, 1, 0::bigint) OVER seg AS dt,
           CASE WHEN scale >= 0 THEN n - lag(n, 1, 0::bigint) OVER seg ELSE n END AS dv,
           row_number() OVER seg AS seg_position,
           count(*) OVER (PARTITION BY station_id, evse_id, transaction_id, hour, kind)
               AS seg_count,
           row_number() OVER (PARTITION BY station_id, evse_id, transaction_id, hour
                              ORDER BY kind, timestamp, value) AS ordinal
      FROM coded
    WINDOW seg AS (PARTITION BY station_id, evse_id, transaction_id, hour, kind
                   ORDER BY timestamp, value)
)
INSERT INTO meter_compact AS c (hour, evse_id, station_id, transaction_id, kinds, scales,
                                counts, times, vals, signed)
SELECT hour, evse_id, station_id, transaction_id,
       array_agg(kind ORDER BY ordinal) FILTER (WHERE seg_position = 1),
       array_agg(scale::smallint ORDER BY ordinal) FILTER (WHERE seg_position = 1),
       array_agg(seg_count::integer ORDER BY ordinal) FILTER (WHERE seg_position = 1),
       array_agg(dt ORDER BY ordinal), array_agg(dv ORDER BY ordinal),
       jsonb_object_agg(ordinal::text, signed) FILTER (WHERE signed IS NOT NULL)
  FROM deltas GROUP BY station_id, evse_id, transaction_id, hour
ON CONFLICT (station_id, hour, evse_id, transaction_id) DO UPDATE SET
   kinds = EXCLUDED.kinds, scales = EXCLUDED.scales, counts = EXCLUDED.counts,
   times = EXCLUDED.times, vals = EXCLUDED.vals, signed = EXCLUDED.signed
"""

#: the day's samples as they are (a raw row holds each sampled value once) ...
_COMPACT_RAW = _COMPACT.format(distinct="", order="")
#: ... or, where the day has compact rows already, each sample once of both forms
_COMPACT_MERGE = _COMPACT.format(
    distinct="DISTINCT ON (station_id, evse_id, transaction_id, timestamp, kind, value)",
    order="ORDER BY station_id, evse_id, transaction_id, timestamp, kind, value,"
          " signed_meter_value NULLS LAST")


async def compact_day(db: Db, partition: Partition) -> int:
    """Compact one raw partition (a day) and drop it, in one transaction; returns the number
    of compact rows written. The day's rows must be in the rollups already (see
    :func:`maintain`)."""
    start, end = _day(partition.start), _day(partition.end)
    async with connection(db) as conn:
        await _create(conn, COMPACT, partition.start)
        async with conn.transaction():
            # no writes to the day while it moves (reads go on)
            await conn.execute(f"LOCK TABLE {partition.name} IN SHARE MODE")
            await conn.execute("SET LOCAL work_mem = '256MB'")  # sorts of a day's samples
            merge = await conn.fetchval(
                "SELECT EXISTS (SELECT 1 FROM meter_compact WHERE hour >= $1 AND hour < $2)",
                start, end)
            status = await conn.execute(_COMPACT_MERGE if merge else _COMPACT_RAW, start, end)
            await conn.execute(f"DROP TABLE {partition.name}")
    return int(status.rsplit(" ", 1)[-1])


# -- retention -------------------------------------------------------------------------------

@dataclass(frozen=True)
class Retention:
    """How long meter data is kept: raw_days in raw form (then compacted), compacted and
    rollups for their days (None: for ever)."""

    raw_days: int
    compact_days: int | None
    rollup_days: int | None
    applied_at: datetime | None = None

    def check(self) -> None:
        """Raise ValueError for settings that would drop data kept in another form."""
        for name, days in (("raw", self.raw_days), ("compact", self.compact_days),
                           ("rollups", self.rollup_days)):
            if days is not None and days < 1:
                raise ValueError(f"--{name} must be at least 1 day")
        if self.compact_days is not None and self.compact_days < self.raw_days:
            raise ValueError("--compact must be at least --raw (compacted data is what raw "
                             "data becomes)")


async def get_retention(db: Db) -> Retention:
    """The stored retention settings."""
    row = await db.fetchrow("SELECT raw_days, compact_days, rollup_days, applied_at"
                            " FROM meter_retention")
    return Retention(*row)


async def set_retention(db: Db, retention: Retention) -> None:
    """Store retention settings (applied by the server's next daily run, or
    :func:`maintain`). Raises ValueError for inconsistent ones."""
    retention.check()
    await db.execute("UPDATE meter_retention SET raw_days = $1, compact_days = $2,"
                     " rollup_days = $3, updated_at = now()",
                     retention.raw_days, retention.compact_days, retention.rollup_days)


@dataclass
class MaintenanceReport:
    """What one :func:`maintain` run did."""

    created: list[str]
    compacted: list[str]
    dropped: list[str]
    rolled_up_minutes: int


async def maintain(db: Db, today: date | None = None) -> MaintenanceReport:
    """The daily run: partitions ahead, rollups, compaction of raw days past the raw retention,
    and dropping of partitions past their retention (whole partitions: a partition is dropped
    once all of it is older than its retention). One node at a time."""
    today = today or datetime.now(UTC).date()
    report = MaintenanceReport([], [], [], 0)
    async with connection(db) as conn:
        if not await conn.fetchval("SELECT pg_try_advisory_lock($1)", MAINTENANCE_LOCK_KEY):
            return report
        try:
            report.created = await ensure_partitions(conn, today)
            report.rolled_up_minutes = await roll_up(conn)
            # rollups of days without a partition yet went to the default one
            report.created += await ensure_partitions(conn, today)
            keep = await get_retention(conn)
            watermark = await rollup_watermark(conn)
            raw_cutoff = today - timedelta(days=keep.raw_days)
            for part in await partitions(conn, RAW.table):
                if part.end > raw_cutoff:
                    continue
                if keep.compact_days is not None and \
                        part.end <= today - timedelta(days=keep.compact_days):
                    await conn.execute(f"DROP TABLE {part.name}")
                    report.dropped.append(part.name)
                    continue
                latest = await conn.fetchval(f"SELECT max(received_at) FROM {part.name}")
                if latest is not None and latest >= watermark:
                    continue  # not rolled up yet: next run
                await compact_day(conn, part)
                report.compacted.append(part.name)
            for layout, days in ((COMPACT, keep.compact_days), (ROLLUPS, keep.rollup_days)):
                if days is None:
                    continue
                for part in await partitions(conn, layout.table):
                    if part.end <= today - timedelta(days=days):
                        await conn.execute(f"DROP TABLE {part.name}")
                        report.dropped.append(part.name)
            await conn.execute("UPDATE meter_retention SET applied_at = now()")
        finally:
            await conn.execute("SELECT pg_advisory_unlock($1)", MAINTENANCE_LOCK_KEY)
    if report.compacted or report.dropped:
        log.info("meter_data_maintained", **asdict(report))
    return report


class MeterMaintenance:
    """In the server: rollups every ``rollup_interval_s``, :func:`maintain` one interval after
    start and every ``maintain_interval_s`` (a day) after that; both on one node at a time
    (advisory locks). Until the first run, a new day's values land in the default partition,
    which the run moves into partitions of their own."""

    def __init__(self, pool: asyncpg.Pool, *, rollup_interval_s: float = 30.0,
                 maintain_interval_s: float = 86_400.0) -> None:
        self.pool = pool
        self.rollup_interval_s = rollup_interval_s
        self.maintain_interval_s = maintain_interval_s
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Start the periodic task (returns at once)."""
        self._task = asyncio.create_task(self._run(), name="meter-maintenance")

    async def stop(self) -> None:
        """Stop it."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        next_maintain = loop.time()
        while True:
            await asyncio.sleep(self.rollup_interval_s)
            try:
                if loop.time() >= next_maintain:
                    await maintain(self.pool)
                    next_maintain = loop.time() + self.maintain_interval_s
                else:
                    await roll_up(self.pool)
            except (asyncpg.PostgresError, OSError) as exc:
                log.warning("meter_maintenance_failed", error=str(exc))


# -- usage -----------------------------------------------------------------------------------

@dataclass
class TableUsage:
    """One form of meter data: disk bytes (indexes and TOAST included), rows, sampled values,
    bytes per sample, oldest and newest sample time."""

    table: str
    partitions: int
    bytes: int
    rows: int
    samples: int
    bytes_per_sample: float | None
    oldest: datetime | None
    newest: datetime | None
    estimated: bool  # rows and samples estimated from statistics (large tables)


#: tables up to this many rows are counted exactly
EXACT_ROWS = 1_000_000

_SAMPLES = {
    "meter_raw": "cardinality(vals)",
    "meter_compact": "(SELECT sum(n) FROM unnest(counts) n)",
    "meter_rollups": "samples",
}


async def usage(db: Db) -> list[TableUsage]:
    """Disk use of each form of meter data (and the lookup tables)."""
    out = []
    async with connection(db) as conn:
        for layout in LAYOUTS:
            names = [p.name for p in await partitions(conn, layout.table)]
            names.append(f"{layout.table}_default")
            size = await conn.fetchval(
                "SELECT coalesce(sum(pg_total_relation_size(n::regclass)), 0)"
                " FROM unnest($1::text[]) n", names)
            estimate = await conn.fetchval(
                "SELECT coalesce(sum(greatest(reltuples, 0)), 0)::bigint FROM pg_class"
                " WHERE relname = ANY($1::text[])", names)
            per_row = _SAMPLES[layout.table]
            if estimate <= EXACT_ROWS:
                rows, samples = await conn.fetchrow(
                    f"SELECT count(*), coalesce(sum({per_row}), 0)::bigint FROM {layout.table}")
                estimated = False
            else:
                mean = await conn.fetchval(
                    f"SELECT avg({per_row}) FROM {layout.table} TABLESAMPLE SYSTEM (1)")
                rows, samples, estimated = estimate, int(estimate * float(mean or 0)), True
            found = [tuple(await conn.fetchrow(
                f"SELECT min({layout.column}), max({layout.column})"
                f" FROM {layout.table}_default"))]
            for name in names[:-1]:  # oldest first: the first partition holding rows
                found.append(tuple(await conn.fetchrow(
                    f"SELECT min({layout.column}), max({layout.column}) FROM {name}")))
                if found[-1][0] is not None:
                    break
            for name in reversed(names[:-1]):
                found.append((None, await conn.fetchval(
                    f"SELECT max({layout.column}) FROM {name}")))
                if found[-1][1] is not None:
                    break
            oldest = min((f[0] for f in found if f[0] is not None), default=None)
            newest = max((f[1] for f in found if f[1] is not None), default=None)
            out.append(TableUsage(layout.table, len(names) - 1, size, rows, samples,
                                  round(size / samples, 2) if samples else None, oldest, newest,
                                  estimated))
        for table in ("meter_kinds", "meter_kind_sets"):
            size, rows = await conn.fetchrow(
                f"SELECT pg_total_relation_size('{table}'), count(*) FROM {table}")
            out.append(TableUsage(table, 0, size, rows, 0, None, None, None, False))
    return out

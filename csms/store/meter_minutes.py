"""Meter data by the minute, complete and cheap: what reports, earnings and forecasts read.

:func:`minutes` reads ``meter_minutes()`` (migration 0440): per station, EVSE (-1: not known)
and minute, the sample count, the energy imported and exported over the minute, the registers,
mean powers and SoC, from ``meter_rollups`` for the minutes the rollup job has done and from the
samples themselves, aggregated by the same SQL function as the job, for the minutes written to
since its watermark (late and out-of-order values included, so a reader never waits for the
job). Energy over a minute is the register's rise since the last register before the minute
(within a day): a rise across a minute boundary counts once, in the minute of the later
reading. :func:`buckets` sums minutes into coarser buckets in the database. Both read the
watermark first and hand it to the query, so that the planner finds the rows written since
through the BRIN index on ``received_at`` (an older watermark than the job's is safe: it
only makes more minutes fresh).

Per transaction (:func:`transaction_minutes`): the minutes of the transaction's EVSE while it
ran (the ``transactions`` table's EVSE and times), and the transaction's own samples for the
minutes where whole minutes are not enough: the first and last minute of the span and of the
transaction, and each minute holding a time the caller must read exactly. The minutes keep
the first and last register reading with their times, so a register series rebuilt from them
interpolates to the same value as the raw samples at every minute boundary
(:func:`csms.store.grid.fleet.register_minutes`).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from csms.store.db import Db
from csms.store.meter_data import rollup_watermark

MINUTE = timedelta(minutes=1)
_TICK = timedelta(microseconds=1)
#: the last instant of a minute, from its start
LAST_INSTANT = MINUTE - _TICK

_COLUMNS = ("station_id, evse_id, minute, samples, import_wh, export_wh, import_register,"
            " export_register, import_w, export_w, soc, first_at, last_at, first_import,"
            " first_export, first_soc, fresh")


@dataclass(frozen=True)
class Minute:
    """One EVSE's minute: energy in Wh (None: no register before it within a day, or the
    register went down), registers in Wh, mean power in W, SoC in %; ``first_at`` and
    ``last_at`` the times of its first and last register reading, ``first_import`` and
    ``first_export`` the registers then; ``fresh``: aggregated from samples written since the
    rollup job's watermark."""

    station_id: str
    evse_id: int
    minute: datetime
    samples: int
    import_wh: float | None
    export_wh: float | None
    import_register: float | None
    export_register: float | None
    import_w: float | None
    export_w: float | None
    soc: float | None
    first_at: datetime | None
    last_at: datetime | None
    first_import: float | None
    first_export: float | None
    first_soc: float | None
    fresh: bool


def floor_minute(at: datetime) -> datetime:
    """The start of the minute holding ``at``."""
    return at.replace(second=0, microsecond=0)


async def minutes(db: Db, station_ids: Sequence[str], since: datetime,
                  until: datetime) -> list[Minute]:
    """The minutes of ``station_ids`` overlapping ``[since, until)``, by station, EVSE and
    minute."""
    rows = await db.fetch(
        f"SELECT {_COLUMNS} FROM meter_minutes($1::text[], $2, $3, $4)"
        " ORDER BY station_id, evse_id, minute", list(station_ids), since, until,
        await rollup_watermark(db))
    return [Minute(*r) for r in rows]


@dataclass(frozen=True)
class Bucket:
    """Minutes summed: energy in Wh (minutes without a figure count 0), mean of the minutes'
    mean power in W, the last SoC in %; ``evse_id`` None when summed over the station."""

    station_id: str
    evse_id: int | None
    start: datetime
    minutes: int
    samples: int
    import_wh: float
    export_wh: float
    import_w: float | None
    export_w: float | None
    soc: float | None


async def buckets(db: Db, station_ids: Sequence[str], since: datetime, until: datetime, *,
                  bucket: timedelta | None = None, per_evse: bool = True,
                  main_meter: bool = False) -> list[Bucket]:
    """``[since, until)`` in buckets of ``bucket`` (whole minutes, aligned on multiples of it
    since 2000-01-01 UTC; None: one bucket from ``since``), per EVSE or per station. The main
    meter (EVSE 0) counts only with ``main_meter`` (it measures what the EVSEs do too)."""
    if bucket is not None and (bucket < MINUTE or bucket % MINUTE):
        raise ValueError(f"a bucket is a whole number of minutes, got {bucket}")
    rows = await db.fetch(
        "SELECT station_id, CASE WHEN $6 THEN evse_id END AS evse,"
        "  CASE WHEN $4::interval IS NULL THEN $5::timestamptz"
        "       ELSE date_bin($4::interval, minute, '2000-01-01 00:00+00') END AS bucket,"
        "  count(*)::integer, sum(samples)::integer, coalesce(sum(import_wh), 0),"
        "  coalesce(sum(export_wh), 0), avg(import_w), avg(export_w),"
        "  (max(ARRAY[extract(epoch FROM minute)::float8, soc])"  # the latest minute's
        "       FILTER (WHERE soc IS NOT NULL))[2]"
        "  FROM meter_minutes($1::text[], $2, $3, $8)"
        " WHERE $7 OR evse_id <> 0"
        " GROUP BY 1, 2, 3 ORDER BY 1, 2, 3",
        list(station_ids), since, until, bucket, floor_minute(since), per_evse, main_meter,
        await rollup_watermark(db))
    return [Bucket(*r) for r in rows]


# -- per transaction -------------------------------------------------------------------------

@dataclass
class TransactionMinutes:
    """What :func:`transaction_minutes` read for one (station, transaction): ``samples`` the
    transaction's own samples (time, measurand, value) of the minutes read raw, ``minutes`` its
    EVSE's minutes read whole (each in neither of the other's minutes)."""

    samples: list[tuple[datetime, str, float]] = field(default_factory=list)
    minutes: list[Minute] = field(default_factory=list)


def _ranges(points: Iterable[datetime]) -> list[tuple[datetime, datetime]]:
    """Whole minutes holding ``points``, adjacent ones merged: [start, end) ranges."""
    out: list[tuple[datetime, datetime]] = []
    for m in sorted({floor_minute(p) for p in points}):
        if out and out[-1][1] == m:
            out[-1] = (out[-1][0], m + MINUTE)
        else:
            out.append((m, m + MINUTE))
    return out


async def transaction_minutes(
    db: Db, keys: Sequence[tuple[str, str]], start: datetime, end: datetime,
    measurands: Sequence[str], exact_at: Iterable[datetime] = (),
) -> dict[tuple[str, str], TransactionMinutes]:
    """Each (station, transaction)'s data over ``[start, end]`` (both included): its samples
    of ``measurands`` (valid, phase-less) for the minutes holding ``start``, ``end``, its start
    and end and each time of ``exact_at`` that is not a minute boundary, and its EVSE's whole
    minutes between. A transaction not in the ``transactions`` table, or without an EVSE or a
    start time, is read raw over the whole span."""
    keys = list(dict.fromkeys(keys))
    out = {k: TransactionMinutes() for k in keys}
    if not keys or end < start:
        return out
    rows = await db.fetch(
        "SELECT t.station_id, t.transaction_id, t.evse_id, t.started_at, t.ended_at"
        "  FROM transactions t JOIN unnest($1::text[], $2::text[]) AS k(station_id, tx)"
        "    ON t.station_id = k.station_id AND t.transaction_id = k.tx",
        [k[0] for k in keys], [k[1] for k in keys])
    known = {(r[0], r[1]): (r[2], r[3], r[4]) for r in rows}
    cuts = [t for t in exact_at if start < t < end and t != floor_minute(t)]
    raw: list[tuple[int, datetime, datetime]] = []  # (key index, from, until)
    # evse, minutes [a, b), the minutes read raw
    whole: dict[tuple[str, str], tuple[int, datetime, datetime, set[datetime]]] = {}
    for i, key in enumerate(keys):
        evse, started, ended = known.get(key, (None, None, None))
        lo = start if started is None else max(start, started)
        hi = end if ended is None else min(end, ended)
        if evse is None or evse < 0 or started is None or hi < lo:
            raw.append((i, start, end + _TICK))
            continue
        edges = _ranges([lo, hi, *(t for t in cuts if lo < t < hi)])
        for a, b in edges:
            if max(a, lo) < min(b, hi + _TICK):
                raw.append((i, max(a, lo), min(b, hi + _TICK)))
        a, b = floor_minute(lo) + MINUTE, floor_minute(hi)
        if a < b:
            whole[key] = (evse, a, b, {floor_minute(t) for t in cuts if lo < t < hi})
    if raw:
        found = await db.fetch(
            "SELECT k.i, m.timestamp, m.measurand, m.value"
            "  FROM unnest($1::integer[], $2::timestamptz[], $3::timestamptz[])"
            "       AS k(i, lo, hi)"
            " CROSS JOIN LATERAL meter_station_values(($4::text[])[k.i], k.lo, k.hi) m"
            " WHERE m.transaction_id = ($5::text[])[k.i] AND m.measurand = ANY($6::text[])"
            "   AND m.phase IS NULL AND m.unit_valid ORDER BY m.timestamp, m.measurand",
            [r[0] + 1 for r in raw], [r[1] for r in raw], [r[2] for r in raw],
            [k[0] for k in keys], [k[1] for k in keys], list(measurands))
        for i, at, measurand, value in found:
            out[keys[i - 1]].samples.append((at, measurand, value))
    if whole:
        a = min(w[1] for w in whole.values())
        b = max(w[2] for w in whole.values())
        by_evse: dict[tuple[str, int], list[tuple[str, str]]] = {}
        for key, (evse, *_) in whole.items():
            by_evse.setdefault((key[0], evse), []).append(key)
        for m in await minutes(db, sorted({k[0] for k in whole}), a, b):
            for key in by_evse.get((m.station_id, m.evse_id), ()):
                _, lo, hi, edge = whole[key]
                if lo <= m.minute < hi and m.minute not in edge:
                    out[key].minutes.append(m)
    return out

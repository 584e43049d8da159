"""Reads the HTTP API needs beyond the CLI's: a command's record, and meter values a page at a
time (keyset pages, so that a client walking a month of a fleet costs the same per page)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from csms.store.db import Db
from csms.store.metering import MeterValueRow


@dataclass(frozen=True)
class CommandRecord:
    """A CSMS-initiated call as recorded in the command table."""

    id: int
    station_id: str
    action: str
    payload: dict[str, Any]
    status: str
    queue_until: datetime | None
    created_at: datetime
    sent_at: datetime | None
    answered_at: datetime | None
    response: dict[str, Any] | None
    error_code: str | None
    error_description: str | None


async def get_command(db: Db, command_id: int) -> CommandRecord | None:
    """One command with its outcome so far, or None."""
    row = await db.fetchrow(
        "SELECT id, station_id, action, payload::text, status, queue_until, created_at, sent_at,"
        " answered_at, response::text, error_code, error_description FROM commands"
        " WHERE id = $1", command_id)
    if row is None:
        return None
    values = dict(row)
    values["payload"] = json.loads(values["payload"])
    values["response"] = None if values["response"] is None else json.loads(values["response"])
    return CommandRecord(**values)


@dataclass(frozen=True)
class MeterPosition:
    """Where a page of meter values ends: the station and time of its last value, and how
    many values of that station and time the pages so far held."""

    station_id: str
    timestamp: datetime
    seen: int


_COLUMNS = ("station_id, evse_id, transaction_id, timestamp, measurand, phase, location, unit,"
            " context, value, signed_meter_value, sent_unit, sent_multiplier, unit_valid")
#: export order, made total: stored values are unique in all of these
_ORDER = ("station_id, timestamp, evse_id, measurand, phase NULLS FIRST, location, context,"
          " transaction_id, value")


async def meter_value_page(
    db: Db, *, station_id: str | None, since: datetime | None, until: datetime | None,
    limit: int, after: MeterPosition | None = None,
) -> tuple[list[MeterValueRow], MeterPosition | None]:
    """Up to ``limit`` meter values in export order (station, time, EVSE, measurand, ...)
    after ``after``, and the position after the last (None at the end).

    Values of one station and time are in a fixed order, so a position is the last (station,
    time) given and how many values of it were given.
    """
    clauses: list[str] = []
    args: list[object] = [since, until]
    for clause, value in (("station_id = ${}", station_id),):
        if value is not None:
            args.append(value)
            clauses.append(clause.format(len(args)))
    skip = 0
    if after is not None and station_id is not None and (
            since is None or since < after.timestamp):
        args[0] = after.timestamp  # one station's pages go forward in time
    if after is not None:
        args.extend((after.station_id, after.timestamp))
        clauses.append(f"(station_id, timestamp) >= (${len(args) - 1}, ${len(args)})")
        skip = after.seen
    args.append(limit + skip + 1)
    where = ("WHERE " + " AND ".join(clauses)) if clauses else ""
    rows = [MeterValueRow(**dict(r)) for r in await db.fetch(
        f"SELECT {_COLUMNS} FROM meter_values_between($1, $2) {where}"
        f" ORDER BY {_ORDER} LIMIT ${len(args)}",
        *args)]
    if after is not None:
        key = (after.station_id, after.timestamp)
        given = 0
        while given < skip and rows and (rows[0].station_id, rows[0].timestamp) == key:
            rows.pop(0)
            given += 1
    more = len(rows) > limit
    rows = rows[:limit]
    if not more or not rows:
        return rows, None
    last = (rows[-1].station_id, rows[-1].timestamp)
    seen = sum(1 for r in rows if (r.station_id, r.timestamp) == last)
    if after is not None and (after.station_id, after.timestamp) == last:
        seen += after.seen
    return rows, MeterPosition(*last, seen)

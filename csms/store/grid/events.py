"""Grid events: programs, station groups, events, the EVs in them, control steps, driver
settings, and the fleet and meter readings dispatch and verification need.

Every change to an event NOTIFYs ``csms_grid`` (payload: the event id) so the dispatcher
applies it at its next control step.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, fields
from datetime import datetime, time
from typing import Any

from csms.store.base import StoreError, jsonable
from csms.store.db import Db, connection
from csms.store.grid.records import GridEvent, Program, check_display_template

GRID_CHANNEL = "csms_grid"
#: Advisory lock held by the one node that runs the dispatcher.
DISPATCHER_LOCK = 0x67726964


class ProgramExists(StoreError):
    """A program of that name is already there."""


# -- programs ------------------------------------------------------------------------------

def _program_from(name: str, settings: dict[str, Any], display_message: str | None) -> Program:
    values = dict(settings)
    for key in ("window_start", "window_end"):
        if values.get(key) is not None:
            values[key] = time.fromisoformat(values[key])
    known = {f.name for f in fields(Program)} - {"display_message"}
    return Program(name=name, display_message=display_message,
                   **{k: v for k, v in values.items() if k in known})


async def save_program(db: Db, program: Program, *, replace: bool = False) -> None:
    """Store a program; raises ProgramExists unless ``replace``."""
    settings = {k: v for k, v in jsonable(program).items()
                if k not in ("name", "display_message")}
    if replace:
        await db.execute(
            "INSERT INTO grid_programs (name, settings, display_message) VALUES ($1, $2, $3)"
            " ON CONFLICT (name) DO UPDATE SET settings = EXCLUDED.settings,"
            " display_message = EXCLUDED.display_message, updated_at = now()",
            program.name, settings, program.display_message)
        return
    done = await db.fetchval(
        "INSERT INTO grid_programs (name, settings, display_message) VALUES ($1, $2, $3)"
        " ON CONFLICT DO NOTHING RETURNING name", program.name, settings,
        program.display_message)
    if done is None:
        raise ProgramExists(f"program {program.name} already exists")


async def set_display_message(db: Db, name: str, template: str | None) -> bool:
    """Change a program's display message (None: none); False if there is no such program."""
    if template is not None:
        check_display_template(template)
    status = await db.execute(
        "UPDATE grid_programs SET display_message = $2, updated_at = now() WHERE name = $1",
        name, template)
    return status != "UPDATE 0"


async def get_program(db: Db, name: str) -> Program | None:
    """The program called ``name``, or None."""
    row = await db.fetchrow(
        "SELECT name, settings, display_message FROM grid_programs WHERE name = $1", name)
    return None if row is None else _program_from(row[0], row[1], row[2])


async def list_programs(db: Db) -> list[Program]:
    """Every program, by name."""
    rows = await db.fetch(
        "SELECT name, settings, display_message FROM grid_programs ORDER BY name")
    return [_program_from(r[0], r[1], r[2]) for r in rows]


# -- station groups ------------------------------------------------------------------------

async def add_to_group(db: Db, group: str, station_ids: Sequence[str]) -> list[str]:
    """Put stations in a group; returns the ids that are not registered stations (not added)."""
    known = {r[0] for r in await db.fetch(
        "SELECT id FROM stations WHERE id = ANY($1::text[])", list(station_ids))}
    await db.executemany(
        "INSERT INTO grid_station_groups (group_name, station_id) VALUES ($1, $2)"
        " ON CONFLICT DO NOTHING", [(group, s) for s in station_ids if s in known])
    return [s for s in station_ids if s not in known]


async def list_groups(db: Db) -> dict[str, list[str]]:
    """Groups and their stations."""
    out: dict[str, list[str]] = {}
    for row in await db.fetch("SELECT group_name, station_id FROM grid_station_groups"
                              " ORDER BY group_name, station_id"):
        out.setdefault(row[0], []).append(row[1])
    return out


# -- events --------------------------------------------------------------------------------

@dataclass
class EventRecord:
    """An event with its bookkeeping."""

    event: GridEvent
    forecast_kw: float | None
    firm_kw: float | None
    shortfall_kw: float | None
    created_at: datetime
    activated_at: datetime | None
    finished_at: datetime | None
    note: str | None
    dispatch: dict[str, Any] | None


_EVENT_COLUMNS = ("id, program, starts_at, ends_at, target_kw, status, station_group,"
                  " nomination_kw, external_id, revision, forecast_kw, firm_kw, shortfall_kw,"
                  " created_at, activated_at, finished_at, note, dispatch")


def _event_from(row: Any) -> EventRecord:
    event = GridEvent(id=row[0], program=row[1], start=row[2], end=row[3], target_kw=row[4],
                      status=row[5], group=row[6], nomination_kw=row[7], external_id=row[8],
                      revision=row[9])
    return EventRecord(event, row[10], row[11], row[12], row[13], row[14], row[15], row[16],
                       row[17])


async def _notify(db: Db, event_id: int) -> None:
    await db.execute("SELECT pg_notify($1, $2)", GRID_CHANNEL, str(event_id))


async def create_event(db: Db, program: str, start: datetime, end: datetime,
                       target_kw: float | None, *, group: str | None = None,
                       nomination_kw: float | None = None) -> int:
    """Schedule an event; returns its id."""
    event_id = await db.fetchval(
        "INSERT INTO grid_events (program, starts_at, ends_at, target_kw, station_group,"
        " nomination_kw) VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
        program, start, end, target_kw, group, nomination_kw)
    await _notify(db, event_id)
    return int(event_id)


async def import_slot(db: Db, external_id: str, program: str, start: datetime, end: datetime,
                      target_kw: float | None, nomination_kw: float | None, cancelled: bool,
                      dispatch: dict[str, Any]) -> tuple[int, str]:
    """Create or update the event of a dispatch timeslot; returns (id, what happened).

    What happened is ``created``, ``updated``, ``unchanged``, ``cancelled`` or ``closed`` (the
    event is already over or cancelled, so the change is ignored).
    """
    async with connection(db) as conn, conn.transaction():
        row = await conn.fetchrow(
            "SELECT id, status, starts_at, ends_at, target_kw, nomination_kw, program"
            " FROM grid_events WHERE external_id = $1 FOR UPDATE", external_id)
        if row is None:
            if cancelled:
                event_id = await conn.fetchval(
                    "INSERT INTO grid_events (program, starts_at, ends_at, target_kw,"
                    " nomination_kw, external_id, dispatch, status, finished_at)"
                    " VALUES ($1, $2, $3, $4, $5, $6, $7, 'cancelled', now()) RETURNING id",
                    program, start, end, target_kw, nomination_kw, external_id, dispatch)
                return int(event_id), "cancelled"
            event_id = await conn.fetchval(
                "INSERT INTO grid_events (program, starts_at, ends_at, target_kw, nomination_kw,"
                " external_id, dispatch) VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
                program, start, end, target_kw, nomination_kw, external_id, dispatch)
            await _notify(conn, event_id)
            return int(event_id), "created"
        event_id, status = int(row[0]), row[1]
        if status in ("completed", "cancelled"):
            return event_id, "closed"
        if cancelled:
            await cancel_event(conn, event_id)
            return event_id, "cancelled"
        if (row[2], row[3], row[4], row[5], row[6]) == (start, end, target_kw, nomination_kw,
                                                        program):
            return event_id, "unchanged"
        await conn.execute(
            "UPDATE grid_events SET starts_at = CASE WHEN status = 'active' THEN starts_at"
            " ELSE $2 END, ends_at = $3, target_kw = $4, nomination_kw = $5, program = $6,"
            " dispatch = $7, revision = revision + 1, updated_at = now() WHERE id = $1",
            event_id, start, end, target_kw, nomination_kw, program, dispatch)
        await _notify(conn, event_id)
        return event_id, "updated"


async def get_event(db: Db, event_id: int) -> EventRecord | None:
    """One event, or None."""
    row = await db.fetchrow(f"SELECT {_EVENT_COLUMNS} FROM grid_events WHERE id = $1",
                            event_id)
    return None if row is None else _event_from(row)


async def list_events(db: Db, status: str | None = None, limit: int = 100, *,
                      after: tuple[datetime, int] | None = None) -> list[EventRecord]:
    """Events, newest start first, optionally of one status; ``after`` (start and id of the
    last event of the previous page) continues a listing."""
    rows = await db.fetch(
        f"SELECT {_EVENT_COLUMNS} FROM grid_events WHERE ($1::text IS NULL OR status = $1)"
        " AND ($3::timestamptz IS NULL OR (starts_at, id) < ($3, $4))"
        " ORDER BY starts_at DESC, id DESC LIMIT $2", status, limit,
        *(after or (None, None)))
    return [_event_from(r) for r in rows]


async def open_events(db: Db) -> list[GridEvent]:
    """Scheduled and active events, earliest first (what the dispatcher works on)."""
    rows = await db.fetch(
        f"SELECT {_EVENT_COLUMNS} FROM grid_events WHERE status IN ('scheduled', 'active')"
        " ORDER BY starts_at, id")
    return [_event_from(r).event for r in rows]


async def cancel_event(db: Db, event_id: int) -> str | None:
    """Cancel a scheduled or active event; returns the status it had (None: no such event).

    A completed or cancelled event is left as it is.
    """
    async with connection(db) as conn, conn.transaction():
        status = await conn.fetchval(
            "SELECT status FROM grid_events WHERE id = $1 FOR UPDATE", event_id)
        if status in ("scheduled", "active"):
            await conn.execute(
                "UPDATE grid_events SET status = 'cancelled', revision = revision + 1,"
                " updated_at = now(), finished_at = CASE WHEN $2 = 'scheduled' THEN now()"
                " ELSE finished_at END WHERE id = $1", event_id, status)
            await _notify(conn, event_id)
        return status


async def set_forecast(db: Db, event_id: int, forecast_kw: float, firm_kw: float,
                       shortfall_kw: float) -> None:
    """Record the capacity forecast of an event."""
    await db.execute(
        "UPDATE grid_events SET forecast_kw = $2, firm_kw = $3, shortfall_kw = $4 WHERE id = $1",
        event_id, forecast_kw, firm_kw, shortfall_kw)


async def mark_active(db: Db, event_id: int) -> bool:
    """Scheduled -> active; False when the event is no longer scheduled."""
    return await db.fetchval(
        "UPDATE grid_events SET status = 'active', activated_at = now(), updated_at = now()"
        " WHERE id = $1 AND status = 'scheduled' RETURNING true", event_id) or False


async def mark_finished(db: Db, event_id: int, note: str | None = None) -> None:
    """Active -> completed (a cancelled event stays cancelled); records the finishing time."""
    await db.execute(
        "UPDATE grid_events SET status = CASE WHEN status = 'active' THEN 'completed'"
        " ELSE status END, finished_at = now(), updated_at = now(),"
        " note = coalesce($2, note) WHERE id = $1", event_id, note)


async def mark_missed(db: Db, event_id: int) -> None:
    """A scheduled event whose window passed with no dispatcher running: cancelled, noted."""
    await db.execute(
        "UPDATE grid_events SET status = 'cancelled', finished_at = now(), updated_at = now(),"
        " note = 'missed: no dispatcher ran during the event' WHERE id = $1"
        " AND status = 'scheduled'", event_id)


async def event_revision(db: Db, event_id: int) -> tuple[str, int, float | None, datetime]:
    """(status, revision, target kW, end) of an event, read at every control step."""
    row = await db.fetchrow(
        "SELECT status, revision, target_kw, ends_at FROM grid_events WHERE id = $1", event_id)
    if row is None:
        raise LookupError(f"no event {event_id}")
    return row[0], row[1], row[2], row[3]


async def events_in_month(db: Db, program: str, start: datetime,
                          end: datetime) -> list[EventRecord]:
    """The program's active or completed events starting in ``[start, end)``."""
    rows = await db.fetch(
        f"SELECT {_EVENT_COLUMNS} FROM grid_events WHERE program = $1 AND starts_at >= $2"
        " AND starts_at < $3 AND status IN ('active', 'completed') ORDER BY starts_at",
        program, start, end)
    return [_event_from(r) for r in rows]


async def try_dispatcher_lock(conn: Db) -> bool:
    """Take the dispatcher's advisory lock on this connection, if no other session holds it.

    The lock lives as long as the connection: keep a dedicated one open while dispatching.
    """
    return bool(await conn.fetchval("SELECT pg_try_advisory_lock($1)", DISPATCHER_LOCK))

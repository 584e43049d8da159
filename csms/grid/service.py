"""Operations on programs and events that the CLI (and tests) call: creating an event with its
capacity forecast, importing a market partner's dispatch, forecasting the fleet."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from csms.grid.forecast import FleetCapacity, fleet_capacity
from csms.grid.partner_dispatch import parse_dispatch
from csms.grid.plugged_in import usable_evs
from csms.grid.plugin_forecast import History, Nomination, Outlook, learn, nominate, outlook
from csms.grid.scheduler import Claim, arbitrate
from csms.store.db import Db
from csms.store.grid import events as store
from csms.store.grid import history as history_store
from csms.store.grid.records import GridEvent, GridInputError, Program

DEFAULT_PROGRAM = "default"
_NEW = 2**62  # the id a not yet created event is arbitrated under


async def program_or_default(db: Db, name: str | None) -> Program:
    """The named program; without a name, the program "default" (created on first use)."""
    if name is None:
        program = await store.get_program(db, DEFAULT_PROGRAM)
        if program is None:
            program = Program(DEFAULT_PROGRAM)
            await store.save_program(db, program, replace=True)
        return program
    program = await store.get_program(db, name)
    if program is None:
        raise LookupError(f"no program {name}")
    return program


def check_window(program: Program, start: datetime, end: datetime) -> None:
    """Raise GridInputError when the event breaks the program's window or length limits."""
    if program.max_duration_s is not None and (end - start).total_seconds() > \
            program.max_duration_s:
        raise GridInputError(f"the event is longer than program {program.name} allows "
                             f"({program.max_duration_s} s)")
    if program.window_start is None or program.window_end is None:
        return
    zone = ZoneInfo(program.timezone)
    local_start, local_end = start.astimezone(zone), end.astimezone(zone)
    if (local_end.date() != local_start.date() or local_start.time() < program.window_start
            or local_end.time() > program.window_end):
        raise GridInputError(
            f"program {program.name} allows events only between "
            f"{program.window_start:%H:%M} and {program.window_end:%H:%M} {program.timezone}")


async def committed_claims(db: Db, start: datetime, end: datetime,
                           exclude: int | None = None) -> list[Claim]:
    """The claims of the scheduled and active events overlapping ``[start, end]``."""
    programs = {p.name: p for p in await store.list_programs(db)}
    groups = await store.list_groups(db)
    claims = []
    for event in await store.open_events(db):
        if event.id == exclude or event.end <= start or event.start >= end:
            continue
        program = programs.get(event.program) or Program(event.program)
        members = None if event.group is None else groups.get(event.group, [])
        claims.append(Claim.of(event, program, members))
    return claims


async def forecast(db: Db, program: Program, start: datetime, end: datetime,
                   group: str | None = None, *, target_kw: float | None = None,
                   exclude: int | None = None) -> FleetCapacity:
    """The capacity forecast of the EVs plugged in now over ``[start, end]``, less what the
    events already scheduled over the window hold (arbitrated as the fleet scheduler will:
    an event of ``program`` with ``target_kw`` takes EVs from events it outranks)."""
    evs = await usable_evs(db, program, start, group=group)
    claims = await committed_claims(db, start, end, exclude)
    held: dict[str, int] = {}
    if claims:
        # the new event comes after those already there on equal priority, value and start
        mine = Claim.of(GridEvent(id=_NEW, program=program.name, start=start, end=end,
                                  target_kw=target_kw), program)
        result = arbitrate([*claims, mine], evs, start)
        held = {k: e for k, e in result.assigned.items() if e != _NEW}
    return fleet_capacity(evs, start, end, program.reserve_fraction, held)


@dataclass(frozen=True)
class Created:
    """A new event and the forecast it was created with."""

    event_id: int
    capacity: FleetCapacity
    shortfall_kw: float


async def create_event(db: Db, program_name: str | None, start: datetime, end: datetime,
                       target_kw: float | None, group: str | None = None) -> Created:
    """Schedule an event after checking it against its program, and record the forecast
    (capacity, firm capacity with reserve, shortfall against the target)."""
    if end <= start:
        raise GridInputError("the event must end after it starts")
    program = await program_or_default(db, program_name)
    check_window(program, start, end)
    capacity = await forecast(db, program, start, end, group, target_kw=target_kw)
    shortfall = capacity.shortfall_kw(target_kw)
    event_id = await store.create_event(db, program.name, start, end, target_kw, group=group)
    await store.set_forecast(db, event_id, capacity.total_kw, capacity.firm_kw, shortfall)
    return Created(event_id, capacity, shortfall)


@dataclass(frozen=True)
class Imported:
    """What importing one timeslot did."""

    external_id: str
    event_id: int
    action: str
    shortfall_kw: float | None


async def import_dispatch(db: Db, data: object, default_program: str | None) -> list[Imported]:
    """Create, update or cancel the events of a dispatch (de-duplicated on its id).

    A slot's program is the first of its ``programs`` that exists here, else
    ``default_program``; a slot naming only unknown programs with no default is an error, and
    nothing is imported.
    """
    _, slots = parse_dispatch(data)
    programs = {p.name: p for p in await store.list_programs(db)}
    chosen: list[Program] = []
    for i, slot in enumerate(slots):
        name = next((p for p in slot.programs if p in programs), None)
        if name is None:
            if default_program is None and slot.programs:
                raise GridInputError(f"timeslots[{i}].programs: no program here is called "
                                     f"{', '.join(slot.programs)} (add it, or pass --program)")
            program = await program_or_default(db, default_program)
            programs[program.name] = program
            name = program.name
        chosen.append(programs[name])
    out = []
    for slot, program in zip(slots, chosen, strict=True):
        event_id, action = await store.import_slot(
            db, slot.external_id, program.name, slot.start, slot.end, slot.target_kw,
            slot.nomination_kw, slot.cancelled, slot.raw)
        shortfall = None
        if action in ("created", "updated"):
            capacity = await forecast(db, program, slot.start, slot.end,
                                      target_kw=slot.target_kw, exclude=event_id)
            shortfall = capacity.shortfall_kw(slot.target_kw)
            await store.set_forecast(db, event_id, capacity.total_kw, capacity.firm_kw,
                                     shortfall)
        out.append(Imported(slot.external_id, event_id, action, shortfall))
    return out


async def learn_history(db: Db, program: Program, until: datetime, weeks: int,
                        group: str | None = None) -> History:
    """The plug-in model learnt from the ``weeks`` weeks of sessions before ``until``."""
    start = until - timedelta(weeks=weeks)
    zone = ZoneInfo(program.timezone)
    found = await history_store.sessions(db, start, until, group)
    socs = await history_store.hourly_soc(db, start, until, group)
    capacities = {f"{s}/{e}": v for (s, e), v in (await history_store.evse_capacities(db)).items()}
    return learn(found, socs, start, until, zone, capacities)


def _model_settings(program: Program) -> dict[str, float]:
    return {"floor_soc": program.floor_soc, "capacity_kwh": program.default_capacity_kwh,
            "charger_kw": program.default_charger_kw,
            "round_trip": program.round_trip_efficiency}


async def plugin_outlook(db: Db, program: Program, start: datetime, end: datetime, *,
                         weeks: int = 8, group: str | None = None,
                         now: datetime | None = None) -> Outlook:
    """The fleet's expected and firm (P90) kW over a future window, from the history."""
    if end <= start:
        raise GridInputError("the window must end after it starts")
    until = min(now or datetime.now(UTC), start)
    history = await learn_history(db, program, until, weeks, group)
    # thousands of draws per EVSE: off the event loop (the API serves meanwhile)
    return await asyncio.to_thread(outlook, history, start, end, **_model_settings(program))


async def suggest_nomination(db: Db, program: Program, month: str, *, weeks: int = 8,
                             group: str | None = None, now: datetime | None = None
                             ) -> Nomination:
    """A DSGS monthly nomination for ``month`` (YYYY-MM) from the history up to now."""
    history = await learn_history(db, program, now or datetime.now(UTC), weeks, group)
    window = ((program.window_start.hour, program.window_end.hour)
              if program.window_start and program.window_end else (16, 21))
    block_h = min(2.0, (program.max_duration_s or 7200) / 3600.0)
    # an outlook per candidate block (about 120 a month): off the event loop
    return await asyncio.to_thread(nominate, history, month, window, block_h, draws=1000,
                                   **_model_settings(program))  # type: ignore[arg-type]

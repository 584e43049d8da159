"""A driver's event earnings on their charger's display (OCPP O02/O06): at each control step
of an event whose program has a display message, each driver taking part sees what they have
earned so far, from the event's measurement and verification."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import asyncpg
import structlog

from csms.grid.report import build_report
from csms.operations.client import Operations
from csms.operations.display import submit_message
from csms.operations.outcome import Outcome
from csms.store import display
from csms.store.display import GRID_MESSAGE_BASE, DisplayCapabilities, DisplayMessage
from csms.store.grid import fleet as fleet_store
from csms.store.grid.records import (
    DISPLAY_FIELDS,
    DISPLAY_MESSAGE_MAX,
    GridEvent,
    Program,
    check_display_template,
)

log = structlog.get_logger("csms.grid.earnings_display")

#: How often a driver's earnings are shown again during an event (at most once per control
#: interval): a call per station per minute is little next to the dispatch profiles.
EARNINGS_EVERY_S = 60.0
#: How long after the event's end the last figure stays on the display.
EARNINGS_LINGER = timedelta(minutes=15)
#: The earnings message's priority, the first of these the station supports.
EARNINGS_PRIORITIES = ("InFront", "NormalCycle", "AlwaysFront")


@dataclass(frozen=True)
class EarningsShown:
    """One driver's earnings message: what it says, and the refusal if it was not sent (the
    station's answer to one that was is recorded by its node)."""

    station_id: str
    evse_id: int
    transaction_id: str
    earned: float
    content: str
    refused: Outcome | None = None


def render_earnings(template: str, *, earned: float, kwh: float, until: datetime) -> str:
    """``template`` with a driver's figures in its fields (see DISPLAY_FIELDS)."""
    check_display_template(template)
    values = {"earned": f"{earned:.2f}", "kwh": f"{kwh:.1f}",
              "until": until.strftime("%H:%M UTC")}
    assert set(values) == set(DISPLAY_FIELDS)
    return template.format_map(values)[:DISPLAY_MESSAGE_MAX]


def earnings_due(event: GridEvent, program: Program, now: datetime,
                 every_s: float = EARNINGS_EVERY_S) -> bool:
    """Whether the control step at ``now`` is the first since the last multiple of
    ``every_s`` (at least one control interval) from the event's start: the first step is.
    With ``every_s`` 0, always."""
    if every_s <= 0:
        return True
    every = max(every_s, float(program.control_interval_s))
    elapsed = (now - event.start).total_seconds()
    previous = elapsed - program.control_interval_s
    return previous < 0 or int(elapsed // every) != int(previous // every)


def earnings_message(content: str, evse_id: int, transaction_id: str, end: datetime,
                     capabilities: DisplayCapabilities) -> DisplayMessage:
    """The message showing a driver's earnings: one per EVSE (replaced each time, O06), for
    the driver's transaction only (O02), in a priority and format the station supports."""
    known = capabilities.priorities
    priority = next((p for p in EARNINGS_PRIORITIES if known is None or p in known),
                    EARNINGS_PRIORITIES[0])
    formats = capabilities.formats
    plain = content.isascii() and formats is not None and "UTF8" not in formats
    return DisplayMessage(content, priority, "ASCII" if plain else "UTF8",
                          transaction_id=transaction_id, end=end + EARNINGS_LINGER,
                          id=GRID_MESSAGE_BASE + evse_id)


async def show_event_earnings(ops: Operations, pool: asyncpg.Pool, event: GridEvent,
                              program: Program, now: datetime, *,
                              every_s: float = EARNINGS_EVERY_S) -> list[EarningsShown]:
    """Show each driver taking part in ``event`` what they have earned so far (the event's
    measurement and verification, :func:`csms.grid.report.build_report`), if the program has
    a display message and a figure is due (see :func:`earnings_due`).

    Called by the event runner at each control step; never raises for a database or station
    problem (it is logged) so that the control loop goes on. The calls are not waited for.
    """
    template = program.display_message
    if template is None or not earnings_due(event, program, now, every_s):
        return []
    try:
        return await _show_earnings(ops, pool, event, template, now)
    except (asyncpg.PostgresError, OSError, LookupError, ValueError) as exc:
        log.warning("grid.earnings_display_failed", event_id=event.id, error=str(exc))
        return []


async def _show_earnings(ops: Operations, pool: asyncpg.Pool, event: GridEvent,
                         template: str, now: datetime) -> list[EarningsShown]:
    rows = [r for r in await fleet_store.event_evs(pool, event.id)
            if r["state"] != "excluded" and not r["finished"]]
    running = await fleet_store.transactions_running(
        pool, [(r["station_id"], r["transaction_id"]) for r in rows])
    rows = [r for r in rows if (r["station_id"], r["transaction_id"]) in running]
    if not rows:
        return []
    report = await build_report(pool, event.id, now=now)
    end = report.event.end  # as it stands now: an event may be lengthened or cut short
    drivers = {d.key: d for d in report.drivers}
    stations = sorted({r["station_id"] for r in rows})
    capabilities = await display.display_capabilities(pool, stations)
    shown = await display.active_contents(
        pool, [(r["station_id"], GRID_MESSAGE_BASE + r["evse_id"]) for r in rows])
    out = []
    for r in rows:
        station_id, evse_id, tx = r["station_id"], r["evse_id"], r["transaction_id"]
        caps = capabilities[station_id]
        driver = drivers.get(f"{station_id}/{evse_id}")
        if caps.available is False or driver is None:
            continue
        content = render_earnings(template, earned=driver.earnings, kwh=driver.energy_kwh,
                                  until=end)
        if shown.get((station_id, GRID_MESSAGE_BASE + evse_id)) == (content, tx):
            continue  # the display says so already
        message = earnings_message(content, evse_id, tx, end, caps)
        refused = await submit_message(ops, station_id, message)
        out.append(EarningsShown(station_id, evse_id, tx, driver.earnings, content, refused))
    log.info("grid.earnings_shown", event_id=event.id, sent=sum(1 for s in out if not s.refused),
             refused=sum(1 for s in out if s.refused))
    return out

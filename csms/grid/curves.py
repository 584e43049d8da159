"""An event's curves at meter resolution: the fleet's measured export against the target,
each EV's part of it, and each EV's SoC against its floor and departure need.

Drawn by the dashboard's event page (live, then with the M&V report) and by the PNG report
(``csms events report --png``). Power is the stations' reported net export (Power.Active.Export
minus Import), each EV's held from one sample to the next on a grid of the program's event
meter interval; the settlement figures stay those of :mod:`csms.grid.report` (energy
registers).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from csms.store.db import Db
from csms.store.grid import events as store
from csms.store.grid import fleet as fleet_store
from csms.store.overview import curves

#: at most this many points on a chart (a long event's grid is coarser)
MAX_POINTS = 1500
#: a reading counts for this many grid steps after it at most (a station gone quiet is 0)
HOLD_STEPS = 3


@dataclass(frozen=True)
class EvCurve:
    """One EV of the event: its power on the grid, its SoC samples, its floor and need."""

    key: str
    station_id: str
    evse_id: int
    state: str
    reason: str | None
    kw: list[float]
    soc: list[tuple[datetime, float]]
    floor_percent: float | None
    need_percent: float | None
    departure_at: datetime | None
    setpoint_kw: float | None


@dataclass
class EventCurves:
    """The grid of times, the target on it, the fleet's export on it, and every EV's part."""

    event_id: int
    start: datetime
    end: datetime
    step_s: float
    times: list[datetime]
    target_kw: list[float | None]
    measured_kw: list[float]
    evs: list[EvCurve] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready (times as Unix seconds, as the page's charts take them)."""
        return {
            "event_id": self.event_id, "step_s": self.step_s,
            "start": self.start.timestamp(), "end": self.end.timestamp(),
            "times": [t.timestamp() for t in self.times],
            "target_kw": self.target_kw, "measured_kw": self.measured_kw,
            "evs": [{"key": e.key, "station_id": e.station_id, "evse_id": e.evse_id,
                     "state": e.state, "reason": e.reason, "kw": e.kw,
                     "soc": [[t.timestamp(), v] for t, v in e.soc],
                     "floor_percent": e.floor_percent, "need_percent": e.need_percent,
                     "departure_at": e.departure_at.timestamp() if e.departure_at else None,
                     "setpoint_kw": e.setpoint_kw} for e in self.evs],
        }


def grid_times(start: datetime, end: datetime, step_s: float) -> list[datetime]:
    """Times from ``start`` to ``end`` (both included) every ``step_s`` seconds."""
    count = max(1, math.floor((end - start).total_seconds() / step_s + 1e-9)) + 1
    return [start + timedelta(seconds=i * step_s) for i in range(count)]


def held(samples: Sequence[tuple[datetime, float]], times: Sequence[datetime],
         hold_s: float) -> list[float]:
    """Each time's latest sample at or before it, if no older than ``hold_s``; else 0."""
    out, n = [], 0
    for t in times:
        while n < len(samples) and samples[n][0] <= t:
            n += 1
        if n and (t - samples[n - 1][0]).total_seconds() <= hold_s:
            out.append(samples[n - 1][1])
        else:
            out.append(0.0)
    return out


def stepped(changes: Sequence[tuple[datetime, float | None]], times: Sequence[datetime],
            first: float | None) -> list[float | None]:
    """A value that changes at given times (``first`` before any), read at each time."""
    out, n, value = [], 0, first
    for t in times:
        while n < len(changes) and changes[n][0] <= t:
            value = changes[n][1]
            n += 1
        out.append(value)
    return out


def _percent(fraction: float | None) -> float | None:
    return None if fraction is None else fraction * 100.0


async def event_curves(db: Db, event_id: int, now: datetime | None = None) -> EventCurves:
    """The curves of an event from its start to its end (or now, while it runs)."""
    record = await store.get_event(db, event_id)
    if record is None:
        raise LookupError(f"no event {event_id}")
    event = record.event
    program = await store.get_program(db, event.program)
    meter_s = float(program.event_meter_interval_s) if program is not None else 5.0
    now = now or datetime.now(UTC)
    end = max(event.start, min(event.end, now, record.finished_at or event.end))
    span = (end - event.start).total_seconds()
    step = max(meter_s, span / MAX_POINTS)
    times = grid_times(event.start, end, step)
    rows = [r for r in await fleet_store.event_evs(db, event_id) if r["state"] != "excluded"]
    found = await curves(db, [(r["station_id"], r["transaction_id"]) for r in rows],
                         event.start, end)
    steps = await fleet_store.control_steps(db, event_id)
    target = stepped([(s["at"], s["target_kw"]) for s in steps], times, event.target_kw)
    evs = []
    for r in rows:
        curve = found[(r["station_id"], r["transaction_id"])]
        evs.append(EvCurve(
            key=f"{r['station_id']}/{r['evse_id']}", station_id=r["station_id"],
            evse_id=r["evse_id"], state=r["state"], reason=r["reason"],
            kw=held(curve.power, times, HOLD_STEPS * step), soc=curve.soc,
            floor_percent=_percent(r["floor_soc"]), need_percent=_percent(r["departure_soc"]),
            departure_at=r["departure_at"], setpoint_kw=r["setpoint_kw"]))
    measured = [sum(e.kw[i] for e in evs) for i in range(len(times))]
    return EventCurves(event_id, event.start, end, step, times, target, measured, evs)

"""One fleet scheduler for all events: which event each EV serves.

Events of different programs may overlap. The scheduler arbitrates: events in order of program
priority, then value ($ per kW per hour: the program's $/kWh, or its DSGS month's $/kW-month
over :data:`DSGS_EVENT_HOURS_PER_MONTH`), then start; each takes, from the EVs no event before
it took, enough to hold its target with its reserve (the EVs it already has first, so a
running event keeps its cars, then the ones that can give most), and what it takes is not
offered to the next. EVs no event needs go to the first event (spare capacity for its closed
loop). An EV belongs to one event at a time, so no two planners ever write the same dispatch
profile: a runner sends only to the EVs the scheduler grants it (:meth:`FleetScheduler.owns`).

Pure arbitration (:func:`arbitrate`) and the in-memory scheduler of the one dispatcher node
(:class:`FleetScheduler`); capacity forecasts use :func:`arbitrate` too, so ``csms fleet
capacity`` and event creation see only what the events already scheduled leave.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from csms.grid.ev import EV
from csms.grid.forecast import Capability, capability
from csms.grid.rates import monthly_rate
from csms.store.grid.records import GridEvent, Program

#: DSGS pays $/kW-month for the month's event hours: about 35 two-hour events a season of six
#: months, so a kW held for one event hour is worth the month's rate over about 12 hours.
DSGS_EVENT_HOURS_PER_MONTH = 12.0


def value_per_kwh(program: Program, when: datetime) -> float:
    """What one kW held for one hour earns under the program ($), for ordering events."""
    if program.compensation == "per-kwh":
        return program.rate_per_kwh
    rate = monthly_rate(when, program.monthly_rates)
    return 0.0 if rate is None else rate / DSGS_EVENT_HOURS_PER_MONTH


@dataclass(frozen=True)
class Claim:
    """An event asking for capacity."""

    event_id: int
    priority: int
    value: float
    start: datetime
    end: datetime
    target_kw: float | None
    reserve_fraction: float = 0.05
    group: frozenset[str] | None = None  #: station ids it may use (None: all)

    @classmethod
    def of(cls, event: GridEvent, program: Program,
           group: Iterable[str] | None = None) -> Claim:
        """The claim of an event under its program."""
        return cls(event.id, program.priority, value_per_kwh(program, event.start),
                   event.start, event.end, event.target_kw, program.reserve_fraction,
                   None if group is None else frozenset(group))

    @property
    def order(self) -> tuple[float, float, datetime, int]:
        """Sort key: priority, then value (both highest first), then start, then id."""
        return (-self.priority, -self.value, self.start, self.event_id)

    def wanted_kw(self) -> float:
        """kW to hold: the target with its reserve; everything for "as much as possible"."""
        if self.target_kw is None:
            return math.inf
        return self.target_kw * (1.0 + self.reserve_fraction)


@dataclass(frozen=True)
class Arbitration:
    """EV key -> event id for the EVs some event needs; ``spare``: EVs none needs."""

    assigned: dict[str, int]
    spare: frozenset[str]
    #: kW each event was given (its EVs' capability over its window)
    given_kw: dict[int, float] = field(default_factory=dict)


def arbitrate(claims: Sequence[Claim], evs: Sequence[EV], now: datetime,
              current: Mapping[str, int] | None = None) -> Arbitration:
    """Share the EVs among the claims (see the module docstring). ``current``: the assignment
    so far (an event keeps its EVs first). An EV's capability for a claim is over the rest of
    that claim's window (from ``now`` or its start, whichever is later)."""
    current = current or {}
    free = {ev.key: ev for ev in evs}
    assigned: dict[str, int] = {}
    given: dict[int, float] = {}
    for claim in sorted(claims, key=lambda c: c.order):
        begin = max(now, claim.start)
        if begin >= claim.end:
            continue
        caps: list[Capability] = [
            capability(ev, begin, claim.end) for key, ev in free.items()
            if claim.group is None or ev.station_id in claim.group]
        caps = [c for c in caps if c.kw > 0]
        caps.sort(key=lambda c: (current.get(c.key) != claim.event_id, -c.kw, c.key))
        wanted = claim.wanted_kw()
        total = 0.0
        for c in caps:
            if total >= wanted:
                break
            assigned[c.key] = claim.event_id
            total += c.kw
            del free[c.key]
        given[claim.event_id] = total
    return Arbitration(assigned, frozenset(free), given)


class FleetScheduler:
    """The dispatcher's one scheduler: the events running and which EVs each holds."""

    def __init__(self) -> None:
        self.claims: dict[int, Claim] = {}
        self.owner: dict[str, int] = {}
        self.evs: dict[str, EV] = {}

    def register(self, claim: Claim) -> None:
        """An event starts (or changes its target or end)."""
        self.claims[claim.event_id] = claim

    def release(self, event_id: int) -> None:
        """An event is over: its EVs are free for the others."""
        self.claims.pop(event_id, None)
        for key in [k for k, e in self.owner.items() if e == event_id]:
            del self.owner[key]

    def grant(self, event_id: int, evs: Sequence[EV], now: datetime) -> set[str]:
        """Re-arbitrate with the EVs an event sees now; the keys this event may use.

        Every runner calls this at each step with the EVs of its fleet (its group); EVs only
        another runner sees are kept (with their latest state), so each arbitration sees the
        whole fleet.
        """
        claim = self.claims.get(event_id)
        seen = {ev.key for ev in evs}
        for key in list(self.evs):
            # an EV this event should see but does not any more has left (or went offline)
            if key not in seen and (claim is None or claim.group is None
                                    or self.evs[key].station_id in claim.group):
                del self.evs[key]
                self.owner.pop(key, None)
        for ev in evs:
            self.evs[ev.key] = ev
        result = arbitrate(list(self.claims.values()), list(self.evs.values()), now,
                           self.owner)
        owner = dict(result.assigned)
        if self.claims:
            first = min(self.claims.values(), key=lambda c: c.order)
            for key in result.spare:
                ev = self.evs[key]
                if first.group is None or ev.station_id in first.group:
                    owner[key] = first.event_id
        self.owner = owner
        return {k for k, e in owner.items() if e == event_id}

    def owns(self, event_id: int, key: str) -> bool:
        """Whether the event may send to the EV now."""
        return self.owner.get(key) == event_id

    def holder(self, key: str) -> int | None:
        """The event holding an EV, if any."""
        return self.owner.get(key)

"""Capacity forecast: how many kW each plugged-in EV, and the fleet, can hold over a window.

An EV can give the energy it holds above what it must keep at the end of the window: the higher
of its floor and the charge from which it can still reach its departure target by recharging at
its charger's rate (derated by :data:`RECHARGE_DERATE`) between the window's end and departure.
Spread over the window and capped by the charger's and the car's discharge limits, that is the
power it can hold. Pure functions, no I/O.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from csms.grid.ev import EV
from csms.store.grid.records import GridInputError

#: Plan the recharge after an event at this fraction of the charger's rate (charge taper near
#: full, setpoint latency): the departure need is then met with a margin.
RECHARGE_DERATE = 0.9


def hours_between(start: datetime, end: datetime) -> float:
    """Length of ``[start, end]`` in hours; raises GridInputError unless end is after start."""
    hours = (end - start).total_seconds() / 3600.0
    if hours <= 0:
        raise GridInputError(f"the window must end after it starts ({start.isoformat()} to "
                             f"{end.isoformat()})")
    return hours


def keep_soc(ev: EV, window_end: datetime) -> float:
    """The lowest SoC the EV may have at ``window_end``: its floor, or more when the departure
    target could not otherwise be reached by recharging after the window."""
    keep = ev.floor_soc
    if ev.departure is not None and ev.departure_soc is not None:
        after_h = max(0.0, (ev.departure - window_end).total_seconds() / 3600.0)
        recharge_kwh = after_h * ev.max_charge_kw * RECHARGE_DERATE * ev.one_way_efficiency
        keep = max(keep, ev.departure_soc - recharge_kwh / ev.capacity_kwh)
    return min(1.0, keep)


@dataclass(frozen=True)
class Capability:
    """What one EV can give over a window.

    ``energy_kwh`` is grid-side (after discharge losses); ``kw`` the power it can hold for the
    whole window; ``reason`` says why it gives nothing, when it does not.
    """

    ev: EV
    kw: float
    energy_kwh: float
    keep_soc: float
    reason: str | None = None

    @property
    def key(self) -> str:
        """The EV's key (``station/evse``)."""
        return self.ev.key


def capability(ev: EV, start: datetime, end: datetime) -> Capability:
    """The kW ``ev`` can hold from ``start`` to ``end`` without going below what it must keep.

    Zero, with a reason, for an EV that opted out, leaves before ``end``, or has nothing above
    its floor and departure need.
    """
    hours = hours_between(start, end)
    keep = keep_soc(ev, end)
    if ev.opted_out:
        return Capability(ev, 0.0, 0.0, keep, "opted out")
    if ev.departure is not None and ev.departure < end:
        return Capability(ev, 0.0, 0.0, keep, "leaves before the event ends")
    battery_kwh = (ev.soc - keep) * ev.capacity_kwh
    if battery_kwh <= 0:
        reason = ("at or below its floor" if keep <= ev.floor_soc
                  else "needs its charge for departure")
        return Capability(ev, 0.0, 0.0, keep, reason)
    energy = battery_kwh * ev.one_way_efficiency
    kw = min(ev.max_discharge_kw, energy / hours)
    return Capability(ev, max(0.0, kw), energy, keep,
                      None if kw > 0 else "no discharge power")


@dataclass(frozen=True)
class FleetCapacity:
    """The fleet's forecast over a window.

    ``total_kw`` is the most it can hold; ``reserve_kw`` what to keep back so that losing any
    one EV (or ``reserve_fraction`` of the total, if more) still meets a nomination of
    ``firm_kw`` = total - reserve.
    """

    start: datetime
    end: datetime
    capabilities: tuple[Capability, ...]
    total_kw: float
    energy_kwh: float
    reserve_kw: float
    firm_kw: float

    @property
    def eligible(self) -> int:
        """How many EVs can give something."""
        return sum(1 for c in self.capabilities if c.kw > 0)

    def shortfall_kw(self, target_kw: float | None) -> float:
        """How much of ``target_kw`` the fleet cannot give (0 for "as much as possible")."""
        return 0.0 if target_kw is None else max(0.0, target_kw - self.total_kw)


def fleet_capacity(evs: Iterable[EV], start: datetime, end: datetime,
                   reserve_fraction: float = 0.05) -> FleetCapacity:
    """Forecast every EV over ``[start, end]`` and add them up (see :class:`FleetCapacity`)."""
    caps = tuple(sorted((capability(ev, start, end) for ev in evs), key=lambda c: c.key))
    total = sum(c.kw for c in caps)
    largest = max((c.kw for c in caps), default=0.0)
    reserve = min(total, max(reserve_fraction * total, largest))
    return FleetCapacity(start, end, caps, total, sum(c.energy_kwh for c in caps), reserve,
                         total - reserve)

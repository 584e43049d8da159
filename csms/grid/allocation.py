"""Splitting a target among eligible EVs so that they end the event with similar headroom.

Each EV ``i`` can give ``E_i`` kWh above what it must keep, at up to ``P_i`` kW. Giving ``p_i``
kW for the ``T`` hours left leaves it ``E_i - p_i T`` of headroom. The allocation finds the
common headroom ``h`` with ``sum(clip((E_i - h) / T, 0, P_i)) = target`` (water filling): the
EVs with the most to give give most, and no EV is ever planned below ``h >= 0``, that is below
its floor or its departure need. Pure functions, no I/O.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from csms.grid.forecast import Capability

#: Setpoints are sent with this resolution (kW).
STEP_KW = 0.1


@dataclass(frozen=True)
class Allocation:
    """The kW each EV is asked for (``shares``, keyed ``station/evse``).

    ``target_kw`` None was "as much as possible". ``planned_kw`` is what the shares add up to;
    ``shortfall_kw`` the part of the target beyond the EVs' capacity; ``spare_kw`` the power
    the EVs could still add (the reserve in hand); ``headroom_kwh`` the energy every
    partially-used EV keeps above its floor or departure need at the end.
    """

    target_kw: float | None
    planned_kw: float
    capacity_kw: float
    shortfall_kw: float
    spare_kw: float
    headroom_kwh: float
    shares: dict[str, float] = field(default_factory=dict)


def _power(energy: float, limit: float, headroom: float, hours: float) -> float:
    return min(limit, max(0.0, (energy - headroom) / hours))


def allocate(
    capabilities: Sequence[Capability],
    target_kw: float | None,
    hours: float,
    *,
    limits: Mapping[str, float] | None = None,
) -> Allocation:
    """Share ``target_kw`` (None: as much as possible) for the next ``hours`` among EVs.

    ``limits`` caps single EVs further (e.g. at what they were seen to deliver). Shares are
    multiples of :data:`STEP_KW`, never above an EV's capability, and add up to the target
    (rounded down to a step) when the fleet can give it, else to the fleet's capacity, with the
    difference reported as ``shortfall_kw``.
    """
    if hours <= 0 or not math.isfinite(hours):
        raise ValueError(f"hours must be positive, got {hours}")
    if target_kw is not None and (target_kw < 0 or not math.isfinite(target_kw)):
        raise ValueError(f"target_kw must be >= 0, got {target_kw}")
    limits = limits or {}
    items = [(c.key, c.energy_kwh, max(0.0, min(c.kw, limits.get(c.key, c.kw))))
             for c in capabilities if c.kw > 0]
    capacity = sum(limit for _, _, limit in items)
    wanted = capacity if target_kw is None else min(target_kw, capacity)
    if wanted >= capacity:
        headroom = 0.0
        raw = {key: limit for key, _, limit in items}
    else:
        low, high = 0.0, max((energy for _, energy, _ in items), default=0.0)
        for _ in range(100):
            mid = (low + high) / 2
            if sum(_power(e, p, mid, hours) for _, e, p in items) > wanted:
                low = mid
            else:
                high = mid
        headroom = high
        raw = {key: _power(e, p, high, hours) for key, e, p in items}
    shares = round_to_steps(raw, wanted, {key: limit for key, _, limit in items})
    planned = round(sum(shares.values()), 3)
    shortfall = 0.0 if target_kw is None else max(0.0, target_kw - capacity)
    return Allocation(target_kw, planned, capacity, shortfall, max(0.0, capacity - planned),
                      headroom, shares)


def round_to_steps(raw: Mapping[str, float], wanted: float,
                   limits: Mapping[str, float]) -> dict[str, float]:
    """Round shares down to steps, then hand out whole steps to the largest remainders."""
    steps = {k: math.floor(v / STEP_KW + 1e-9) for k, v in raw.items()}
    missing = math.floor(wanted / STEP_KW + 1e-9) - sum(steps.values())
    order = sorted(raw, key=lambda k: (-(raw[k] / STEP_KW - steps[k]), k))
    for key in order:
        if missing <= 0:
            break
        if (steps[key] + 1) * STEP_KW <= limits[key] + 1e-9:
            steps[key] += 1
            missing -= 1
    return {k: round(n * STEP_KW, 1) for k, n in sorted(steps.items()) if n > 0}

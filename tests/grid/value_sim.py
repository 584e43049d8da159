"""The optimiser and the equal-headroom heuristic side by side on the same simulated fleet,
without sockets: an event cut into intervals, each planned over the rest of the event
(receding horizon, as the closed loop does), the EVs' SoC moved by what they gave, then the
recharge for each departure within the site's import room. Shared by
``tests/grid/test_value.py`` and ``tests/benchmarks/bench_grid_value.py``.
"""

from __future__ import annotations

import math
import random
import statistics
import time
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta

from csms.grid.ev import EV
from csms.grid.forecast import RECHARGE_DERATE, capability
from csms.grid.optimiser import Problem, SiteRoom, solve
from csms.grid.sites import SiteCaps, allocate_within_sites, recharge_rates

T0 = datetime(2025, 8, 12, 23, 0, tzinfo=UTC)


@dataclass(frozen=True)
class Case:
    """A fleet at one site (or none), an event and its target."""

    name: str
    evs: tuple[EV, ...]
    target_kw: float
    intervals: int = 48
    hours: float = 2.0
    #: site export room kW (export limit + building load) and import room for recharging
    export_room_kw: float = math.inf
    import_room_kw: float = math.inf
    wear_per_kwh: float = 0.05


@dataclass
class Figures:
    """What one allocator did on a case."""

    tracking_error: list[float] = field(default_factory=list)  # |delivered - target| / target
    given_kwh: dict[str, float] = field(default_factory=dict)  # grid side, per EV
    cycled_kwh: dict[str, float] = field(default_factory=dict)  # out of the battery, per EV
    missed_needs: int = 0
    missed_kwh: float = 0.0
    site_violations: int = 0
    below_floor: int = 0
    solve_s: list[float] = field(default_factory=list)
    fallbacks: int = 0

    def summary(self) -> dict[str, float]:
        """The figures compared."""
        cycled = list(self.cycled_kwh.values()) or [0.0]
        given = list(self.given_kwh.values()) or [0.0]
        mean_given = statistics.fmean(given)
        return {
            "tracking_mean_pct": 100 * statistics.fmean(self.tracking_error),
            "tracking_worst_pct": 100 * max(self.tracking_error),
            "needs_missed": self.missed_needs,
            "needs_missed_kwh": self.missed_kwh,
            "cycled_kwh_mean": statistics.fmean(cycled),
            "cycled_kwh_max": max(cycled),
            "cycled_kwh_sd": statistics.pstdev(cycled),
            "earnings_cv": statistics.pstdev(given) / mean_given if mean_given else 0.0,
            "earnings_max_over_mean": max(given) / mean_given if mean_given else 0.0,
            "site_violations": self.site_violations,
            "below_floor": self.below_floor,
            "solve_ms_mean": 1000 * statistics.fmean(self.solve_s or [0.0]),
            "fallbacks": self.fallbacks,
        }


def run_case(case: Case, allocator: str, budget_s: float = 1.0) -> Figures:
    """Run the event with ``optimised`` or ``equal-headroom``; see the module docstring."""
    out = Figures()
    evs = {ev.key: ev for ev in case.evs}
    dt = case.hours / case.intervals
    end = T0 + timedelta(hours=case.hours)
    site_of = {k: "site" for k in evs} if math.isfinite(
        case.export_room_kw) or math.isfinite(case.import_room_kw) else {}
    rooms = {"site": SiteRoom(case.export_room_kw, case.import_room_kw)} if site_of else {}
    for t in range(case.intervals):
        now = T0 + timedelta(hours=t * dt)
        left = case.hours - t * dt
        caps = [capability(ev, now, end) for ev in evs.values()]
        started = time.perf_counter()
        if allocator == "optimised":
            plan = solve(Problem(caps, case.target_kw, left, end, {}, rooms, site_of,
                                 case.wear_per_kwh, case.intervals - t), budget_s)
            shares = plan.allocation.shares if plan.allocation else None
            if shares is None:
                out.fallbacks += 1
        else:
            shares = None
        if shares is None:
            sites = SiteCaps({"site": case.export_room_kw}, site_of) if site_of and math.isfinite(
                case.export_room_kw) else None
            shares = allocate_within_sites(caps, case.target_kw, left, sites=sites).shares
        out.solve_s.append(time.perf_counter() - started)
        delivered = sum(shares.values())
        if site_of and delivered > case.export_room_kw + 1e-6:
            out.site_violations += 1
        out.tracking_error.append(abs(delivered - case.target_kw) / case.target_kw)
        for key, kw in shares.items():
            ev = evs[key]
            battery = kw * dt / ev.one_way_efficiency
            soc = ev.soc - battery / ev.capacity_kwh
            if soc < ev.floor_soc - 1e-6:
                out.below_floor += 1
            evs[key] = replace(ev, soc=soc)
            out.given_kwh[key] = out.given_kwh.get(key, 0.0) + kw * dt
            out.cycled_kwh[key] = out.cycled_kwh.get(key, 0.0) + battery
    for key in evs:
        out.given_kwh.setdefault(key, 0.0)
        out.cycled_kwh.setdefault(key, 0.0)
    _recharge(case, evs, end, out)
    return out


def _recharge(case: Case, evs: dict[str, EV], end: datetime, out: Figures) -> None:
    """After the event: constant rates within the site's import room, as the runner sends
    them (:func:`csms.grid.sites.recharge_rates`), until each departure."""
    wants = {k: ev.max_charge_kw for k, ev in evs.items()
             if ev.departure and ev.departure > end and ev.departure_soc
             and ev.soc < ev.departure_soc}
    minimum = {k: (evs[k].departure_soc - evs[k].soc) * evs[k].capacity_kwh  # type: ignore
               / evs[k].one_way_efficiency
               / ((evs[k].departure - end).total_seconds() / 3600 * RECHARGE_DERATE)  # type: ignore
               for k in wants}
    rates = recharge_rates(minimum, wants, case.import_room_kw) if math.isfinite(
        case.import_room_kw) else wants
    if sum(rates.values()) > case.import_room_kw + 1e-6:
        out.site_violations += 1
    for key, kw in rates.items():
        ev = evs[key]
        hours = (ev.departure - end).total_seconds() / 3600  # type: ignore[operator]
        gain = kw * hours * ev.one_way_efficiency / ev.capacity_kwh
        evs[key] = replace(ev, soc=min(ev.departure_soc or 1.0, ev.soc + gain))
    for ev in evs.values():
        if ev.departure_soc and ev.soc < ev.departure_soc - 1e-3:
            out.missed_needs += 1
            out.missed_kwh += (ev.departure_soc - ev.soc) * ev.capacity_kwh


def fleet(n: int, seed: int, *, soc: tuple[float, float] = (0.3, 0.9),
          departure_h: tuple[float, float] | None = None, departure_soc: float | None = None,
          floor: float = 0.2) -> tuple[EV, ...]:
    """``n`` LEAFs (70 % 40 kWh, 30 % 62 kWh) on FE-20s (some FE-15s), random SoC; with
    ``departure_h``, leaving that many hours after the event (2 h long) wanting
    ``departure_soc``."""
    rng = random.Random(seed)
    out = []
    for i in range(n):
        capacity = 39.0 if rng.random() < 0.7 else 59.0
        kw = 20.0 if rng.random() < 0.8 else 15.0
        departure = None
        if departure_h is not None:
            departure = T0 + timedelta(hours=2 + rng.uniform(*departure_h))
        out.append(EV(f"CP{i + 1}", 1, f"tx{i + 1}", soc=rng.uniform(*soc),
                      capacity_kwh=capacity, floor_soc=floor, max_discharge_kw=kw,
                      max_charge_kw=kw, departure=departure,
                      departure_soc=departure_soc if departure else None))
    return tuple(out)


def cases() -> list[Case]:
    """The benchmark's scenarios."""
    return [
        Case("workplace, non-export (building 180 kW), 60 EVs, 250 kW asked",
             fleet(60, 1, departure_h=(1.0, 3.0), departure_soc=0.5), 250.0,
             export_room_kw=180.0),
        Case("depot, import room 150 kW, 40 EVs, 250 kW asked",
             fleet(40, 2, soc=(0.75, 0.95), departure_h=(1.0, 4.0), departure_soc=0.75,
                   floor=0.3), 250.0, import_room_kw=150.0),
        Case("fleet of 300 EVs, no site limit, 2000 kW asked",
             fleet(300, 3, departure_h=(2.0, 8.0), departure_soc=0.6), 2000.0),
        # target and departure needs cannot both be met: the optimiser keeps the needs
        Case("depot too tight: import room 120 kW, 40 EVs, 300 kW asked",
             fleet(40, 2, soc=(0.6, 0.95), departure_h=(1.0, 4.0), departure_soc=0.8,
                   floor=0.3), 300.0, import_room_kw=120.0),
    ]

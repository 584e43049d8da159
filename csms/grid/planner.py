"""What an event's plan must respect beyond each EV: the sites' import and export limits (and,
with the fleet scheduler, the EVs other events hold). I/O: reads the sites and their meters
and hands the closed loop an allocator (:data:`csms.grid.control.Allocator`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import structlog

from csms.grid.allocation import Allocation
from csms.grid.control import Allocator, Observation
from csms.grid.ev import EV
from csms.grid.forecast import RECHARGE_DERATE, Capability
from csms.grid.optimiser import Problem, SiteRoom, solve
from csms.grid.sites import (
    SiteCaps,
    allocate_within_sites,
    export_room,
    import_room,
    recharge_rates,
)
from csms.store.db import Db
from csms.store.grid import sites as site_store
from csms.store.grid.records import Program

log = structlog.get_logger("csms.grid.planner")


@dataclass(frozen=True)
class SiteView:
    """A site at one moment, seen by one event: the limits, the building's load, the net import
    of the site's chargers that are not this event's (controlled) EVs."""

    site: site_store.Site
    load: site_store.BuildingLoad
    others_import_kw: float

    @property
    def export_room_kw(self) -> float:
        """kW the event's EVs at the site may export now."""
        return export_room(self.site.export_kw, self.load.kw, self.others_import_kw)

    @property
    def import_room_kw(self) -> float:
        """kW the event's EVs at the site may draw now."""
        return import_room(self.site.import_kw, self.load.kw, self.others_import_kw)


async def site_views(db: Db, station_of: Mapping[str, str], pool_kw: Mapping[str, float],
                     now: datetime, stale_s: float) -> tuple[dict[str, SiteView],
                                                             dict[str, str]]:
    """The sites of the EVs ``station_of`` (key -> station) and key -> site.

    ``pool_kw`` is what each of the event's controlled EVs exports now (measured); the others'
    net import is the site's chargers' less theirs (from the main meter when the site has one:
    connection = building + chargers).
    """
    located = await site_store.site_of_stations(db, sorted(set(station_of.values())))
    site_of = {k: located[s] for k, s in station_of.items() if s in located}
    views: dict[str, SiteView] = {}
    since = now - timedelta(seconds=stale_s)
    for name in sorted(set(site_of.values())):
        site = await site_store.get_site(db, name)
        if site is None:
            continue
        load = await site_store.building_load(db, site, now, stale_s)
        pool_import = -sum(v for k, v in pool_kw.items() if site_of.get(k) == name)
        if load.connection_kw is not None:
            chargers = load.connection_kw - load.kw
        else:
            chargers = await site_store.chargers_import(db, site.stations, since)
        views[name] = SiteView(site, load, chargers - pool_import)
    return views, site_of


class EventPlanner:
    """Builds each control step's allocator for one event."""

    def __init__(self, db: Db, program: Program, event_id: int) -> None:
        self.db = db
        self.program = program
        self.event_id = event_id
        self.log = log.bind(event_id=event_id)
        self.views: dict[str, SiteView] = {}

    async def allocator(self, now: datetime, station_of: Mapping[str, str],
                        observations: Mapping[str, Observation],
                        controlled: Sequence[str], stale_s: float,
                        end: datetime | None = None) -> Allocator:
        """The allocator for this step: the optimiser over the rest of the event (program
        allocator ``optimised``), falling back to equal headroom on failure or overrun, or
        equal headroom alone; both keep every site's export room."""
        pool_kw = {k: observations[k].measured_kw or 0.0 for k in controlled
                   if k in observations}
        self.views, site_of = await site_views(self.db, station_of, pool_kw, now, stale_s)
        caps = SiteCaps({n: v.export_room_kw for n, v in self.views.items()}, site_of)
        if self.views:
            self.log.debug("grid.site_rooms", rooms={n: round(v.export_room_kw, 2)
                                                      for n, v in self.views.items()})

        def heuristic(capabilities: Sequence[Capability], target_kw: float | None,
                      hours: float, limits: Mapping[str, float]) -> Allocation:
            return allocate_within_sites(capabilities, target_kw, hours, limits=limits,
                                         sites=caps if caps.export_kw else None)

        if self.program.allocator != "optimised" or end is None:
            return heuristic
        rooms = {n: SiteRoom(v.export_room_kw, v.import_room_kw) for n, v in self.views.items()}
        program = self.program

        def optimised(capabilities: Sequence[Capability], target_kw: float | None,
                      hours: float, limits: Mapping[str, float]) -> Allocation:
            problem = Problem(capabilities, target_kw, hours, end, limits, rooms, site_of,
                              program.wear_cost_per_kwh)
            try:
                plan = solve(problem, program.solve_budget_s)
            except (ValueError, ArithmeticError) as exc:  # a problem HiGHS cannot take
                self.log.warning("grid.optimiser_fallback", why=f"error: {exc}")
                return heuristic(capabilities, target_kw, hours, limits)
            if plan.allocation is None or plan.solve_s > program.solve_budget_s:
                self.log.warning("grid.optimiser_fallback", why=plan.message,
                                 solve_s=round(plan.solve_s, 3),
                                 budget_s=program.solve_budget_s, evs=len(capabilities))
                return heuristic(capabilities, target_kw, hours, limits)
            self.log.debug("grid.optimised", solve_s=round(plan.solve_s, 4),
                           blocks=len(plan.block_h), missed_kwh=round(plan.missed_kwh, 3))
            return plan.allocation

        return optimised

    async def recharge_caps(self, now: datetime, evs: Sequence[EV],
                            pool_kw: Mapping[str, float], stale_s: float) -> dict[str, float]:
        """The charging kW each EV recharging for its departure may use: its charger's rate,
        or at a site its share of the import room (building and other chargers counted)."""
        wants = {ev.key: ev.max_charge_kw for ev in evs}
        # the rate that meets each need just in time (derated as the forecast plans)
        minimum = {ev.key: (ev.departure_soc - ev.soc) * ev.capacity_kwh / ev.one_way_efficiency
                   / max(1e-3, (ev.departure - now).total_seconds() / 3600.0 * RECHARGE_DERATE)
                   for ev in evs if ev.departure is not None and ev.departure_soc is not None}
        station_of = {ev.key: ev.station_id for ev in evs}
        views, site_of = await site_views(self.db, station_of, pool_kw, now, stale_s)
        out = dict(wants)
        for name, view in views.items():
            keys = [k for k in wants if site_of.get(k) == name]
            # what the EVs themselves do now (``pool_kw``) is not counted against them
            shares = recharge_rates(minimum, {k: wants[k] for k in keys}, view.import_room_kw)
            out.update(shares)
            self.log.info("grid.recharge_within_site", site=name,
                          room_kw=round(view.import_room_kw, 2),
                          shares={k: round(v, 2) for k, v in shares.items()})
        return out

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
from csms.grid.optimiser import MAX_INTERVALS, Problem, SiteRoom, solve
from csms.grid.sites import (
    SiteCaps,
    allocate_within_sites,
    building_forecast,
    export_room,
    import_room,
    recharge_rates,
)
from csms.store.db import Db
from csms.store.grid import sites as site_store
from csms.store.grid.records import Program

log = structlog.get_logger("csms.grid.planner")

#: how far past an event's end the building's load is read for the recharge after it
RECHARGE_LOOKAHEAD = timedelta(hours=24)


@dataclass(frozen=True)
class SiteView:
    """A site at one moment, seen by one event: the limits, the building's load, the net import
    of the site's chargers that are not this event's (controlled) EVs; and the imported
    building-load readings ahead (meter data or a forecast of it), from which the load of
    each later interval is forecast (:func:`csms.grid.sites.building_forecast`)."""

    site: site_store.Site
    load: site_store.BuildingLoad
    others_import_kw: float
    at: datetime | None = None
    readings: tuple[tuple[datetime, float], ...] = ()

    @property
    def export_room_kw(self) -> float:
        """kW the event's EVs at the site may export now."""
        return export_room(self.site.export_kw, self.load.kw, self.others_import_kw)

    @property
    def import_room_kw(self) -> float:
        """kW the event's EVs at the site may draw now."""
        return import_room(self.site.import_kw, self.load.kw, self.others_import_kw)

    def export_rooms(self, edges: Sequence[datetime]) -> list[float]:
        """kW the event's EVs at the site may export in each interval between ``edges``: the
        export limit plus the lowest building load forecast in that interval."""
        forecast = building_forecast(self.load.kw, self.at or edges[0], self.readings, edges)
        return [export_room(self.site.export_kw, low, self.others_import_kw)
                for low, _ in forecast]

    def import_room_over(self, start: datetime, stop: datetime) -> float:
        """kW the event's EVs at the site may draw at a constant rate from ``start`` to
        ``stop`` (the recharge after an event): the import limit less the highest building
        load forecast over that time."""
        if stop <= start:
            return self.import_room_kw
        [(_, high)] = building_forecast(self.load.kw, self.at or start, self.readings,
                                        [start, stop])
        return import_room(self.site.import_kw, high, self.others_import_kw)


async def site_views(db: Db, station_of: Mapping[str, str], pool_kw: Mapping[str, float],
                     now: datetime, stale_s: float, until: datetime | None = None
                     ) -> tuple[dict[str, SiteView], dict[str, str]]:
    """The sites of the EVs ``station_of`` (key -> station) and key -> site.

    ``pool_kw`` is what each of the event's controlled EVs exports now (measured); the others'
    net import is the site's chargers' less theirs (from the main meter when the site has one:
    connection = building + chargers). With ``until``, each view holds the imported
    building-load readings up to then.
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
        readings = () if until is None else tuple(
            await site_store.load_readings(db, name, now, until))
        views[name] = SiteView(site, load, chargers - pool_import, now, readings)
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
        self.views, site_of = await site_views(
            self.db, station_of, pool_kw, now, stale_s,
            None if end is None else end + RECHARGE_LOOKAHEAD)
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
        program = self.program
        views = self.views
        # the LP's intervals over the rest of the event; each site's export room in each,
        # from the building's load forecast for it
        edges = [now + (end - now) * t / MAX_INTERVALS for t in range(MAX_INTERVALS + 1)]
        export_rooms = {n: v.export_rooms(edges) for n, v in views.items()}

        def optimised(capabilities: Sequence[Capability], target_kw: float | None,
                      hours: float, limits: Mapping[str, float]) -> Allocation:
            rooms = {}
            for name, view in views.items():
                # constant recharge rates after the event, under the highest building load
                # forecast until the last of the site's cars has left
                departures = [c.ev.departure for c in capabilities
                              if site_of.get(c.key) == name and c.ev.departure is not None
                              and c.ev.departure > end]
                rooms[name] = SiteRoom(export_rooms[name], view.import_room_over(
                    end, max(departures)) if departures else view.import_room_kw)
            problem = Problem(capabilities, target_kw, hours, end, limits, rooms, site_of,
                              program.wear_cost_per_kwh, MAX_INTERVALS)
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
        departure_of = {ev.key: ev.departure for ev in evs}
        last = max((ev.departure for ev in evs if ev.departure is not None), default=None)
        views, site_of = await site_views(self.db, station_of, pool_kw, now, stale_s, last)
        out = dict(wants)
        for name, view in views.items():
            keys = [k for k in wants if site_of.get(k) == name]
            leaving = [d for k in keys if (d := departure_of.get(k)) is not None]
            # the rates are constant: they fit under the highest building load forecast
            # until the last of these cars leaves
            room = view.import_room_over(now, max(leaving)) if leaving else view.import_room_kw
            # what the EVs themselves do now (``pool_kw``) is not counted against them
            shares = recharge_rates(minimum, {k: wants[k] for k in keys}, room)
            out.update(shares)
            self.log.info("grid.recharge_within_site", site=name, room_kw=round(room, 2),
                          shares={k: round(v, 2) for k, v in shares.items()})
        return out

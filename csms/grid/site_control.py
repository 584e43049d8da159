"""Site load management: every site's chargers and building kept under its import limit, at
all times, not only around grid events.

The controller runs on the node that leads the grid dispatcher (one in the whole system; a new
leader picks up from the store). Every ``tick_s`` it looks at each site with stations: the
building's load (main meter less the chargers, or imported readings, as the event planner
reads it; never below the main meter less what the capped chargers may draw), the cars plugged
in (their rate and departure need), the EVs a grid event holds and the charging its plan asks,
the stations that do not take its cap. It re-plans when a car plugs in or leaves, an event
takes or lets go of an EV or changes its charging, the site's limit changes, the building's
load moves by more than half the margin, the connection comes near the limit, and every
``period_s``; :func:`csms.grid.sites.share_site` shares the room.

Each station gets a **ChargingStationMaxProfile** on EVSE 0 (:mod:`csms.grid.site_caps`: one
stack level, one profile id per station kept in the store): the sum of its EVSEs' shares. A
station maximum combines with the transaction's profiles by the minimum (K08 composite), so it
caps the need profile installed on NotifyEVChargingNeeds, any TxDefault and the dispatcher's own
TxProfiles without ever touching them, and it limits charging only: a discharge setpoint
(negative) stays below any positive cap. Lowered caps go out first and the raised ones only once
every lowered one is accepted, so a re-balance never adds up to more than the room on the way.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

import structlog

from csms import metrics
from csms.grid.ev import EV
from csms.grid.forecast import RECHARGE_DERATE
from csms.grid.plugged_in import load_fleet
from csms.grid.site_caps import SITE_CAP_PURPOSE, SITE_CAP_STACK_LEVEL, CapTiming, StationCaps
from csms.grid.sites import Demand, SiteShares, margin, share_site
from csms.operations import Operations
from csms.operations.profiles import believed_profiles
from csms.smartcharging import setpoint_at
from csms.store.base import utcnow
from csms.store.db import Db
from csms.store.grid import site_control as store
from csms.store.grid import sites as site_store
from csms.store.grid.fleet import PluggedIn, latest_power, online_stations
from csms.store.grid.records import Program
from csms.store.grid.site_control import PlanRow, ShareRow

log = structlog.get_logger("csms.grid.site_control")

#: a car drawing this much less than its share (once settled) gives the rest back
RELEASE_KW = 2.0


@dataclass(frozen=True)
class SiteControlSettings:
    """``tick_s``: how often sites are looked at; ``period_s``: a full re-plan at least this
    often; ``stale_s``: main-meter readings older than this are not used; ``settle_s``: how
    long a car gets to reach a new cap before its draw is judged; ``smooth_s``: the building
    load is planned with from the meters' means over this long; ``refused_retry_s``: a
    station that refused its cap is asked again after this long (at once on reconnection)."""

    tick_s: float = 1.0
    period_s: float = 30.0
    stale_s: float = 60.0
    settle_s: float = 5.0
    smooth_s: float = 6.0
    refused_retry_s: float = 300.0
    call_timeout: float = 20.0


@dataclass
class _Memo:
    """The inputs of a site's last plan and what it gave."""

    planned_at: datetime
    import_kw: float
    building_kw: float
    fingerprint: frozenset[tuple[str, str, float]]
    shares: dict[str, float]
    caps: dict[str, float]
    #: the stations counted as they stand (offline, or without the cap they were sent)
    loose: frozenset[str]
    over_at: datetime | None = None


@dataclass
class _Inputs:
    """What one tick reads for every site at once."""

    fleet: list[tuple[PluggedIn, EV | None, str | None]]
    holds: dict[tuple[str, int], float]
    online: set[str]
    power: dict[tuple[str, str], tuple[float, datetime]]
    stations_with_tx: set[str] = field(default_factory=set)


def departure_minimum_kw(ev: EV | None, now: datetime) -> float:
    """The charging rate that meets an EV's departure need just in time (derated as the
    forecast plans), 0 without a need."""
    if ev is None or ev.departure is None or ev.departure_soc is None:
        return 0.0
    if ev.departure <= now or ev.departure_soc <= ev.soc:
        return 0.0
    hours = max(1e-3, (ev.departure - now).total_seconds() / 3600.0 * RECHARGE_DERATE)
    return (ev.departure_soc - ev.soc) * ev.capacity_kwh / ev.one_way_efficiency / hours


class SiteController:
    """Run :meth:`run` as a task on the leading node; :meth:`wake` asks for a look now."""

    def __init__(self, operations: Operations, node_id: str,
                 settings: SiteControlSettings | None = None,
                 program: Program | None = None) -> None:
        self.ops = operations
        self.pool = operations.pool
        self.node_id = node_id
        self.settings = settings or SiteControlSettings()
        #: defaults for what cars do not report (charger rate, capacity)
        self.program = program or Program("site-control")
        self.log = log.bind(node_id=node_id)
        self._wake = asyncio.Event()
        self._memo: dict[str, _Memo] = {}
        #: the stations' caps: loaded from the store when this node starts leading
        self._caps: StationCaps | None = None

    def wake(self) -> None:
        """Look at the sites now (a grid event stepped, started or ended)."""
        self._wake.set()

    async def run(self) -> None:
        """Tick until cancelled; a fault in one tick is logged and the next tick runs."""
        while True:
            self._wake.clear()
            try:
                await self.tick(utcnow())
            except Exception as exc:  # the controller must outlive any fault
                self.log.warning("site.control_error", error=str(exc) or repr(exc))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.settings.tick_s)

    # -- one tick ------------------------------------------------------------------------------

    async def tick(self, now: datetime) -> None:
        """Look at every site once: re-plan those that need it, send the caps that changed,
        retry the stations that did not get theirs, release stations no longer at a site."""
        takeover = self._caps is None
        if self._caps is None:
            # a new leader: what its predecessor installed is in the store; every cap is
            # sent again once (the predecessor may have sent one it did not live to record)
            s = self.settings
            self._caps = await StationCaps.load(
                self.ops, CapTiming(s.settle_s, s.refused_retry_s, s.call_timeout),
                self.node_id)
        sites = [s for s in await site_store.list_sites(self.pool) if s.stations]
        managed = sorted({st for s in sites for st in s.stations})
        at_sites = set(managed)
        orphans = [st for st in self._caps.stations() if st not in at_sites]
        if orphans:
            await self._caps.release(orphans)
        if not sites:
            return
        inputs = await self._read(managed, now)
        for site in sites:
            await self._control(site, inputs, now, takeover)
        self._caps.online = inputs.online

    async def _read(self, managed: Sequence[str], now: datetime) -> _Inputs:
        fleet = await load_fleet(self.pool, self.program, now, stations=managed)
        since = now - timedelta(seconds=self.settings.stale_s)
        return _Inputs(fleet, await store.event_holds(self.pool),
                       await online_stations(self.pool, managed),
                       await latest_power(self.pool, managed, since),
                       {row.station_id for row, _, _ in fleet})

    def _demands(self, site: site_store.Site, inputs: _Inputs, now: datetime,
                 memo: _Memo | None) -> tuple[list[Demand], dict[str, tuple[str | None,
                                                                              float | None]]]:
        """The site's demands, and per key (transaction, measured import kW).

        A station that is offline, or did not take its last cap, is counted as it stands:
        what its cars may draw (their rate, or more if measured), or what an arriving car may
        take, no more than the cap it holds.
        """
        assert self._caps is not None
        demands: list[Demand] = []
        about: dict[str, tuple[str | None, float | None]] = {}
        default_kw = self.program.default_charger_kw
        bound: dict[str, float] = {}
        for row, ev, _ in inputs.fleet:
            if row.station_id not in site.stations:
                continue
            key = f"{row.station_id}/{row.evse_id}"
            reading = inputs.power.get((row.station_id, row.transaction_id))
            measured = None if reading is None else -reading[0]
            about[key] = (row.transaction_id, measured)
            rate = ev.max_charge_kw if ev is not None else default_kw
            if not self._caps.controlled(row.station_id, inputs.online):
                bound[row.station_id] = bound.get(row.station_id, 0.0) + max(rate, measured or 0)
                continue
            held = inputs.holds.get((row.station_id, row.evse_id))
            if held is not None:
                demands.append(Demand(key, row.station_id, "event", max(0.0, -held)))
                continue
            want = rate
            changed = self._caps.changed_at(row.station_id)
            if (memo is not None and reading is not None and measured is not None
                    and key in memo.shares and changed is not None
                    and reading[1] >= changed + timedelta(seconds=self.settings.settle_s)
                    and measured < memo.shares[key] - RELEASE_KW):
                # it draws well under its share: the rest goes to the others; it keeps
                # RELEASE_KW more than it draws (in whole kW, so that the plan does not move
                # with every sample), and so grows back if it wants more
                want = min(rate, math.ceil(max(0.0, measured) + RELEASE_KW))
            demands.append(Demand(key, row.station_id, "charging", want,
                                  min(want, departure_minimum_kw(ev, now))))
        for station in site.stations:
            if not self._caps.controlled(station, inputs.online):
                kw = bound.get(station, default_kw)
                cap = self._caps.get(station)
                if cap is not None and cap.installed_kw is not None:
                    kw = min(kw, cap.installed_kw)
                demands.append(Demand(f"{station}/0", station, "uncontrolled", kw))
            elif station not in inputs.stations_with_tx:
                demands.append(Demand(f"{station}/0", station, "idle", default_kw))
        return demands, about

    async def _building(self, site: site_store.Site, load: site_store.BuildingLoad,
                        now: datetime, memo: _Memo | None) -> float:
        """The building's load to plan with.

        With a main meter: its mean over the last ``smooth_s`` less the chargers' mean over
        the same span (each charger's latest sample when it reported none there), since the
        chargers' and the meter's samples are not taken at the same moments. While a cap
        change is still working through the chargers (``settle_s``, then ``smooth_s`` of
        means), that difference is off by the chargers' steps, and the last planned figure
        holds. Either way, never below the connection now less what the capped chargers may
        draw (:meth:`StationCaps.bound`), which follows a rise of the building's load at once.
        Without a main meter: the imported readings, else 0.
        """
        building = load.kw
        if site.meter_station_id is None or load.connection_kw is None:
            return building
        assert self._caps is not None
        last = self._caps.last_change(site.stations)
        quiet = last is None or now >= last + timedelta(
            seconds=self.settings.settle_s + self.settings.smooth_s)
        if quiet or memo is None:
            means = await store.mean_power(
                self.pool, sorted({*site.stations, site.meter_station_id}),
                now - timedelta(seconds=self.settings.smooth_s),
                now - timedelta(seconds=self.settings.stale_s))
            connection = means.get((site.meter_station_id, 0))
            if connection is not None:
                chargers = sum(kw for (st, evse), kw in means.items()
                               if evse > 0 and st in site.stations)
                building = max(0.0, connection - chargers)
        else:
            building = memo.building_kw
        bounds = [self._caps.bound(st, now) for st in site.stations]
        if all(b is not None for b in bounds):
            building = max(building, load.connection_kw - sum(b or 0.0 for b in bounds))
        return building

    def _near_limit(self, site: site_store.Site, memo: _Memo | None,
                    connection: float | None, building: float, now: datetime) -> float | None:
        """When the connection comes within half the margin of the limit although every
        charger has had ``settle_s`` to reach its cap (at most once per ``settle_s``): the
        building's load seen from the connection less the caps (what the estimate missed),
        else None."""
        assert self._caps is not None
        if memo is None or connection is None:
            return None
        if connection <= site.import_kw - 0.5 * margin(site.import_kw, building):
            return None
        settle = timedelta(seconds=self.settings.settle_s)
        last = self._caps.last_change(site.stations)
        if (last is not None and now < last + settle) or (
                memo.over_at is not None and now < memo.over_at + settle):
            return None
        caps = [self._caps.get(st) for st in site.stations]
        if any(c is None or c.installed_kw is None for c in caps):
            return None
        memo.over_at = now
        return max(building, connection - sum(c.installed_kw or 0.0 for c in caps
                                              if c is not None))

    def _trigger(self, site: site_store.Site, memo: _Memo | None, building: float,
                 fingerprint: frozenset[tuple[str, str, float]], now: datetime,
                 takeover: bool, near: bool) -> str | None:
        """Why the site is re-planned now, or None."""
        s = self.settings
        if memo is None:
            return "takeover" if takeover else "start"
        if site.import_kw != memo.import_kw:
            return "limit"
        if fingerprint != memo.fingerprint:
            return "fleet"
        if near:
            return "near limit"
        # a rise is followed closely (the margin is what absorbs it), a fall less eagerly
        step = building - memo.building_kw
        if step > 0.5 * margin(site.import_kw, building) or -step > margin(site.import_kw,
                                                                           building):
            return "building"
        if now >= memo.planned_at + timedelta(seconds=s.period_s):
            return "period"
        return None

    async def _control(self, site: site_store.Site, inputs: _Inputs, now: datetime,
                       takeover: bool) -> None:
        assert self._caps is not None
        memo = self._memo.get(site.name)
        load = await site_store.building_load(self.pool, site, now, self.settings.stale_s)
        building = await self._building(site, load, now, memo)
        corrected = self._near_limit(site, memo, load.connection_kw, building, now)
        if corrected is not None:
            building = corrected
        demands, about = self._demands(site, inputs, now, memo)
        fingerprint = frozenset((d.key, d.kind, round(d.want_kw, 1)) for d in demands)
        trigger = self._trigger(site, memo, building, fingerprint, now, takeover,
                                corrected is not None)
        if trigger is None:
            assert memo is not None
            # nothing to re-plan: only the caps not delivered yet are sent again
            await self._caps.apply(memo.caps, memo.loose, inputs.online, now, force=False)
            return
        limits, overridden = await self.station_limits(site.stations, now)
        for station in overridden:
            # another station maximum above the cap's stack level wins (K08): the station is
            # counted as it stands, at most that maximum
            mine = [d for d in demands if d.station_id == station]
            kw = min(limits.get(station, math.inf), sum(d.want_kw for d in mine))
            demands = [d for d in demands if d.station_id != station]
            demands.append(Demand(f"{station}/0", station, "uncontrolled", kw))
        demands = [replace(d, want_kw=min(d.want_kw, limits[d.station_id]),
                           minimum_kw=min(d.minimum_kw, limits[d.station_id]))
                   if d.station_id in limits and d.kind != "uncontrolled" else d
                   for d in demands]
        shares = share_site(site.import_kw, building, demands)
        caps = {st: math.floor(min(kw, limits.get(st, math.inf)) * 10 + 1e-6) / 10
                for st, kw in shares.station_caps(demands).items()}
        loose = frozenset(d.station_id for d in demands if d.kind == "uncontrolled")
        self._memo[site.name] = _Memo(now, site.import_kw, building, fingerprint,
                                      dict(shares.shares), caps, loose,
                                      memo.over_at if memo is not None else None)
        await self._save(site, load.source, load.connection_kw, building, shares, demands,
                         about, trigger, now)
        metrics.site_planned(site.name, shares.room_kw, shares.headroom_kw)
        self.log.info("site.planned", site=site.name, trigger=trigger,
                      building_kw=round(building, 2), room_kw=round(shares.room_kw, 2),
                      caps={st: kw for st, kw in caps.items()})
        if not await self._caps.apply(caps, loose, inputs.online, now, force=trigger == "takeover"):
            # a lowered cap did not arrive: the raised ones wait, and the site is planned
            # again with that station counted as it stands
            self._memo.pop(site.name, None)

    async def station_limits(self, stations: Sequence[str], now: datetime
                              ) -> tuple[dict[str, float], set[str]]:
        """kW each station may draw now under the limits others set on it: an operator's own
        ChargingStationMaxProfile (on another stack level) and the external constraints the
        station reported (NotifyChargingLimit); a share above them would be wasted. And the
        stations where another station maximum has a higher stack level than the cap's."""
        assert self._caps is not None
        out: dict[str, float] = {}
        overridden: set[str] = set()
        limited = await store.limited_stations(
            self.pool, {st: self._caps.profile_id(st) for st in stations})
        for station in sorted(limited):
            known, version = await self.ops.station_version(station)
            if not known or version is None:
                continue
            ours = self._caps.profile_id(station)
            installed = await believed_profiles(self.pool, station, version)
            others = [e for e in installed if e.evse_id == 0 and e.profile.id != ours]
            if not others:
                continue
            if any(e.profile.purpose == SITE_CAP_PURPOSE
                   and e.profile.stack_level > SITE_CAP_STACK_LEVEL for e in others):
                overridden.add(station)
            limit = setpoint_at(others, 0, now).charge_limit_w
            if limit is not None:
                out[station] = max(0.0, limit / 1000.0)
        return out, overridden

    async def _save(self, site: site_store.Site, source: str, connection: float | None,
                    building: float, shares: SiteShares, demands: Sequence[Demand],
                    about: Mapping[str, tuple[str | None, float | None]], trigger: str,
                    now: datetime) -> None:
        rows = []
        for d in demands:
            station, evse = d.key.rsplit("/", 1)
            tx, measured = about.get(d.key, (None, None))
            rows.append(ShareRow(station, int(evse), tx, d.kind, d.want_kw, d.minimum_kw,
                                 shares.shares.get(d.key, 0.0), measured))
        await store.save_plan(self.pool, PlanRow(
            site.name, now, self.node_id, site.import_kw, building, source, connection,
            shares.room_kw, shares.allocated_kw, shares.headroom_kw, trigger), rows)



async def site_status(db: Db, name: str) -> dict[str, Any]:
    """The site controller's latest plan for a site as plain fields: when, the room under the
    import limit, the headroom left, and each EVSE's allocation with its station's cap state."""
    plan, shares = await store.site_plan(db, name)
    caps = await store.station_caps(db, sorted({s.station_id for s in shares}))
    if plan is None:
        return {"planned_at": None, "room_kw": None, "allocated_kw": None,
                "headroom_kw": None, "allocations": []}
    return {
        "planned_at": plan.planned_at, "room_kw": round(plan.room_kw, 2),
        "allocated_kw": round(plan.allocated_kw, 2), "headroom_kw": round(plan.headroom_kw, 2),
        "plan_trigger": plan.trigger, "planned_building_kw": round(plan.building_kw, 2),
        "allocations": [
            {"station": s.station_id, "evse": s.evse_id, "transaction": s.transaction_id,
             "kind": s.kind, "share_kw": round(s.share_kw, 2), "want_kw": round(s.want_kw, 2),
             "minimum_kw": round(s.minimum_kw, 2),
             "measured_kw": None if s.measured_kw is None else round(s.measured_kw, 2),
             "cap_kw": caps[s.station_id].installed_kw if s.station_id in caps else None,
             "cap_status": caps[s.station_id].status if s.station_id in caps else None}
            for s in shares]}

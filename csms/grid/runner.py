"""One event in progress: activation, the control steps, and the end.

At activation the EVs plugged in (of the event's group) are split into those taking part and
those excluded (opted out, leaving before the end, needing their charge, SoC unknown); the
stations taking part report meter values every ``event_meter_interval_s`` for the event. Every
control interval the closed loop (:mod:`csms.grid.control`) judges each EV on its latest
meter values and re-allocates; a profile a station refuses is re-allocated at once. At the end
(or on cancellation) the dispatch profiles are cleared, the meter-value rate is restored, and
each EV that has a departure target gets a charging profile that meets it.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

import asyncpg
import structlog

from csms import metrics
from csms.grid.control import (
    Aside,
    LoopSettings,
    LoopState,
    Observation,
    StepOutcome,
    control_step,
    restore_state,
)
from csms.grid.earnings_display import show_event_earnings
from csms.grid.ev import EV
from csms.grid.forecast import capability
from csms.grid.planner import EventPlanner
from csms.grid.plugged_in import load_fleet
from csms.grid.scheduler import Claim, FleetScheduler
from csms.grid.sending import NOT_DELIVERED, Dispatch, dispatch_profile_id
from csms.operations import Outcome
from csms.operations.profiles import DISPATCH_STACK_LEVEL
from csms.smartcharging import ProfileRuleError, need_model
from csms.store import events_feed
from csms.store.events_feed import FeedType
from csms.store.grid import events as store
from csms.store.grid import fleet as fleet_store
from csms.store.grid import site_control
from csms.store.grid.fleet import PluggedIn
from csms.store.grid.records import GridEvent, Program

#: Reasons that keep an EV out of an event from its start.
EXCLUDING = frozenset({"opted out", "leaves before the event ends",
                       "needs its charge for departure"})


@dataclass(frozen=True)
class Member:
    """An EV taking part: where to reach it."""

    station_id: str
    evse_id: int
    transaction_id: str
    version: str

    @property
    def key(self) -> str:
        """``station/evse``."""
        return f"{self.station_id}/{self.evse_id}"


class EventRunner:
    """Runs one active event; the dispatcher calls :meth:`activate` (or :meth:`resume`), then
    :meth:`step` whenever :attr:`next_at` has come, until it returns False."""

    def __init__(self, pool: asyncpg.Pool, sender: Dispatch, event: GridEvent,
                 program: Program, *, call_timeout: float = 20.0,
                 scheduler: FleetScheduler | None = None) -> None:
        self.pool = pool
        self.sender = sender
        self.event = event
        self.program = program
        self.call_timeout = call_timeout
        self.log = structlog.get_logger("csms.grid").bind(event_id=event.id)
        self.members: dict[str, Member] = {}
        #: every EVSE with a row in the event (taking part, excluded or set aside)
        self.known: set[str] = set()
        self.state = LoopState()
        self.rejected: set[str] = set()
        self.step_no = 0
        #: the next step sends every EV in the loop its setpoint, changed or not (after resume)
        self._resend = False
        self.next_at = event.start
        self.target = event.target_kw
        self.end = event.end
        self.revision = event.revision
        self.planner = EventPlanner(pool, program, event.id)
        #: shared by every event of the dispatcher: which event each EV serves
        self.scheduler = scheduler or FleetScheduler()
        self.granted: set[str] = set()
        ci = program.control_interval_s
        self.settings = LoopSettings(settle_s=program.settle_s, offline_grace_s=2.0 * ci,
                                     stale_s=max(3.0 * program.event_meter_interval_s, ci),
                                     retry_s=program.retry_s)

    # -- start -----------------------------------------------------------------------------

    async def activate(self, now: datetime) -> None:
        """Choose the EVs taking part, raise their meter-value rate, and run the first step."""
        fleet = await load_fleet(self.pool, self.program, now, group=self.event.group,
                                 event_id=self.event.id)
        self._claim(fleet, now)
        rows = [self._enrol(plugged, ev, reason, now) for plugged, ev, reason in fleet]
        await fleet_store.save_event_evs(self.pool, self.event.id, rows)
        self.log.info("grid.event_active", taking_part=len(self.members),
                      excluded=len(rows) - len(self.members), target_kw=self.target)
        await self._raise_meter_rate(list(self.members.values()))
        await events_feed.grid_event(
            self.pool, FeedType.EVENT_STARTED, self.event.id, program=self.program.name,
            target_kw=self.target, end=self.end, taking_part=len(self.members))
        await self.step(now)

    def _enrol(self, plugged: PluggedIn, ev: EV | None, reason: str | None,
               now: datetime) -> dict[str, Any]:
        """The event's row for a plugged-in EV; one that can take part becomes a member."""
        row: dict[str, Any] = {
            "station_id": plugged.station_id, "evse_id": plugged.evse_id,
            "transaction_id": plugged.transaction_id, "id_token": plugged.id_token,
            "version": ev.version if ev else "2.0.1", "state": "excluded",
            "reason": reason, "soc_start": ev.soc if ev else None,
            "floor_soc": ev.floor_soc if ev else None,
            "departure_at": ev.departure if ev else None,
            "departure_soc": ev.departure_soc if ev else None,
            "capacity_kwh": ev.capacity_kwh if ev else None,
            "nameplate_kw": ev.nameplate_kw if ev else None}
        if ev is not None and ev.key not in self.granted and capability(
                ev, now, self.end).reason not in EXCLUDING:
            # another event of higher priority (or value) holds it; it may join this one
            # when that event lets it go
            holder = self.scheduler.holder(ev.key)
            row["reason"] = f"held by event {holder}" if holder else "not needed"
            return row
        self.known.add(f"{plugged.station_id}/{plugged.evse_id}")
        if ev is not None:
            why = capability(ev, now, self.end).reason
            if why in EXCLUDING:
                row["reason"] = why
            else:
                row["state"], row["reason"] = "in", None
                self.members[ev.key] = Member(ev.station_id, ev.evse_id, ev.transaction_id,
                                              ev.version)
        return row

    async def _join(self, fleet: list[tuple[PluggedIn, EV | None, str | None]],
                    now: datetime) -> None:
        """EVs plugged in since the event started join it once they can take part (their SoC
        known, above their floor, not opted out, ...); until then they are looked at again at
        every step."""
        before = set(self.members)
        rows = [{**self._enrol(plugged, ev, reason, now), "joined_at": now}
                for plugged, ev, reason in fleet
                if ev is not None and ev.key not in self.known and ev.key in self.granted
                and capability(ev, now, self.end).reason not in EXCLUDING]
        if not rows:
            return
        await fleet_store.save_event_evs(self.pool, self.event.id, rows)
        joined = [m for k, m in self.members.items() if k not in before]
        self.log.info("grid.joined", evs=[m.key for m in joined])
        # a station already taking part has its meter-value rate raised (and its old one kept)
        raised = {m.station_id for k, m in self.members.items() if k in before}
        await self._raise_meter_rate([m for m in joined if m.station_id not in raised])

    def _claim(self, fleet: list[tuple[PluggedIn, EV | None, str | None]],
               now: datetime) -> None:
        """Register (or renew) the event's claim and learn which EVs it may use."""
        group = None if self.event.group is None else {p.station_id for p, _, _ in fleet}
        event = replace(self.event, target_kw=self.target, end=self.end)
        self.scheduler.register(Claim.of(event, self.program, group))
        self.granted = self.scheduler.grant(
            self.event.id, [ev for _, ev, _ in fleet if ev is not None], now)

    async def _hand_over(self, now: datetime) -> None:
        """Members another event now holds leave this one (without clearing their profile:
        the holder replaces it in place); they may join again later."""
        lost = [m for k, m in self.members.items() if k not in self.granted]
        if not lost:
            return
        for m in lost:
            del self.members[m.key]
            self.known.discard(m.key)
            self.state.setpoints.pop(m.key, None)
            self.state.changed_at.pop(m.key, None)
        # the steady error learnt with the old EVs does not hold for the new set, and none is
        # learnt until the remaining EVs have settled on their new shares
        self.state.correction_kw = 0.0
        for key in self.members:
            self.state.changed_at[key] = now
        await fleet_store.update_event_evs(self.pool, self.event.id, [
            {"station_id": m.station_id, "evse_id": m.evse_id, "state": "set_aside",
             "reason": f"taken by event {self.scheduler.holder(m.key)}"} for m in lost])
        self.log.info("grid.handed_over", evs={m.key: self.scheduler.holder(m.key)
                                               for m in lost})

    async def resume(self, now: datetime) -> None:
        """Take over an active event after the node running it stopped or died.

        The EVs taking part, the loop's memory (:func:`restore_state`) and the step count come
        from the store, and the first step sends every EV its setpoint again (the same profile
        id, replaced in place, K01.FR.05), since the node that died may have sent one it did
        not live to record. An event whose activation was cut short before its EVs were stored
        is activated here (the stations' meter-value rates were not touched yet).
        """
        rows = await fleet_store.event_evs(self.pool, self.event.id)
        steps = await fleet_store.control_steps(self.pool, self.event.id)
        if not rows and not steps:
            self.log.info("grid.activation_resumed")
            await self.activate(now)
            return
        aside: dict[str, str] = {}
        unraised = []
        for row in rows:
            self.known.add(f"{row['station_id']}/{row['evse_id']}")
            if row["state"] != "excluded" and not row["finished"]:
                member = Member(row["station_id"], row["evse_id"], row["transaction_id"],
                                row["version"])
                self.members[member.key] = member
                if row["state"] == "set_aside":
                    aside[member.key] = row["reason"] or Aside.NOT_FOLLOWING
                if row["meter_interval_restore"] is None:
                    unraised.append(member)
        # The node died before it raised these stations' meter-value rate (or never learnt
        # their old one): raise it now, or the loop would find their meter values stale.
        await self._raise_meter_rate(unraised)
        self.state = restore_state(steps, aside, self.settings)
        self.rejected = {k for k, why in aside.items() if why == Aside.REJECTED}
        self.step_no = steps[-1]["step"] + 1 if steps else 0
        self._resend = True
        self.log.info("grid.event_resumed", taking_part=len(self.members), step=self.step_no,
                      set_aside=len(aside))
        await self.step(now)

    async def _raise_meter_rate(self, members: list[Member]) -> None:
        if not members:
            return
        stations = sorted({m.station_id for m in members})
        seconds = self.program.event_meter_interval_s
        results = await asyncio.gather(*(self.sender.set_meter_interval(
            s, seconds, self.call_timeout) for s in stations))
        # A rate already at the event's (raised by a node that died before recording the old
        # one) is not one to restore.
        old = {s: None if result.old == str(seconds) else result.old
               for s, result in zip(stations, results, strict=True)}
        await fleet_store.update_event_evs(self.pool, self.event.id, [
            {"station_id": m.station_id, "evse_id": m.evse_id,
             "meter_interval_restore": old[m.station_id]}
            for m in members])

    # -- the loop --------------------------------------------------------------------------

    async def step(self, now: datetime) -> bool:
        """One control step; False once the event is over (and finished)."""
        status, revision, target, end = await store.event_revision(self.pool, self.event.id)
        if status == "cancelled" or now >= end:
            await self.finish(now, cancelled=status == "cancelled")
            return False
        if revision != self.revision:
            self.log.info("grid.event_changed", target_kw=target, end=end.isoformat())
            self.revision, self.target, self.end = revision, target, end
        evs, observations = await self._observe(now, join=True)
        hours = (self.end - now).total_seconds() / 3600.0
        caps = [capability(ev, now, self.end) for ev in evs.values()]
        allocator = await self.planner.allocator(
            now, {k: m.station_id for k, m in self.members.items()}, observations,
            [k for k in self.members
             if k not in self.state.uncontrolled and k not in self.state.gone],
            self.settings.stale_s, self.end)
        outcome = control_step(self.state, caps, observations, self.target, hours, now,
                               self.settings, allocator)
        if self._resend:
            self._resend = False
            outcome = replace(outcome, send={**self._held(outcome, observations), **outcome.send})
        for _ in range(3):  # a refused profile is re-allocated at once, not a step later
            self._readmitted(outcome, observations)
            refused = await self._send(outcome, now)
            self.state = outcome.state
            if not refused:
                break
            self.rejected |= refused
            for key in refused:
                observations[key] = replace(observations[key], rejected=True)
            outcome = control_step(self.state, caps, observations, self.target, hours, now,
                                   self.settings, allocator)
        await self._record(outcome, now)
        self.step_no += 1
        self.next_at = now + timedelta(seconds=self.program.control_interval_s)
        await show_event_earnings(self.sender.ops, self.pool, self.event, self.program, now)
        return True

    def _held(self, outcome: StepOutcome, observations: dict[str, Observation]
              ) -> dict[str, float]:
        """The setpoints of the EVs the loop controls and can reach now."""
        s = outcome.state
        return {k: v for k, v in s.setpoints.items()
                if k in self.members and k not in s.gone and k not in s.uncontrolled
                and k in observations
                and observations[k].online and observations[k].plugged}

    def _readmitted(self, outcome: StepOutcome, observations: dict[str, Observation]) -> None:
        """EVs set aside before and given another chance: their old refusal is forgotten."""
        for key in outcome.readmitted:
            self.rejected.discard(key)
            if key in observations:
                observations[key] = replace(observations[key], rejected=False)
        if outcome.readmitted:
            self.log.info("grid.readmitted", evs=list(outcome.readmitted))

    async def _observe(self, now: datetime, *, join: bool = False
                       ) -> tuple[dict[str, EV], dict[str, Observation]]:
        fleet = await load_fleet(self.pool, self.program, now, group=self.event.group,
                                 event_id=self.event.id)
        if join:
            self._claim(fleet, now)
            await self._hand_over(now)
            await self._join(fleet, now)
        members = self.members.values()
        pairs = [(m.station_id, m.transaction_id) for m in members]
        stations = sorted({m.station_id for m in members})
        running = await fleet_store.transactions_running(self.pool, pairs)
        online = await fleet_store.online_stations(self.pool, stations)
        since = now - timedelta(seconds=max(120.0, 4 * self.program.control_interval_s))
        power = await fleet_store.latest_power(self.pool, stations, since)
        current = {ev.key: ev for _, ev, _ in fleet if ev is not None}
        evs: dict[str, EV] = {}
        observations: dict[str, Observation] = {}
        for m in members:
            ev = current.get(m.key)
            plugged = (m.station_id, m.transaction_id) in running
            if ev is not None and ev.transaction_id == m.transaction_id and plugged:
                evs[m.key] = replace(ev, opted_out=False)
            reading = power.get((m.station_id, m.transaction_id))
            observations[m.key] = Observation(
                m.key, online=m.station_id in online, plugged=plugged,
                rejected=m.key in self.rejected,
                measured_kw=reading[0] if reading else None,
                sample_at=reading[1] if reading else None)
        return evs, observations

    async def _send(self, outcome: StepOutcome, now: datetime) -> set[str]:
        """Send the step's setpoints; returns the EVs whose station refused its profile."""
        # only to the EVs this event holds: no two events write the same dispatch profile
        keys = sorted(k for k in outcome.send if self.scheduler.owns(self.event.id, k))
        start = now - timedelta(seconds=1)

        async def one(key: str) -> Outcome:
            m = self.members[key]
            return await self.sender.set_power(m.station_id, m.evse_id, outcome.send[key],
                                               start, self.end, self.call_timeout)

        results = await asyncio.gather(*(one(k) for k in keys))
        refused = set()
        for key, result in zip(keys, results, strict=True):
            if result.ok:
                continue
            why = result.describe()
            if result.status in NOT_DELIVERED:
                # Not installed: the station keeps what it had (it is judged offline next).
                previous = self.state.setpoints.get(key)
                if previous is None:
                    outcome.state.setpoints.pop(key, None)
                else:
                    outcome.state.setpoints[key] = previous
                self.log.info("grid.setpoint_not_delivered", key=key, why=why)
            else:
                refused.add(key)
                self.log.info("grid.profile_refused", key=key, why=why)
        return refused

    async def _record(self, outcome: StepOutcome, now: datetime) -> None:
        a = outcome.allocation
        await fleet_store.record_step(
            self.pool, self.event.id, self.step_no, now, target_kw=self.target,
            measured_kw=outcome.measured_kw, planned_kw=a.planned_kw,
            capacity_kw=a.capacity_kw + sum(self.state.setpoints.get(k, 0.0)
                                            for k in self.state.offline_since),
            shortfall_kw=a.shortfall_kw, correction_kw=self.state.correction_kw,
            setpoints=dict(self.state.setpoints), set_aside=outcome.set_aside)
        await events_feed.grid_event(
            self.pool, FeedType.EVENT_STEP, self.event.id, step=self.step_no, at=now,
            target_kw=self.target, measured_kw=outcome.measured_kw,
            setpoints=dict(self.state.setpoints), set_aside=outcome.set_aside)
        metrics.grid_step(self.event.id, self.target, outcome.measured_kw)
        aside = {**self.state.uncontrolled, **self.state.gone}
        await fleet_store.update_event_evs(self.pool, self.event.id, [
            {"station_id": m.station_id, "evse_id": m.evse_id,
             "state": "set_aside" if m.key in aside else "in", "reason": aside.get(m.key),
             "setpoint_kw": self.state.setpoints.get(m.key)} for m in self.members.values()])
        if outcome.set_aside:
            self.log.info("grid.set_aside", evs=outcome.set_aside)

    # -- the end ---------------------------------------------------------------------------

    async def finish(self, now: datetime, *, cancelled: bool = False) -> None:
        """Charge for departure needs, clear the other dispatch profiles, restore meter rates.

        A departure-charging profile replaces the dispatch profile in place (same id), so no
        EV falls back, even for a moment, to charging at full rate past a site's import limit:
        at a site whose controller caps the station, the cap (which held the EV's charging to
        what the event asked) stays until the controller, woken by the event's end, shares the
        room again with the measured building load; elsewhere the rate is the EV's share of
        the site's room now.
        """
        # an EV another event took since the last step is left to it
        members = [m for k, m in self.members.items()
                   if self.scheduler.holder(k) in (self.event.id, None)]
        evs, observations = await self._observe(now)
        evs = {k: ev for k, ev in evs.items() if k in {m.key for m in members}}
        recharging = [ev for ev in evs.values() if ev.departure is not None
                      and ev.departure_soc is not None and ev.departure > now
                      and ev.departure_soc > ev.soc]
        # A station holding the site controller's cap is held under its site's import limit
        # by that cap, which follows the building's load from now on: its car may recharge at
        # its own rate. Elsewhere the share of the site's room measured now is written into
        # the profile itself.
        capped = await site_control.capped_stations(
            self.pool, sorted({ev.station_id for ev in recharging}))
        rates = await self.planner.recharge_caps(
            now, [ev for ev in recharging if ev.station_id not in capped],
            {k: o.measured_kw or 0.0 for k, o in observations.items()}, self.settings.stale_s)
        replaced = await asyncio.gather(*(self._charge_for_departure(ev, now, rates.get(ev.key))
                                          for ev in recharging))
        done = {ev.key for ev, ok in zip(recharging, replaced, strict=True) if ok}
        await asyncio.gather(*(self.sender.clear_dispatch(m.station_id, m.evse_id,
                                                          self.call_timeout)
                               for m in members if m.key not in done))
        rows = {(r["station_id"], r["evse_id"]): r
                for r in await fleet_store.event_evs(self.pool, self.event.id)}
        restores = {}
        for m in members:
            old = rows.get((m.station_id, m.evse_id), {}).get("meter_interval_restore")
            if old is not None:
                restores[m.station_id] = int(old)
        await asyncio.gather(*(self.sender.set_meter_interval(s, v, self.call_timeout)
                               for s, v in restores.items()))
        await fleet_store.update_event_evs(self.pool, self.event.id, [
            {"station_id": m.station_id, "evse_id": m.evse_id, "finished": True,
             "setpoint_kw": 0.0} for m in members])
        self.scheduler.release(self.event.id)
        await store.mark_finished(self.pool, self.event.id,
                                  "cancelled while active" if cancelled else None)
        self.log.info("grid.event_finished", cancelled=cancelled, steps=self.step_no)
        metrics.grid_finished(self.event.id)
        await events_feed.grid_event(self.pool, FeedType.EVENT_COMPLETED, self.event.id,
                                     cancelled=cancelled, steps=self.step_no)

    async def _charge_for_departure(self, ev: EV, now: datetime,
                                    max_kw: float | None = None) -> bool:
        """K15: a TxProfile that meets the departure need, in the dispatch profile's place (one
        TxProfile per stack level and transaction, K01.FR.39), so the next event replaces it;
        at a site, no faster than ``max_kw``, its share of the site's import room. True when
        the station took it."""
        if ev.departure is None or ev.departure_soc is None or ev.departure <= now:
            return False
        missing = ev.departure_soc - ev.soc
        if missing <= 0:
            return False
        energy_wh = missing * ev.capacity_kwh / ev.one_way_efficiency * 1000.0
        try:
            profile = need_model(
                ev.version, transaction_id=ev.transaction_id,
                energy_wh=energy_wh, departure=ev.departure,
                max_power_w=(ev.max_charge_kw if max_kw is None else max_kw) * 1000.0,
                now=now,
                profile_id=dispatch_profile_id(ev.evse_id), stack_level=DISPATCH_STACK_LEVEL)
        except (ProfileRuleError, ValueError) as exc:
            self.log.warning("grid.need_profile_failed", key=ev.key, error=str(exc))
            return False
        result = await self.sender.send_dispatch_profile(ev.station_id, ev.evse_id, profile,
                                                         self.call_timeout)
        self.log.info("grid.charging_for_departure", key=ev.key, energy_wh=round(energy_wh),
                      accepted=result.ok, why=None if result.ok else result.describe())
        return result.ok

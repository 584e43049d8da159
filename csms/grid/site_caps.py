"""The site caps the controller keeps on stations: one ChargingStationMaxProfile on EVSE 0 per
station (see :mod:`csms.grid.site_control`), what each station holds, and sending them.

The record of each station's cap (its profile id, the cap wanted, the cap it accepted last, how
the last call went) is in the store, so a new leader starts from its predecessor's.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import structlog

from csms.grid.sending import NOT_DELIVERED
from csms.operations import Operations, Status
from csms.operations.profiles import clear_profiles, set_power
from csms.store import charging
from csms.store.base import utcnow
from csms.store.grid import site_control as store
from csms.store.grid.site_control import StationCap

log = structlog.get_logger("csms.grid.site_caps")

#: ChargingStationMaxProfile stack level of the site cap (K01.FR.06: one profile per purpose
#: and stack level on an EVSE; an operator's own station maximum belongs on another level)
SITE_CAP_STACK_LEVEL = 1
SITE_CAP_PURPOSE = "ChargingStationMaxProfile"
#: a cap that moves by less than this is not sent again (stations round to 0.1 kW)
CHANGE_KW = 0.1


@dataclass(frozen=True)
class CapTiming:
    """``settle_s``: how long a station's chargers get to come down to a lowered cap (and a
    cap not delivered waits before it is sent again); ``refused_retry_s``: a station that
    refused its cap is asked again after this long; ``call_timeout``: per call."""

    settle_s: float = 5.0
    refused_retry_s: float = 300.0
    call_timeout: float = 20.0


class StationCaps:
    """The caps of every managed station, as this leader knows them."""

    def __init__(self, ops: Operations, caps: dict[str, StationCap], timing: CapTiming,
                 node_id: str) -> None:
        self.ops = ops
        self.timing = timing
        self.log = log.bind(node_id=node_id)
        self._caps = caps
        #: when each station's cap last changed, and the cap before
        self._changed_at: dict[str, datetime] = {}
        self._before: dict[str, float] = {}
        #: the stations online at the last look (one back online is sent its cap at once)
        self.online: set[str] = set()

    @classmethod
    async def load(cls, ops: Operations, timing: CapTiming, node_id: str) -> StationCaps:
        """The caps as the store holds them (a new leader's start)."""
        return cls(ops, await store.station_caps(ops.pool, None), timing, node_id)

    def stations(self) -> list[str]:
        """Every station with a cap record."""
        return list(self._caps)

    def get(self, station: str) -> StationCap | None:
        """A station's cap record, or None."""
        return self._caps.get(station)

    def profile_id(self, station: str) -> int | None:
        """The id of the station's cap profile, or None."""
        cap = self._caps.get(station)
        return None if cap is None else cap.profile_id

    def controlled(self, station: str, online: set[str]) -> bool:
        """Whether the station holds its cap (or has never been sent one: it is sent its
        share before any other station's is raised) and can be reached."""
        cap = self._caps.get(station)
        return station in online and (cap is None or cap.status == "accepted")

    def changed_at(self, station: str) -> datetime | None:
        """When the station's cap last changed (on this leader)."""
        return self._changed_at.get(station)

    def last_change(self, stations: Sequence[str]) -> datetime | None:
        """The latest cap change among ``stations``."""
        changes = [self._changed_at[st] for st in stations if st in self._changed_at]
        return max(changes) if changes else None

    def bound(self, station: str, now: datetime) -> float | None:
        """The most a capped station may draw now: its cap, or the cap before it for
        ``settle_s`` after a lower one was accepted (its chargers are still coming down;
        unbounded after its first cap); None without a cap."""
        cap = self._caps.get(station)
        if cap is None or cap.installed_kw is None:
            return None
        changed = self._changed_at.get(station)
        if changed is not None and now < changed + timedelta(seconds=self.timing.settle_s):
            return max(cap.installed_kw, self._before.get(station, 0.0))
        return cap.installed_kw

    def _due(self, station: str, kw: float, online: set[str], now: datetime,
             force: bool) -> bool:
        if station not in online:
            return False
        cap = self._caps.get(station)
        if cap is None or force or station not in self.online:
            return True  # never capped, a new leader, or back online: send
        if cap.status == "refused":
            return now >= cap.attempted_at + timedelta(seconds=self.timing.refused_retry_s)
        if cap.status == "pending" or cap.installed_kw is None:
            return now >= cap.attempted_at + timedelta(seconds=self.timing.settle_s)
        return abs(cap.installed_kw - kw) >= CHANGE_KW

    async def apply(self, caps: Mapping[str, float], loose: frozenset[str], online: set[str],
                    now: datetime, *, force: bool) -> bool:
        """Send the caps that changed (or were not delivered): lowered ones first, raised ones
        once every lowered one is accepted; False when a lowered one was not. A station
        counted as it stands (``loose``) is sent what it may draw now, so that it comes under
        control without a raise; the next plan then shares with it."""
        due = {st: kw for st, kw in caps.items() if self._due(st, kw, online, now, force)}
        if not due:
            return True

        def lowering(st: str) -> bool:
            cap = self._caps.get(st)
            return cap is None or cap.installed_kw is None or due[st] < cap.installed_kw

        retried = sorted(st for st in due if st in loose)
        lowered = sorted(st for st in due if st not in loose and lowering(st))
        raised = sorted(st for st in due if st not in loose and not lowering(st))
        results = await asyncio.gather(*(self._send(st, due[st], now)
                                         for st in [*lowered, *retried]))
        ok = all(results[:len(lowered)])
        if ok and raised:
            await asyncio.gather(*(self._send(st, due[st], now) for st in raised))
        return ok

    async def _send(self, station: str, kw: float, now: datetime) -> bool:
        """Install the station's cap; True when it took it."""
        old = self._caps.get(station)
        profile_id = old.profile_id if old is not None else await charging.next_profile_id(
            self.ops.pool)
        outcome = await set_power(self.ops, station, 0, kw * 1000.0,
                                  now - timedelta(seconds=1), None, discharging=False,
                                  profile_id=profile_id, stack_level=SITE_CAP_STACK_LEVEL,
                                  purpose=SITE_CAP_PURPOSE, timeout=self.timing.call_timeout)
        installed = old.installed_kw if old is not None else None
        if outcome.ok:
            if installed is None or abs(installed - kw) >= CHANGE_KW:
                # a station that held no cap may have drawn anything until it comes down
                self._before[station] = installed if installed is not None else math.inf
                self._changed_at[station] = utcnow()
            status, reason, installed = "accepted", None, kw
        elif outcome.status in NOT_DELIVERED:
            status, reason = "pending", outcome.describe()
        else:
            status, reason = "refused", outcome.describe()
        cap = StationCap(station, profile_id, kw, installed, status, reason, utcnow())
        self._caps[station] = cap
        await store.save_caps(self.ops.pool, [cap])
        if not outcome.ok:
            self.log.info("site.cap_not_taken", station_id=station, cap_kw=kw, status=status,
                          why=reason)
        return outcome.ok

    async def release(self, stations: Sequence[str]) -> None:
        """Clear the cap of stations no longer at any site (Unknown counts as cleared)."""
        caps = self._caps

        async def one(station: str) -> str | None:
            outcome = await clear_profiles(self.ops, station, profile_id=caps[station].profile_id,
                                           timeout=self.timing.call_timeout)
            return station if outcome.ok or outcome.status == Status.UNKNOWN_STATION else None

        done = [st for st in await asyncio.gather(*(one(st) for st in stations)) if st]
        for station in done:
            caps.pop(station, None)
        if done:
            await store.forget_caps(self.ops.pool, done)
            self.log.info("site.cap_released", stations=done)

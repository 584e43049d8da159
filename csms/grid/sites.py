"""Site limits in planning: how much the EVs of one event may export or import at each site
now, and the equal-headroom allocation kept within them. Pure functions, no I/O.

At a site's grid connection, net import = building load + chargers' net import. An export
limit ``X`` (0: non-export) means the chargers may export at most ``X + building load``; an
import limit ``I`` means they may draw at most ``I - building load``. The EVs of an event share
what is left after the site's other chargers (those not in the event, or not controlled), which
are measured too: with ``connection`` the main meter's net import and ``pool_export`` what the
event's EVs export now, the event's EVs may export ``X + connection + pool_export - margin``.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from csms.grid.allocation import STEP_KW, Allocation, allocate
from csms.grid.forecast import Capability

#: an imported building-load reading holds until the next one, at most this long (as
#: csms.store.grid.sites.imported_load reads them)
READING_HOLDS = timedelta(hours=1)

#: kept below every site limit: the building's load can change between control steps
MARGIN_KW = 1.0
MARGIN_FRACTION = 0.05


def margin(limit_kw: float, building_kw: float) -> float:
    """What to keep below a limit: 1 kW, or 5 % of the building's load if more."""
    return max(MARGIN_KW, MARGIN_FRACTION * building_kw)


def export_room(export_kw: float, building_kw: float, others_import_kw: float) -> float:
    """kW the event's EVs may export at a site: the export limit plus the building's load plus
    what the site's other chargers draw (they export when negative), less the margin."""
    return max(0.0, export_kw + building_kw + others_import_kw - margin(export_kw, building_kw))


def import_room(import_kw: float, building_kw: float, others_import_kw: float) -> float:
    """kW the event's EVs may draw at a site: the import limit less the building's load and the
    site's other chargers, less the margin."""
    return max(0.0, import_kw - building_kw - others_import_kw - margin(import_kw, building_kw))


@dataclass(frozen=True)
class SiteCaps:
    """Per site, the kW the event's EVs may export now; ``site_of`` maps EV keys to sites."""

    export_kw: Mapping[str, float]
    site_of: Mapping[str, str]

    def members(self, site: str, keys: Sequence[str]) -> list[str]:
        """The keys of ``keys`` at ``site``."""
        return [k for k in keys if self.site_of.get(k) == site]


def allocate_within_sites(capabilities: Sequence[Capability], target_kw: float | None,
                          hours: float, *, limits: Mapping[str, float] | None = None,
                          sites: SiteCaps | None = None) -> Allocation:
    """:func:`~csms.grid.allocation.allocate` (equal headroom), then each site over its cap has
    its EVs scaled down to fit and the rest re-shared among the others, until no site is over.
    """
    bounds = dict(limits or {})
    result = allocate(capabilities, target_kw, hours, limits=bounds)
    if sites is None:
        return result
    keys = [c.key for c in capabilities]
    for _ in range(len(sites.export_kw) + 1):
        over = False
        for site, cap in sites.export_kw.items():
            members = sites.members(site, keys)
            total = sum(result.shares.get(k, 0.0) for k in members)
            if total <= cap + 1e-9:
                continue
            over = True
            scale = cap / total
            for k in members:
                share = result.shares.get(k, 0.0)
                bounds[k] = math.floor(share * scale / STEP_KW + 1e-9) * STEP_KW
        if not over:
            return result
        result = allocate(capabilities, target_kw, hours, limits=bounds)
    return result


def split_import(needs_kw: Mapping[str, float], room_kw: float) -> dict[str, float]:
    """Share a site's import room among EVs that need to charge: each gets at most what it
    asks (``needs_kw``, its charger's rate), the rest split equally (water filling)."""
    out = {k: 0.0 for k in needs_kw}
    left = max(0.0, room_kw)
    open_keys = sorted(k for k, v in needs_kw.items() if v > 0)
    while open_keys and left > 1e-9:
        each = left / len(open_keys)
        done = [k for k in open_keys if needs_kw[k] - out[k] <= each]
        if not done:
            for k in open_keys:
                out[k] += each
            break
        for k in done:
            left -= needs_kw[k] - out[k]
            out[k] = needs_kw[k]
        open_keys = [k for k in open_keys if k not in done]
    return out


def recharge_rates(minimum_kw: Mapping[str, float], maximum_kw: Mapping[str, float],
                   room_kw: float) -> dict[str, float]:
    """Constant charging rates after an event within a site's import room: each EV first gets
    the rate that meets its departure need just in time (``minimum_kw``: energy over time
    left), then what room is left is shared by water filling up to each charger's rate
    (``maximum_kw``), so the needs are met early. When even the minimum rates do not fit,
    they are scaled down together (and the optimiser has counted the need as missed)."""
    low = {k: min(max(0.0, minimum_kw.get(k, 0.0)), maximum_kw[k]) for k in maximum_kw}
    total = sum(low.values())
    room = max(0.0, room_kw)
    if total >= room:
        scale = room / total if total > 0 else 0.0
        return {k: v * scale for k, v in low.items()}
    extra = split_import({k: maximum_kw[k] - low[k] for k in maximum_kw}, room - total)
    return {k: low[k] + extra[k] for k in maximum_kw}


# -- site load management: every charger of a site under its import limit, at all times ------

#: what a site's EVSE is to the site controller (see :class:`Demand`)
KINDS = ("uncontrolled", "event", "charging", "idle")


@dataclass(frozen=True)
class Demand:
    """What one EVSE of a site asks of the import room.

    ``kind``: ``uncontrolled`` (its station does not hold the controller's cap: offline, or it
    refused; ``want_kw`` is what it may draw, counted first and in full), ``event`` (a grid
    event holds it; ``want_kw`` is the charging its plan asks, kept before any other),
    ``charging`` (a car the controller shares the room with: at least ``minimum_kw``, the rate
    that meets its departure need in time, then up to ``want_kw``, its charger's rate) or
    ``idle`` (a station with no car: what is left, up to ``want_kw``, for the next arrival).
    """

    key: str
    station_id: str
    kind: str
    want_kw: float
    minimum_kw: float = 0.0

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"kind must be one of {', '.join(KINDS)}, got {self.kind!r}")


@dataclass(frozen=True)
class SiteShares:
    """A site's import room now (limit less building load less margin) and each EVSE's share."""

    room_kw: float
    shares: dict[str, float]

    @property
    def allocated_kw(self) -> float:
        """kW given out (what uncontrolled chargers may draw included)."""
        return sum(self.shares.values())

    @property
    def headroom_kw(self) -> float:
        """kW of the room nobody holds (negative: uncontrolled chargers alone exceed it)."""
        return self.room_kw - self.allocated_kw

    def station_caps(self, demands: Sequence[Demand]) -> dict[str, float]:
        """The cap of each station: the sum of its EVSEs' shares (an uncontrolled station's:
        what it may draw as it stands)."""
        out: dict[str, float] = {}
        for d in demands:
            out[d.station_id] = out.get(d.station_id, 0.0) + self.shares.get(d.key, 0.0)
        return out


def share_site(import_kw: float, building_kw: float, demands: Sequence[Demand]) -> SiteShares:
    """Share a site's import room: uncontrolled chargers first (in full), then what grid events
    hold (scaled down together when over), then the charging cars (their departure minimum,
    then equal shares up to their rate: :func:`recharge_rates`), then idle stations (equal
    shares of what is left). The shares of every kind but uncontrolled never add up to more
    than the room, so the connection stays under the limit whatever the cars then do."""
    room = max(0.0, import_kw - building_kw - margin(import_kw, building_kw))
    shares: dict[str, float] = {}
    left = room
    for d in demands:
        if d.kind == "uncontrolled":
            shares[d.key] = max(0.0, d.want_kw)
            left -= shares[d.key]
    left = max(0.0, left)
    held = [d for d in demands if d.kind == "event"]
    total = sum(max(0.0, d.want_kw) for d in held)
    scale = 1.0 if total <= left or total == 0 else left / total
    for d in held:
        shares[d.key] = max(0.0, d.want_kw) * scale
    left = max(0.0, left - total * scale)
    cars = {d.key: d for d in demands if d.kind == "charging"}
    if cars:
        rates = recharge_rates({k: d.minimum_kw for k, d in cars.items()},
                               {k: max(0.0, d.want_kw) for k, d in cars.items()}, left)
        shares.update(rates)
        left = max(0.0, left - sum(rates.values()))
    idle = {d.key: max(0.0, d.want_kw) for d in demands if d.kind == "idle"}
    if idle:
        shares.update(split_import(idle, left))
    return SiteShares(room, shares)


def building_forecast(now_kw: float, now: datetime, readings: Sequence[tuple[datetime, float]],
                      edges: Sequence[datetime]) -> list[tuple[float, float]]:
    """The building's load over intervals ``[edges[t], edges[t + 1])``: per interval, the
    lowest and highest kW it is expected to take (export room follows the lowest, import
    room the highest).

    ``now_kw`` is the load known at ``now`` (measured by the main meter, or the imported
    reading in force); it holds until the first imported reading after ``now``. Each later
    reading (the site's meter data, or a forecast of it, ``sites meter import``) holds until
    the next one, at most :data:`READING_HOLDS`; where none is in force, ``now_kw`` holds
    again (the load measured last is the forecast where nothing else is known).
    """
    changes: list[tuple[datetime, float]] = [(now, now_kw)]
    ahead = sorted((at, kw) for at, kw in readings if at > now)
    for j, (at, kw) in enumerate(ahead):
        changes.append((at, kw))
        expires = at + READING_HOLDS
        if j + 1 == len(ahead) or ahead[j + 1][0] > expires:
            changes.append((expires, now_kw))
    out = []
    for start, stop in itertools.pairwise(edges):
        in_force = now_kw
        for at, kw in changes:
            if at > start:
                break
            in_force = kw
        values = [in_force] + [kw for at, kw in changes if start < at < stop]
        out.append((min(values), max(values)))
    return out

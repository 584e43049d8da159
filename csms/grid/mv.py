"""Measurement and verification: delivered energy per interval from the stored meter registers,
baselines, net discharge, performance, DSGS demonstrated capacity and payment, driver earnings.

Energy comes from the registers (Energy.Active.Export/Import.Register), read at each interval's
edges by linear interpolation between samples: the sum over intervals is exactly the register
difference over the event, whatever the sample times. Pure functions, no I/O.
"""

from __future__ import annotations

import bisect
import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from csms.store.grid.records import RegisterSample


def register_at(samples: Sequence[RegisterSample], when: datetime) -> tuple[float, float]:
    """(export, import) Wh at ``when``, interpolated; clamped to the first and last sample.

    ``samples`` must be sorted by time and non-empty.
    """
    times = [s.at for s in samples]
    i = bisect.bisect_right(times, when)
    if i == 0:
        return samples[0].export_wh, samples[0].import_wh
    if i == len(samples):
        return samples[-1].export_wh, samples[-1].import_wh
    a, b = samples[i - 1], samples[i]
    span = (b.at - a.at).total_seconds()
    f = 0.0 if span <= 0 else (when - a.at).total_seconds() / span
    return (a.export_wh + f * (b.export_wh - a.export_wh),
            a.import_wh + f * (b.import_wh - a.import_wh))


def net_export_kwh(samples: Sequence[RegisterSample], start: datetime, end: datetime) -> float:
    """Net energy exported (export minus import) between ``start`` and ``end``, in kWh."""
    if not samples:
        return 0.0
    e0, i0 = register_at(samples, start)
    e1, i1 = register_at(samples, end)
    return ((e1 - e0) - (i1 - i0)) / 1000.0


@dataclass(frozen=True)
class Interval:
    """One measurement interval of the fleet (or one station).

    kW figures are averages over the interval; ``performance`` is net kW over target kW (None
    without a target).
    """

    start: datetime
    end: datetime
    target_kw: float | None
    delivered_kwh: float
    delivered_kw: float
    baseline_kw: float
    net_kw: float
    performance: float | None
    by_station_kwh: dict[str, float] = field(default_factory=dict)


def target_at(changes: Sequence[tuple[datetime, float | None]], when: datetime) -> float | None:
    """The target in force at ``when`` given ``(from, kW)`` changes sorted by time."""
    current = changes[0][1] if changes else None
    for at, kw in changes:
        if at <= when:
            current = kw
    return current


def cut_times(start: datetime, end: datetime, length_s: float, *,
              aligned: bool = False) -> list[datetime]:
    """The edges of :func:`intervals`' intervals: ``start``, the cuts, ``end``."""
    if length_s <= 0:
        raise ValueError(f"interval length must be positive, got {length_s}")
    edges = [start]
    step = timedelta(seconds=length_s)
    if aligned:
        midnight = start.replace(hour=0, minute=0, second=0, microsecond=0)
        n = int((start - midnight).total_seconds() // length_s) + 1
        t = midnight + n * step
    else:
        t = start + step
    while t < end:
        edges.append(t)
        t += step
    edges.append(end)
    return edges


def intervals(
    series: Mapping[str, Sequence[RegisterSample]],
    start: datetime,
    end: datetime,
    length_s: float,
    targets: Sequence[tuple[datetime, float | None]],
    baseline_kw: Mapping[str, float] | None = None,
    *,
    aligned: bool = False,
    present_from: Mapping[str, datetime] | None = None,
) -> list[Interval]:
    """Cut ``[start, end]`` into intervals of ``length_s`` and measure each.

    ``series`` maps a station (or EVSE) to its register samples. With ``aligned`` the cuts fall
    on multiples of ``length_s`` since midnight (clock hours, 5-minute marks); the first and last
    intervals are then partial. The target of an interval is the one in force at its start.
    ``present_from`` gives the time an EV joined after ``start``: its baseline counts only from
    then (in proportion within the interval it joined in).
    """
    baseline_kw = baseline_kw or {}
    present_from = present_from or {}
    edges = cut_times(start, end, length_s, aligned=aligned)
    out = []
    for a, b in itertools.pairwise(edges):
        hours = (b - a).total_seconds() / 3600.0
        if hours <= 0:
            continue
        by_station = {k: net_export_kwh(s, a, b) for k, s in series.items()}
        kwh = sum(by_station.values())
        kw = kwh / hours
        target = target_at(targets, a)
        base_total = sum(baseline_kw.get(k, 0.0) * presence(present_from.get(k), a, b)
                         for k in series)
        net = kw - base_total
        out.append(Interval(a, b, target, kwh, kw, base_total, net,
                            None if not target else net / target, by_station))
    return out


def presence(joined: datetime | None, a: datetime, b: datetime) -> float:
    """The fraction of ``[a, b]`` an EV that joined at ``joined`` (None: before) was there."""
    if joined is None or joined <= a:
        return 1.0
    if joined >= b:
        return 0.0
    return (b - joined).total_seconds() / (b - a).total_seconds()


def prescriptive_baseline(nameplate_kw: Mapping[str, float], percent: float) -> dict[str, float]:
    """DSGS-style deemed baseline: ``percent`` % of each station's nameplate discharge kW."""
    return {k: v * percent / 100.0 for k, v in nameplate_kw.items()}


def meter_before_after_baseline(
    series: Mapping[str, Sequence[RegisterSample]], start: datetime, end: datetime,
    window_s: float = 3600.0,
) -> dict[str, float]:
    """Baseline per station: its average net export over ``window_s`` before the event and
    after it (only the windows the samples cover are used; none covered gives 0)."""
    out = {}
    window = timedelta(seconds=window_s)
    for key, samples in series.items():
        parts = []
        if samples and samples[0].at <= start - timedelta(seconds=1):
            a = max(samples[0].at, start - window)
            parts.append((net_export_kwh(samples, a, start), (start - a).total_seconds()))
        if samples and samples[-1].at >= end + timedelta(seconds=1):
            b = min(samples[-1].at, end + window)
            parts.append((net_export_kwh(samples, end, b), (b - end).total_seconds()))
        seconds = sum(p[1] for p in parts)
        out[key] = 0.0 if seconds <= 0 else sum(p[0] for p in parts) / (seconds / 3600.0)
    return out


@dataclass(frozen=True)
class MonthlyCapacity:
    """DSGS: the month's demonstrated capacity (kW) and payment ($)."""

    month: str
    hours: int
    demonstrated_kw: float
    rate_per_kw_month: float | None
    payment: float | None


def demonstrated_capacity(month: str, hourly_net_kw: Sequence[float],
                          rate: float | None,
                          weights: Sequence[float] | None = None) -> MonthlyCapacity:
    """Price-weighted average of the month's hourly net discharge over its capacity and test
    hours (equal weights when no prices are given); payment = max(capacity, 0) x rate."""
    if weights is not None and len(weights) != len(hourly_net_kw):
        raise ValueError("one weight per hour is needed")
    w = list(weights) if weights is not None else [1.0] * len(hourly_net_kw)
    total_w = sum(w)
    capacity = 0.0 if total_w <= 0 else sum(
        x * y for x, y in zip(hourly_net_kw, w, strict=True)) / total_w
    payment = None if rate is None else max(capacity, 0.0) * rate
    return MonthlyCapacity(month, len(hourly_net_kw), capacity, rate, payment)


@dataclass(frozen=True)
class DriverResult:
    """What one EV (driver) gave in an event and what the driver earns for it."""

    key: str
    id_token: str | None
    energy_kwh: float
    earnings: float
    soc_start: float | None
    soc_end: float | None


def driver_earnings(
    energy_kwh: Mapping[str, float],
    pool: float,
    share: float,
) -> dict[str, float]:
    """Split ``pool`` $ (the event's payment) among drivers in proportion to the net energy
    each gave (none for a driver who gave none); each driver receives ``share`` of their part."""
    positive = {k: max(0.0, v) for k, v in energy_kwh.items()}
    total = sum(positive.values())
    if total <= 0 or pool <= 0:
        return {k: 0.0 for k in energy_kwh}
    return {k: round(pool * share * v / total, 4) for k, v in positive.items()}

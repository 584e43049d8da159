"""The plug-in forecast: from stored sessions, each EVSE's chance of being plugged in and its
SoC by hour of week, and from them the kW the fleet can hold over a future window: its
expectation and the firm figure it holds with 90 % probability (P90). Pure: no I/O.

Method. For each EVSE and hour of the week (168, in the program's time zone), the weeks of
history in which it was plugged in for the whole hour are Binomial draws of its chance of being
there; with the Jeffreys prior Beta(1/2, 1/2) the chance's posterior is Beta(1/2 + plugged,
1/2 + absent) (scipy.stats.beta). Its SoC in that hour is the mean and spread of the hourly
SoC readings it reported then (else its mean over all hours, else the fleet's). For a window,
an EVSE counts if it is plugged in for all of it: the days of history of the same weekday on
which one session covered the window's hours are the Binomial draws, with a Beta prior
centred on how often it covered them on the history's days of the same kind (weekdays or
weekends; worth two days), so a
weekday seen only a few times borrows from the others. The fleet's kW is then sampled (Monte
Carlo, numpy): for each draw, each EVSE's chance from its posterior, whether it is there, its
SoC, and what that SoC can hold over the window above the floor, capped by its charger. The
expectation is the draws' mean; the firm figure their 10th percentile. EVSEs are drawn
independently: a day on which the whole fleet stays away (a holiday) is not in the model, so the
P90 is a P90 of ordinary days.

scipy is used because its Beta distribution and random draws are the well-kept reference
implementation (and already a dependency for the optimiser's HiGHS); nothing here needs a
forecasting framework, and a Beta-Binomial per EVSE-hour stays explainable to an operator.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import numpy as np
from scipy import stats

from csms.store.grid.history import Session

HOURS_PER_WEEK = 168
PRIOR = 0.5  # Jeffreys
#: days of pseudo-observations the prior of a window's chance is worth (centred on the EVSE's
#: rate over the history's days of the same kind: weekdays or weekends)
POOL_WEIGHT = 2.0
DRAWS = 4000


def hour_of_week(when: datetime, zone: ZoneInfo) -> int:
    """0 = Monday 00:00-01:00 local time, ... 167 = Sunday 23:00-24:00."""
    local = when.astimezone(zone)
    return local.weekday() * 24 + local.hour


@dataclass
class EvseModel:
    """What the history says of one EVSE: per hour of week, weeks plugged in for the whole
    hour and weeks observed; SoC readings (fractions) by hour of week."""

    key: str
    plugged: np.ndarray = field(default_factory=lambda: np.zeros(HOURS_PER_WEEK))
    observed: np.ndarray = field(default_factory=lambda: np.zeros(HOURS_PER_WEEK))
    socs: dict[int, list[float]] = field(default_factory=dict)
    capacity_kwh: float | None = None
    charger_kw: float | None = None

    def chance(self, hour: int) -> tuple[float, float]:
        """The Beta posterior (a, b) of the chance of being plugged in during ``hour``."""
        seen = self.plugged[hour]
        return PRIOR + seen, PRIOR + self.observed[hour] - seen

    def soc(self, hour: int, fleet: tuple[float, float]) -> tuple[float, float]:
        """(mean, sd) of its SoC in that hour: the mean of its own readings then (else over all
        hours, else the fleet's); the spread, the larger of that hour's and all its hours'."""
        every = [v for values in self.socs.values() for v in values]
        if not every:
            return fleet
        here = self.socs.get(hour) or every
        # the spread of a few readings underestimates it: at least the EVSE's over all hours
        spread = max(float(np.std(here)), float(np.std(every))) if len(every) > 1 else fleet[1]
        return float(np.mean(here)), spread


@dataclass(frozen=True)
class History:
    """The EVSE models learnt over ``[start, end)`` and the fleet's SoC (mean, sd)."""

    models: dict[str, EvseModel]
    start: datetime
    end: datetime
    zone: ZoneInfo
    fleet_soc: tuple[float, float]
    #: each EVSE's plugged-in periods, by start
    sessions: dict[str, list[tuple[datetime, datetime]]] = field(default_factory=dict)

    def window_chance(self, key: str, start: datetime, end: datetime) -> tuple[float, float]:
        """The Beta posterior (a, b) of the chance that the EVSE is plugged in for all of the
        window: the history's days of the same weekday on which a session covered the same
        local hours, with a prior centred on how often it covered them on the days of the same
        kind (weekdays, or weekends; weight :data:`POOL_WEIGHT` days)."""
        local_start, local_end = start.astimezone(self.zone), end.astimezone(self.zone)
        length = local_end - local_start
        same = [0, 0]
        every = [0, 0]
        day = self.start.astimezone(self.zone).replace(hour=0, minute=0, second=0,
                                                       microsecond=0)
        spans = self.sessions.get(key, [])
        starts = [s for s, _ in spans]
        while day < self.end:
            w_start = day.replace(hour=local_start.hour, minute=local_start.minute)
            w_end = w_start + length
            if w_start >= self.start and w_end <= self.end:
                i = bisect.bisect_right(starts, w_start)
                there = any(e >= w_end for _, e in spans[max(0, i - 3):i])
                if (day.weekday() >= 5) == (local_start.weekday() >= 5):
                    every[0] += there
                    every[1] += 1
                if day.weekday() == local_start.weekday():
                    same[0] += there
                    same[1] += 1
            day += timedelta(days=1)
        pooled = (every[0] + PRIOR) / (every[1] + 2 * PRIOR)
        a = POOL_WEIGHT * pooled + same[0]
        b = POOL_WEIGHT * (1 - pooled) + same[1] - same[0]
        return a, b


def learn(sessions: Iterable[Session], socs: Iterable[tuple[str, int, datetime, float]],
          start: datetime, end: datetime, zone: ZoneInfo,
          capacities: Mapping[str, tuple[float | None, float | None]] | None = None
          ) -> History:
    """Count, for every EVSE seen, the whole hours it was plugged in over ``[start, end)``."""
    first = start.replace(minute=0, second=0, microsecond=0)
    if first < start:
        first += timedelta(hours=1)
    observed = np.zeros(HOURS_PER_WEEK)
    t = first
    while t + timedelta(hours=1) <= end:
        observed[hour_of_week(t, zone)] += 1
        t += timedelta(hours=1)
    models: dict[str, EvseModel] = {}
    spans: dict[str, list[tuple[datetime, datetime]]] = {}

    def model(key: str) -> EvseModel:
        if key not in models:
            models[key] = EvseModel(key, observed=observed.copy())
        return models[key]

    for s in sessions:
        m = model(f"{s.station_id}/{s.evse_id}")
        spans.setdefault(m.key, []).append((s.start, s.end or end))
        begin = max(s.start, first)
        hour = begin.replace(minute=0, second=0, microsecond=0)
        if hour < begin:
            hour += timedelta(hours=1)
        stop = min(s.end or end, end)
        while hour + timedelta(hours=1) <= stop:
            m.plugged[hour_of_week(hour, zone)] += 1
            hour += timedelta(hours=1)
    all_socs = []
    for station, evse, hour, percent in socs:
        value = min(1.0, max(0.0, percent / 100.0))
        model(f"{station}/{evse}").socs.setdefault(hour_of_week(hour, zone), []).append(value)
        all_socs.append(value)
    for key, (capacity, charger) in (capacities or {}).items():
        if key in models:
            models[key].capacity_kwh, models[key].charger_kw = capacity, charger
    for m in models.values():  # counts cannot pass what was observed (overlapping sessions)
        np.minimum(m.plugged, m.observed, out=m.plugged)
    fleet = (float(np.mean(all_socs)), float(np.std(all_socs))) if all_socs else (0.5, 0.2)
    for found in spans.values():
        found.sort()
    return History(models, start, end, zone, fleet, spans)


@dataclass(frozen=True)
class EvseOutlook:
    """One EVSE over the window: chance of being there all of it, SoC expected, kW."""

    key: str
    chance: float
    soc: float
    kw_if_there: float
    expected_kw: float


@dataclass(frozen=True)
class Outlook:
    """The fleet over a future window: expectation and the firm (P90) kW."""

    start: datetime
    end: datetime
    expected_kw: float
    firm_kw: float
    quantile: float
    evses: tuple[EvseOutlook, ...]


def outlook(history: History, start: datetime, end: datetime, *, floor_soc: float = 0.2,
            capacity_kwh: float = 39.0, charger_kw: float = 20.0,
            round_trip: float = 0.87, quantile: float = 0.10, draws: int = DRAWS,
            seed: int = 0) -> Outlook:
    """What the fleet can hold over ``[start, end]`` (see the module docstring)."""
    hours = (end - start).total_seconds() / 3600.0
    if hours <= 0:
        raise ValueError("the window must end after it starts")
    slots = sorted({hour_of_week(start + timedelta(hours=h), history.zone)
                    for h in np.arange(0.0, hours, 0.5)} | {
        hour_of_week(end - timedelta(seconds=1), history.zone)})
    rng = np.random.default_rng(seed)
    eta = math.sqrt(round_trip)
    total = np.zeros(draws)
    out = []
    for key in sorted(history.models):
        m = history.models[key]
        a, b = history.window_chance(key, start, end)
        mean_soc, sd_soc = m.soc(slots[0], history.fleet_soc)
        capacity = m.capacity_kwh or capacity_kwh
        charger = m.charger_kw or charger_kw
        p = stats.beta(a, b).rvs(size=draws, random_state=rng)
        there = rng.random(draws) < p
        soc = np.clip(rng.normal(mean_soc, max(sd_soc, 1e-6), draws), 0.0, 1.0)
        kw = np.clip((soc - floor_soc) * capacity * eta / hours, 0.0, charger)
        total += np.where(there, kw, 0.0)
        kw_there = float(np.clip((mean_soc - floor_soc) * capacity * eta / hours, 0.0,
                                 charger))
        chance = a / (a + b)
        out.append(EvseOutlook(key, chance, mean_soc, kw_there, float(np.mean(
            np.where(there, kw, 0.0)))))
    return Outlook(start, end, float(total.mean()), float(np.quantile(total, quantile)),
                   quantile, tuple(out))


@dataclass(frozen=True)
class Nomination:
    """A suggested monthly nomination: the mean of the firm (P90) kW over the month's
    candidate event blocks, with the worst and best block."""

    month: str
    suggested_kw: float
    worst_kw: float
    best_kw: float
    blocks: tuple[Outlook, ...]


def nominate(history: History, month: str, window: tuple[int, int], block_h: float,
             days: Sequence[int] = (0, 1, 2, 3, 4, 5, 6), **kw: float) -> Nomination:
    """DSGS pays a month's demonstrated capacity: the average net discharge over the month's
    event hours, which fall on any day in the program's window. The suggestion is the mean of
    the firm (P90) kW over every candidate event block (each day of ``days`` in ``month``,
    blocks of ``block_h`` hours starting on each hour of ``window`` (local hours)), rounded
    down to a kW."""
    year, mon = (int(x) for x in month.split("-"))
    day = datetime(year, mon, 1, tzinfo=history.zone)
    blocks = []
    while day.month == mon:
        if day.weekday() in days:
            hour = window[0]
            while hour + block_h <= window[1] + 1e-9:
                start = day.replace(hour=hour)
                blocks.append(outlook(history, start, start + timedelta(hours=block_h),
                                      **kw))  # type: ignore[arg-type]
                hour += 1
        day += timedelta(days=1)
    if not blocks:
        raise ValueError("no candidate event block in that month")
    firm = [b.firm_kw for b in blocks]
    return Nomination(month, math.floor(float(np.mean(firm))), min(firm), max(firm),
                      tuple(blocks))

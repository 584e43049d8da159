"""Weeks of plug-in history drawn from a scenario's ``[weekly]`` pattern: for each station
and day, whether its driver comes, when (local hour), for how long (``stay_h``) and at what SoC
(``soc``). Deterministic for a seed. Used to backtest the plug-in forecast."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta

from simulators.scenario import Scenario, Weekly


@dataclass(frozen=True)
class Visit:
    """A car at a station from ``start`` to ``end`` (aware datetimes) at SoC ``soc``."""

    station_id: str
    start: datetime
    end: datetime
    soc: float


def draw_weeks(scenario: Scenario, station_ids: list[str], monday: datetime, weeks: int,
               seed: int = 0) -> list[Visit]:
    """The visits of ``weeks`` weeks from ``monday`` (local midnight, aware), by start."""
    pattern = scenario.weekly or Weekly()
    out = []
    for station in station_ids:
        rng = random.Random(f"{seed}/{station}")
        for day in range(weeks * 7):
            date = monday + timedelta(days=day)
            if date.weekday() not in pattern.days or rng.random() >= pattern.show_up:
                continue
            start = date + timedelta(hours=pattern.arrival_h.draw(rng))
            end = start + timedelta(hours=scenario.stay_h.draw(rng))
            out.append(Visit(station, start, end, scenario.soc.draw(rng)))
    return sorted(out, key=lambda v: (v.start, v.station_id))

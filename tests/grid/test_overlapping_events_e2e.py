"""Overlapping events of two programs over real sockets: four FE-20 stations (80 kW), a
low-priority event of 30 kW through the run; a high-priority event of 30 kW inside it (both
fit: both are met), then a high-priority event of 55 kW (they do not: the low-priority one is
short). One scheduler: an EV serves one event at a time, so no two events set its profile.
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from csms.store.grid.records import Program
from tests.grid.fleet_run import EventSpec, FleetRun, run_fleet

pytestmark = pytest.mark.e2e

CI = 5


def program(name: str, priority: int) -> Program:
    return Program(name, control_interval_s=CI, settle_s=3.0, event_meter_interval_s=1,
                   retry_s=30, priority=priority)


SCENARIO = {
    "name": "overlap", "ocpp": "2.0.1", "meter_interval_s": 10,
    "soc": {"distribution": "uniform", "min": 0.8, "max": 0.9}, "floor": {"value": 0.2},
    "target_soc": {"value": 0.2}, "stay_h": {"value": 3.0},
    "stations": [{"model": "fe20", "count": 4, "latency_s": 1.0, "ramp_kw_per_s": 10.0}],
    "evs": [{"model": "leaf62"}],
}


def steps_between(steps: list[dict], start, end) -> list[dict]:
    return [s for s in steps if start <= s["at"] <= end]


async def test_overlapping_events_are_arbitrated_by_priority(database_url: str) -> None:
    low, high = program("retail", 0), program("utility", 10)
    run = FleetRun(SCENARIO, 4, [EventSpec(low, 0.0, 95.0, 30.0),
                                 EventSpec(high, 10.0, 25.0, 30.0),
                                 EventSpec(high, 45.0, 30.0, 55.0)])
    out = await run_fleet(database_url, run)
    a, b, c = out.event_ids
    t = out.t0
    settle = timedelta(seconds=2 * CI)

    def measured(event: int, start: float, end: float) -> list[float]:
        return [s["measured_kw"] for s in steps_between(
            out.steps[event], t + timedelta(seconds=start) + settle,
            t + timedelta(seconds=end))]

    # both fit: each is held on its target
    for kw in measured(a, 10, 35) + measured(b, 10, 35):
        assert kw == pytest.approx(30.0, rel=0.06), (measured(a, 10, 35), measured(b, 10, 35))
    both = out.delivered_kw(None, t + timedelta(seconds=10) + settle, t + timedelta(seconds=35))
    assert both == pytest.approx(60.0, rel=0.06)
    # they do not: the high-priority event is met, the low-priority one is short
    for kw in measured(c, 45, 75):
        assert kw == pytest.approx(55.0, rel=0.06), measured(c, 45, 75)
    short = measured(a, 45, 75)
    assert short and all(kw < 27.0 for kw in short), short
    assert any(s["shortfall_kw"] > 0 for s in steps_between(
        out.steps[a], t + timedelta(seconds=45) + settle, t + timedelta(seconds=75)))
    # once the high-priority events were over, the low-priority one took the EVs back
    later = [s for s in out.steps[a] if s["at"] > t + timedelta(seconds=80)]
    assert any(len(s["setpoints"]) == 4 for s in later), later

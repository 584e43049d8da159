"""The optimiser and the equal-headroom heuristic on the same simulated fleet over real
sockets: three FE-20 stations with LEAFs at different SoC behind a depot's connection (25 kW
import limit, 8 kW of building load), a 30 kW event, then the cars recharge for their
departure. From what the database stored, the optimiser is no worse on any figure: target
tracking, departure needs missed, kWh cycled per EV and its spread, drivers' earnings spread
(their energy), and site-limit violations at the main meter (none for either).
"""

from __future__ import annotations

import asyncio
import math
import statistics
from datetime import timedelta

import pytest

from csms.store.grid.records import Program
from tests.grid.fleet_run import EventSpec, FleetRun, RunOutcome, run_fleet

pytestmark = pytest.mark.e2e

CI = 5
LIMIT = 25.0
EVENT_S = 30.0
TARGET = 24.0

SCENARIO = {
    "name": "depot", "ocpp": "2.0.1", "meter_interval_s": 10,
    "soc": {"distribution": "uniform", "min": 0.45, "max": 0.9}, "floor": {"value": 0.2},
    "target_soc": {"value": 0.2}, "stay_h": {"value": 3.0},
    "stations": [{"model": "fe20", "count": 3, "latency_s": 1.0, "ramp_kw_per_s": 10.0}],
    "evs": [{"model": "leaf40"}],
    "site": {"name": "depot", "building_kw": 8.0, "meter_interval_s": 1},
}


def figures(out: RunOutcome) -> dict[str, float]:
    [event_id] = out.event_ids
    start = out.t0 + timedelta(seconds=2 * CI)
    end = out.t0 + timedelta(seconds=EVENT_S)
    errors = [abs(s["measured_kw"] - TARGET) / TARGET for s in out.steps[event_id]
              if start <= s["at"] <= end]
    given = {}
    for key, series in out.series.items():
        inside = [s for s in series if out.t0 <= s.at <= end + timedelta(seconds=5)]
        given[key] = (inside[-1].export_wh - inside[0].export_wh) / 1000 if inside else 0.0
    energies = list(given.values())
    mean = statistics.fmean(energies)
    missed = sum(1 for key, soc in out.arrival_soc.items()
                 if out.last_soc[key] < math.floor(soc * 100) / 100 - 0.005)
    over = sum(1 for t, kw in out.connection if kw > LIMIT + 0.2 or kw < -100.0)
    return {"tracking": statistics.fmean(errors), "missed": missed,
            "cycled_max": max(energies), "cycled_sd": statistics.pstdev(energies),
            "earnings_cv": statistics.pstdev(energies) / mean, "violations": over}


async def run(database_url: str, allocator: str) -> dict[str, float]:
    program = Program(f"depot-{allocator}", control_interval_s=CI, settle_s=3.0,
                      event_meter_interval_s=1, retry_s=30, allocator=allocator)
    out = await run_fleet(database_url, FleetRun(
        SCENARIO, 3, [EventSpec(program, 0.0, EVENT_S, TARGET)], site=(LIMIT, 100.0),
        lead_s=12.0, departures={1: 60.0, 2: 60.0, 3: 60.0}))
    return figures(out)


async def test_the_optimiser_is_no_worse_on_the_same_fleet(database_url: str,
                                                           pg_server_url: str) -> None:
    from tests.conftest import new_database

    # both fleets at once, each with its own CSMS node and database (3 stations each)
    async with new_database(pg_server_url) as second:
        heuristic, optimised = await asyncio.gather(run(database_url, "equal-headroom"),
                                                    run(second, "optimised"))
    assert heuristic["violations"] == optimised["violations"] == 0, (heuristic, optimised)
    assert optimised["missed"] <= heuristic["missed"], (heuristic, optimised)
    assert optimised["missed"] == 0, optimised
    # measured tracking carries meter timing noise: no worse within 1 % of the target
    assert optimised["tracking"] <= heuristic["tracking"] + 0.01, (heuristic, optimised)
    for figure in ("cycled_max", "cycled_sd", "earnings_cv"):
        assert optimised[figure] <= heuristic[figure] + 0.01, (figure, heuristic, optimised)
    # and it does spread: the heuristic took most from the fullest car
    assert optimised["earnings_cv"] < heuristic["earnings_cv"]

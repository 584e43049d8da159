"""The recharge after a grid event under a depot's import limit while the building's load
changes, over real sockets: three FE-20s behind one main meter, 25 kW import limit, 8 kW of
building load rising to 18 kW while the cars recharge for their departure.

The recharge is held by the site controller's caps, which follow the measured building load:
the rates are not fixed when the event ends (fixed, the cars' 16 kW of room then would put
the connection at 34 kW once the building draws 18 kW).
"""

from __future__ import annotations

import statistics
from datetime import timedelta

import pytest

from csms.store.grid.records import Program
from tests.grid.fleet_run import EventSpec, FleetRun, run_fleet

pytestmark = pytest.mark.e2e

LIMIT = 25.0
EVENT_S = 20.0
LEAD_S = 12.0
RISE_AFTER_S = 10.0  # the building's load rises this long after the event's end
DEPART_AFTER_S = 28.0
#: one control period of the site controller (see test_site_control_e2e.py)
SETTLE = timedelta(seconds=9)

SCENARIO = {
    "name": "depot", "ocpp": "2.0.1", "meter_interval_s": 2,
    "soc": {"distribution": "uniform", "min": 0.45, "max": 0.9}, "floor": {"value": 0.2},
    "target_soc": {"value": 0.2}, "stay_h": {"value": 3.0},
    "stations": [{"model": "fe20", "count": 3, "latency_s": 1.0, "ramp_kw_per_s": 10.0}],
    "evs": [{"model": "leaf40"}],
    # offsets from the simulators' start, about LEAD_S before the event
    "site": {"name": "depot", "meter_interval_s": 1,
             "building_kw": [[0, 8.0], [LEAD_S + EVENT_S + RISE_AFTER_S, 18.0]]},
}


async def test_depot_recharge_follows_the_building_load_under_the_import_limit(
        database_url: str) -> None:
    program = Program("depot-recharge", control_interval_s=5, settle_s=3.0,
                      event_meter_interval_s=1, retry_s=30)
    out = await run_fleet(database_url, FleetRun(
        SCENARIO, 3, [EventSpec(program, 0.0, EVENT_S, None)], site=(LIMIT, 100.0),
        lead_s=LEAD_S, departures={1: DEPART_AFTER_S, 2: DEPART_AFTER_S, 3: DEPART_AFTER_S},
        exact_targets=True))
    end = out.t0 + timedelta(seconds=EVENT_S)
    rise = end + timedelta(seconds=RISE_AFTER_S)
    leave = end + timedelta(seconds=DEPART_AFTER_S)

    def between(start, stop) -> list[float]:
        return [kw for t, kw in out.connection if start <= t <= stop]

    # the event did discharge (so the cars have something to recharge): the connection exported
    assert min(between(out.t0 + SETTLE, end)) < -5.0
    # recharging on 8 kW of building load: under the limit (the controller, woken by the
    # event's end, shares the room at once), and the cars do recharge
    before = between(end + timedelta(seconds=4), rise - timedelta(seconds=1))
    assert len(before) >= 5 and max(before) <= LIMIT + 0.2, before
    assert statistics.fmean(before) >= 8.0 + 5.0, before
    # the building's load rises by 10 kW: once the controller has followed it, under the limit
    # again, and the cars still recharge in the little room left
    after = between(rise + SETTLE, leave - timedelta(seconds=2))
    assert len(after) >= 5 and max(after) <= LIMIT + 0.2, after
    assert statistics.fmean(after) >= 18.0 + 2.0, after
    # and only the step itself passed the limit, for less than one control period
    over = [t for t, kw in out.connection
            if end + timedelta(seconds=4) <= t <= leave and kw > LIMIT + 0.2]
    assert all(rise - timedelta(seconds=2) <= t <= rise + SETTLE for t in over), over

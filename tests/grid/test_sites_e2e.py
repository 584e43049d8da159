"""Site limits over real sockets: a few simulated FE-20 stations behind one grid connection
whose main meter (EVSE 0 of the first station) reports the building plus the chargers.

- a non-export workplace: the fleet is asked for more than the building draws, and the
  connection never exports (apart from the control interval after the building's load drops,
  which the loop then corrects);
- a depot's recharge after an event within its import limit is checked in
  tests/grid/test_optimiser_e2e.py, for both allocators.
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from csms.grid.sites import margin
from csms.store.grid.records import Program
from tests.grid.fleet_run import EventSpec, FleetRun, run_fleet

pytestmark = pytest.mark.e2e

CI = 5
SETTLE = 3.0


def program(name: str) -> Program:
    return Program(name, control_interval_s=CI, settle_s=SETTLE, event_meter_interval_s=1,
                   retry_s=30)


def scenario(building: list[list[float]], soc: tuple[float, float], car: str = "leaf62"
             ) -> dict:
    return {
        "name": "site", "ocpp": "2.0.1", "meter_interval_s": 10,
        "soc": {"distribution": "uniform", "min": soc[0], "max": soc[1]},
        "floor": {"value": 0.2}, "target_soc": {"value": 0.2}, "stay_h": {"value": 3.0},
        "stations": [{"model": "fe20", "count": 3, "latency_s": 1.0, "ramp_kw_per_s": 10.0}],
        "evs": [{"model": car}],
        "site": {"name": "site", "building_kw": building, "meter_interval_s": 1},
    }


async def test_non_export_site_never_exports_more_than_its_building_draws(
        database_url: str) -> None:
    lead = 12.0
    drop_s = lead + 25.0  # the building's load falls from 30 to 20 kW 25 s into the event
    run = FleetRun(scenario([[0, 30.0], [drop_s, 20.0]], (0.6, 0.8)), 3,
                   [EventSpec(program("workplace"), 0.0, 45.0, 50.0)], site=(100.0, 0.0),
                   lead_s=lead)
    out = await run_fleet(database_url, run)
    [event_id] = out.event_ids
    end = out.t0 + timedelta(seconds=45)
    drop = out.t0 + timedelta(seconds=25)
    react = timedelta(seconds=CI + SETTLE + 2.0)  # the next step, latency and ramp
    during = [(t, kw) for t, kw in out.connection if out.t0 <= t <= end + timedelta(seconds=3)]
    assert len(during) > 30
    # the connection never exports (a negative net import), except while the loop catches
    # up with the building's drop
    exported = [(t, kw) for t, kw in during if kw < -0.2 and not drop <= t <= drop + react]
    assert not exported, exported
    # ... and it did catch up: after the reaction time, no export again
    assert all(kw >= -0.2 for t, kw in during if t > drop + react)
    # the site limit is what held the fleet: it gave close to the building's load, not the
    # 50 kW asked (and not nothing)
    keys = [f"{r['station_id']}/{r['evse_id']}" for r in out.evs[event_id]
            if r["state"] != "excluded"]
    before = out.delivered_kw(keys, out.t0 + timedelta(seconds=CI + SETTLE + 2), drop)
    assert 30.0 - margin(0, 30.0) - 3.0 <= before <= 30.0, before
    after = out.delivered_kw(keys, drop + react, end)
    assert 20.0 - margin(0, 20.0) - 3.0 <= after <= 20.0, after

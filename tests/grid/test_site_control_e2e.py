"""Site load management over real sockets: three simulated FE-20 stations at a depot whose main
meter (EVSE 0 of the first station) reports the building plus the chargers, and no grid event.

The cars want 20 kW each (60 kW with 8 kW of building load, against a 30 kW import limit)
from before the site exists. Once the site controller has had one control period, the stored
main-meter values never pass the import limit; the cars share the room; when one car leaves
the other two take its share. Then the node leading the grid dispatcher (and so the site
controller) stops; the other node, which holds the stations' sockets, takes over with the
same station caps; one station loses its connection, the limit is set lower meanwhile, and the
cars come down under it (the offline one gets its new cap when it is back).
(The post-event recharge under a changing building load: test_site_recharge_e2e.py.)
"""

from __future__ import annotations

import asyncio
import json
import statistics
from datetime import UTC, datetime, timedelta

import pytest

from csms.grid.site_caps import SITE_CAP_PURPOSE
from csms.grid.sites import margin
from csms.metrics import exposition
from csms.server import CentralSystem
from csms.store.grid import sites as site_store
from csms.store.grid.fleet import online_stations
from simulators.scenario import parse_scenario
from simulators.simulated_fleet import Fleet, FleetOptions, build_configs
from tests.cli.conftest import run_cli_async
from tests.conftest import open_config
from tests.grid.harness import all_plugged_in, start_system, wait_until
from tests.operations.conftest import running

pytestmark = pytest.mark.e2e

BUILDING = 8.0
LIMIT = 30.0
LOWER = 24.0
#: one control period: the controller's tick and settle time (SiteControlSettings.settle_s,
#: after which a connection near the limit corrects its estimate of the building), the
#: SetChargingProfile round trip, the charger's latency and ramp, the next main-meter sample
SETTLE = timedelta(seconds=9)
#: each phase: SETTLE, then about 8 s of 1-s main-meter samples to judge (at least 6 are asked
#: for: a loaded machine loses a tick now and then)
PHASE = timedelta(seconds=17)

SCENARIO = {
    "name": "depot", "ocpp": "2.0.1", "meter_interval_s": 2,
    "soc": {"distribution": "uniform", "min": 0.3, "max": 0.4}, "floor": {"value": 0.2},
    "target_soc": {"value": 0.9}, "stay_h": {"value": 1.0},
    "stations": [{"model": "fe20", "count": 3, "latency_s": 1.0, "ramp_kw_per_s": 10.0}],
    "evs": [{"model": "leaf40"}],
    "site": {"name": "depot", "building_kw": BUILDING, "meter_interval_s": 1},
}


async def _power(pool, station: str, start: datetime, end: datetime) -> list[float]:
    """The EVSE's stored import samples (kW) in [start, end]."""
    rows = await pool.fetch(
        "SELECT value FROM meter_values WHERE station_id = $1 AND evse_id = 1"
        " AND measurand = 'Power.Active.Import' AND phase IS NULL"
        " AND timestamp BETWEEN $2 AND $3", station, start, end)
    return [r[0] / 1000.0 for r in rows]


async def offline(pool, station: str) -> bool:
    return not await online_stations(pool, [station])


async def online(pool, station: str) -> bool:
    return bool(await online_stations(pool, [station]))


async def test_depot_charging_stays_under_its_import_limit_and_rebalances(
        database_url: str) -> None:
    leader, _ = await start_system(database_url)
    assert leader.grid is not None
    await asyncio.wait_for(leader.grid.leading.wait(), 10)
    # the stations connect to a second node: the leader can stop without them
    system = CentralSystem(open_config(database_url, heartbeat_interval=300))
    await system.start()
    pool = system.pool
    assert pool is not None and system.grid is not None
    configs = build_configs(FleetOptions(url=f"ws://127.0.0.1:{system.port}/ocpp", stations=3,
                                         password="site-control-pw-001", seed=1,
                                         control_interval_s=0.5), parse_scenario(SCENARIO))
    ids = [c.station_id for c in configs]
    fleet = Fleet(configs)
    try:
        async with running(fleet, stop_within=20):
            await wait_until(lambda: all_plugged_in(pool, 3), 15)
            await asyncio.sleep(3)  # at full rate: 60 kW of chargers, the site not known yet
            t_site = datetime.now(UTC)
            await site_store.add_site(pool, site_store.Site("depot", LIMIT, 100.0, ids[0]))
            await site_store.assign(pool, "depot", ids)
            await asyncio.sleep(PHASE.total_seconds())
            t_leave = datetime.now(UTC)
            fleet.stations[2].unplug()
            fleet.stations[2].wake()
            await asyncio.sleep(PHASE.total_seconds())
            ids_before = dict(await pool.fetch("SELECT station_id, profile_id FROM grid_site_caps"))
            await leader.stop()
            await asyncio.wait_for(system.grid.leading.wait(), 15)
            await asyncio.sleep(2)  # the new leader's first look
            # the second station loses its connection; the limit is set lower meanwhile
            fleet.stations[1].drop_connection()
            await wait_until(lambda: offline(pool, ids[1]), 10)
            t_lower = datetime.now(UTC)
            await site_store.change_site(pool, "depot", import_kw=LOWER)
            await wait_until(lambda: online(pool, ids[1]), 20)
            t_back = datetime.now(UTC)
            await asyncio.sleep((SETTLE + PHASE / 2).total_seconds())
            t_end = datetime.now(UTC)
            shown = await run_cli_async("sites", "show", "depot", "--json",
                                        "--database-url", database_url)
            text = await run_cli_async("sites", "show", "depot", "--database-url", database_url)
        rows = await pool.fetch(
            "SELECT timestamp, measurand, value FROM meter_values WHERE station_id = $1"
            " AND evse_id = 0 AND measurand IN ('Power.Active.Import', 'Power.Active.Export')"
            " ORDER BY timestamp", ids[0])
        caps = await pool.fetch(
            "SELECT station_id, profile_id, stack_level, purpose"
            " FROM installed_charging_profiles WHERE evse_id = 0 ORDER BY station_id")
        planner = await pool.fetchval("SELECT node_id FROM grid_site_plans")
        power = {(s, i): await _power(pool, s, *window) for s in ids
                 for i, window in enumerate([(t_site + SETTLE, t_leave),
                                             (t_leave + SETTLE, t_lower),
                                             (t_back + SETTLE, t_end)])}
    finally:
        await system.stop()
        await leader.stop()

    net: dict[datetime, float] = {}
    for at, measurand, watts in rows:
        net[at] = net.get(at, 0.0) + (1 if measurand == "Power.Active.Import" else -1) * watts / 1e3
    connection = sorted(net.items())

    def between(start: datetime, end: datetime) -> list[float]:
        return [kw for t, kw in connection if start <= t <= end]

    # before the site existed, the cars drew what they wanted: over the limit (so the checks
    # below can fail)
    assert max(between(t_site - timedelta(seconds=3), t_site)) > LIMIT + 10
    # 1. three cars: never over the limit once settled, and the room is used
    first = between(t_site + SETTLE, t_leave)
    assert len(first) >= 6 and max(first) <= LIMIT + 0.2, first
    room = LIMIT - BUILDING - margin(LIMIT, BUILDING)
    assert statistics.fmean(first) >= BUILDING + room - 2.5, first
    shares = [statistics.fmean(power[(s, 0)]) for s in ids]
    assert all(abs(kw - room / 3) <= 1.5 for kw in shares), shares
    # 2. the third car leaves: the two others take its share, still under the limit
    second = between(t_leave + SETTLE, t_lower)
    assert len(second) >= 6 and max(second) <= LIMIT + 0.2, second
    shares = [statistics.fmean(power[(s, 1)]) for s in ids[:2]]
    assert all(abs(kw - room / 2) <= 1.5 for kw in shares), shares
    # 3. the limit set lower while the second station is offline: it keeps the cap it holds,
    # the first one comes down to what is left, and once the second is back it is sent its
    # new cap and both share the room; under the new limit throughout
    third = between(t_lower + SETTLE, t_end)
    assert len(third) >= 6 and max(third) <= LOWER + 0.2, third
    lower_room = LOWER - BUILDING - margin(LOWER, BUILDING)
    shares = [statistics.fmean(power[(s, 2)]) for s in ids[:2]]
    assert all(abs(kw - lower_room / 2) <= 1.5 for kw in shares), shares
    # the new leader kept each station's cap (same profile id: replaced in place, K01.FR.05),
    # and the plan is its own
    assert {r[0]: r[1] for r in caps} == ids_before and len(ids_before) == 3
    assert all(r[2] == 1 and r[3] == SITE_CAP_PURPOSE for r in caps), caps
    assert planner == system.config.node_id
    # the CLI shows the controller's latest plan: the headroom and each EVSE's allocation
    assert shown.exit_code == 0, shown.stderr
    out = json.loads(shown.stdout)
    by_kind = {(a["station"], a["kind"]): a for a in out["allocations"]}
    assert {k for _, k in by_kind} == {"charging", "idle"}, out["allocations"]
    assert by_kind[(ids[2], "idle")]["share_kw"] == 0.0  # no room left for an arrival
    assert abs(out["room_kw"] - lower_room) <= 1.0 and abs(out["headroom_kw"]) <= 0.1, out
    assert all(by_kind[(s, "charging")]["cap_status"] == "accepted" for s in ids[:2])
    assert text.exit_code == 0, text.stderr
    lines = text.stdout.splitlines()
    assert f"headroom_kw: {out['headroom_kw']}" in lines, text.stdout
    header = next(i for i, line in enumerate(lines) if line.startswith("STATION  EVSE  KIND"))
    rows = [line.split() for line in lines[header + 1:]]
    assert [(r[0], r[2]) for r in rows] == [(ids[0], "charging"), (ids[1], "charging"),
                                            (ids[2], "idle")], text.stdout
    # and the leader's metrics carry the room of its last plan
    exposed = {line.rsplit(" ", 1)[0]: float(line.rsplit(" ", 1)[1])
               for line in exposition().decode().splitlines() if line.startswith("csms_site_")}
    assert exposed['csms_site_room_kw{site="depot"}'] == pytest.approx(out["room_kw"], abs=0.01)
    assert exposed['csms_site_headroom_kw{site="depot"}'] == pytest.approx(
        out["headroom_kw"], abs=0.01)

"""Sites: the CLI (add, set, assign, list, show, meter import), the building load from the
main meter or imported data, the site-limited allocation and the import split."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from csms.grid.forecast import capability
from csms.grid.optimiser import Problem, SiteRoom, solve
from csms.grid.planner import site_views
from csms.grid.site_load import parse_load_csv
from csms.grid.sites import (
    SiteCaps,
    allocate_within_sites,
    building_forecast,
    export_room,
    margin,
    split_import,
)
from csms.store import stations
from csms.store.db import open_pool
from csms.store.grid import sites as store
from csms.store.grid.records import GridInputError
from csms.store.metering import MeterSample, insert_meter_values
from tests.grid.conftest import error, ok
from tests.grid.factories import at, ev


def test_sites_cli(csms, database_url: str, tmp_path: Path) -> None:
    for station in ("CP1", "CP2"):
        ok(csms("stations", "add", station, "--password", "a-password-of-16+"))
    out = ok(csms("sites", "add", "workplace", "--import-kw", "200", "--export-kw", "0",
                  "--meter", "CP1")).stdout
    assert "non-export" in out
    error(csms("sites", "add", "workplace", "--import-kw", "1", "--export-kw", "1"), 8,
          "already exists")
    error(csms("sites", "add", "x", "--import-kw", "-5", "--export-kw", "0"), 2, "--import-kw")
    error(csms("sites", "add", "x", "--import-kw", "5", "--export-kw", "0", "--meter", "NOPE"),
          3, "no station NOPE")
    ok(csms("sites", "assign", "workplace", "CP1", "CP2"))
    error(csms("sites", "assign", "workplace", "CP9"), 3, "CP9")
    error(csms("sites", "assign", "nowhere", "CP1"), 3, "no site nowhere")
    csv_file = tmp_path / "load.csv"
    now = datetime.now(UTC).replace(microsecond=0)
    csv_file.write_text("time,building_kw\n"
                        f"{(now - timedelta(minutes=30)).isoformat()},42.5\n"
                        f"{(now + timedelta(minutes=30)).isoformat()},10\n")
    assert "2 reading(s)" in ok(csms("sites", "meter", "import", "workplace",
                                     str(csv_file))).stdout
    shown = json.loads(ok(csms("sites", "show", "workplace", "--json")).stdout)
    # no main-meter reading yet: the imported reading in force now
    assert shown["building_kw"] == 42.5 and shown["building_source"] == "imported"
    assert shown["members"] == ["CP1", "CP2"] and shown["non_export"] is True
    assert shown["export_room_kw"] == 42.5
    ok(csms("sites", "set", "workplace", "--export-kw", "15", "--no-meter"))
    [listed] = json.loads(ok(csms("sites", "list", "--json")).stdout)
    assert listed["export_kw"] == 15 and listed["meter"] is None and listed["stations"] == 2
    bad = tmp_path / "bad.csv"
    bad.write_text("time,building_kw\n2026-01-01T00:00:00Z,12\nyesterday,3\n")
    error(csms("sites", "meter", "import", "workplace", str(bad)), 2, "line 3")
    error(csms("sites", "show", "nowhere"), 3, "no site nowhere")


async def test_building_load_from_the_main_meter_less_the_chargers(database_url: str) -> None:
    pool = await open_pool(database_url)
    try:
        now = datetime.now(UTC)
        for station in ("M1", "CP2"):
            await stations.register_station(pool, station, "site-test-password-1")
        await store.add_site(pool, store.Site("depot", 50.0, 0.0, "M1"))
        await store.assign(pool, "depot", ["M1", "CP2"])
        site = await store.get_site(pool, "depot")
        assert site is not None
        assert (await store.building_load(pool, site, now)).source == "unknown"

        def sample(evse: int, measurand: str, watts: float) -> MeterSample:
            return MeterSample(evse_id=evse, transaction_id=None, timestamp=now,
                               measurand=measurand, value=watts, unit="W", phase=None,
                               location="Outlet", context="Sample.Periodic")

        # the connection imports 12 kW while CP2 exports 20 kW: the building draws 32 kW
        await insert_meter_values(pool, "M1", [sample(0, "Power.Active.Import", 12000.0),
                                               sample(0, "Power.Active.Export", 0.0)])
        await insert_meter_values(pool, "CP2", [sample(1, "Power.Active.Export", 20000.0)])
        load = await store.building_load(pool, site, now + timedelta(seconds=1))
        assert load.source == "meter" and load.kw == pytest.approx(32.0)
        assert load.connection_kw == pytest.approx(12.0)
        # a reading older than the stale window is not used
        stale = await store.building_load(pool, site, now + timedelta(minutes=5))
        assert stale.source == "unknown"
    finally:
        await pool.close()


def test_allocation_keeps_each_site_within_its_room() -> None:
    evs = [ev(n, soc=0.9) for n in range(1, 5)]
    caps = [capability(e, at(0), at(60)) for e in evs]
    sites = SiteCaps({"A": 12.0}, {"CP1/1": "A", "CP2/1": "A"})
    result = allocate_within_sites(caps, 50.0, 1.0, sites=sites)
    at_a = result.shares.get("CP1/1", 0) + result.shares.get("CP2/1", 0)
    assert at_a <= 12.0 + 1e-9
    # the others make up what site A cannot give
    assert result.planned_kw == pytest.approx(50.0)
    assert result.shares["CP3/1"] + result.shares["CP4/1"] == pytest.approx(50.0 - at_a)
    # when nobody can make up for it, the shortfall is reported
    short = allocate_within_sites(caps, 70.0, 1.0, sites=sites)
    assert short.planned_kw <= 52.0 + 1e-9 and short.shortfall_kw >= 18.0 - 1e-9


def test_export_room_and_import_split() -> None:
    # non-export: the chargers may give the building's load, less the margin
    assert export_room(0.0, 30.0, 0.0) == pytest.approx(30.0 - margin(0.0, 30.0))
    # another charger of the site drawing 5 kW makes room for 5 kW more export
    assert export_room(0.0, 30.0, 5.0) == pytest.approx(35.0 - margin(0.0, 30.0))
    assert export_room(0.0, 0.0, 0.0) == 0.0
    shares = split_import({"a": 20.0, "b": 20.0, "c": 3.0}, 16.0)
    assert shares["c"] == pytest.approx(3.0)
    assert shares["a"] == pytest.approx(6.5) and shares["b"] == pytest.approx(6.5)
    assert sum(split_import({"a": 20.0}, 0.0).values()) == 0.0


def test_load_csv_is_read_strictly() -> None:
    rows = parse_load_csv("timestamp,building_w,other\n2026-07-01T16:00:00-07:00,12500,x\n"
                          "2026-07-01T15:00:00,3000,y\n")
    assert rows == [(datetime(2026, 7, 1, 15, 0, tzinfo=UTC), 3.0),
                    (datetime(2026, 7, 1, 23, 0, tzinfo=UTC), 12.5)]
    for text, fragment in (("", "empty"), ("time,kw\n", "header"),
                           ("time,building_kw\n", "no readings"),
                           ("time,building_kw\n2026-07-01T00:00:00Z,-1\n", "line 2"),
                           ("time,building_kw\n2026-07-01T00:00:00Z,nan\n", "line 2")):
        with pytest.raises(GridInputError, match=fragment):
            parse_load_csv(text)


def test_share_site_keeps_every_cap_under_the_import_room() -> None:
    from csms.grid.sites import Demand, share_site

    room = 50.0 - 10.0 - margin(50.0, 10.0)  # 39 kW
    demands = [Demand("CP1/1", "CP1", "charging", 20.0),
               Demand("CP2/1", "CP2", "charging", 20.0, minimum_kw=15.0),  # leaves soon
               Demand("CP3/1", "CP3", "charging", 3.0),  # takes little
               Demand("CP4/1", "CP4", "event", 6.0),  # a charge an event's plan asks
               Demand("CP5/0", "CP5", "idle", 20.0)]
    shares = share_site(50.0, 10.0, demands)
    assert shares.room_kw == pytest.approx(room)
    # the event's charge first, then the departure minimum, then equal shares of the rest up
    # to each rate: CP3 takes its 3 kW, CP2 its 15 kW and 5 kW more, CP1 as much (10 kW)
    assert shares.shares["CP4/1"] == pytest.approx(6.0)
    assert shares.shares["CP3/1"] == pytest.approx(3.0)
    assert shares.shares["CP2/1"] == pytest.approx(20.0)
    assert shares.shares["CP1/1"] == pytest.approx(room - 6.0 - 3.0 - 20.0)
    assert shares.shares["CP5/0"] == 0.0 and shares.headroom_kw == pytest.approx(0.0)
    assert sum(shares.station_caps(demands).values()) == pytest.approx(room)
    # a station that does not take its cap is counted as it stands, before anyone else
    loose = [*demands[:3], Demand("CP4/0", "CP4", "uncontrolled", 20.0)]
    shares = share_site(50.0, 10.0, loose)
    assert shares.shares["CP4/0"] == 20.0
    assert sum(shares.shares[d.key] for d in loose[:3]) == pytest.approx(room - 20.0)
    # room to spare: every car at its rate, the rest offered to the next arrival
    shares = share_site(100.0, 10.0, demands)
    assert shares.shares["CP1/1"] == shares.shares["CP2/1"] == 20.0
    assert shares.shares["CP5/0"] == 20.0 and shares.headroom_kw > 0
    # a limit below the building's load: nothing for anyone
    assert sum(share_site(8.0, 10.0, demands).shares.values()) == 0.0


def test_share_site_scales_down_what_events_hold_beyond_the_room() -> None:
    from csms.grid.sites import Demand, share_site

    demands = [Demand("CP1/1", "CP1", "event", 20.0), Demand("CP2/1", "CP2", "event", 10.0),
               Demand("CP3/1", "CP3", "charging", 20.0)]
    shares = share_site(20.0, 4.0, demands)  # 15 kW of room
    assert shares.shares["CP1/1"] == pytest.approx(10.0)
    assert shares.shares["CP2/1"] == pytest.approx(5.0)
    assert shares.shares["CP3/1"] == 0.0


async def test_site_controller_keeps_under_other_station_maximums(database_url: str) -> None:
    """An operator's own station maximum: one on a lower stack level than the site cap bounds
    what the controller gives the station (the station would not apply it while the cap is
    in force); one on a higher level wins over the cap, and the station is counted as it
    stands."""
    from csms.grid.site_control import SiteController
    from csms.operations import Operations
    from csms.store import charging

    def station_max(profile_id: int, stack_level: int, watts: int) -> dict:
        return {"id": profile_id, "stackLevel": stack_level,
                "chargingProfilePurpose": "ChargingStationMaxProfile",
                "chargingProfileKind": "Absolute", "chargingSchedule": [{
                    "id": profile_id, "startSchedule": "2020-01-01T00:00:00Z",
                    "chargingRateUnit": "W",
                    "chargingSchedulePeriod": [{"startPeriod": 0, "limit": watts}]}]}

    pool = await open_pool(database_url)
    try:
        for station in ("CP1", "CP2", "CP3"):
            await stations.register_station(pool, station, "a-password-of-16+")
        await pool.execute("UPDATE stations SET subprotocol = 'ocpp2.0.1'")
        await charging.replace_installed(pool, "CP1", "2.0.1",
                                         [(0, "CSO", station_max(7, 0, 11000))])
        await charging.replace_installed(pool, "CP2", "2.0.1",
                                         [(0, "CSO", station_max(8, 5, 16000))])
        controller = SiteController(Operations(pool, database_url), "node-1")
        await controller.tick(datetime.now(UTC))  # no site yet: loads the (empty) caps
        limits, overridden = await controller.station_limits(
            ["CP1", "CP2", "CP3"], datetime.now(UTC))
    finally:
        await pool.close()
    assert limits == {"CP1": 11.0, "CP2": 16.0}
    assert overridden == {"CP2"}


def test_building_forecast_per_interval() -> None:
    edges = [at(15 * t) for t in range(9)]  # two hours in quarters
    # measured 30 kW now; the site's meter data says 12 kW from 0:40, 50 kW at 1:00 for
    # ten minutes and 8 kW from 1:10 (a reading holds at most an hour, then the measured
    # figure is the forecast again)
    readings = [(at(-20), 99.0), (at(40), 12.0), (at(60), 50.0), (at(70), 8.0)]
    forecast = building_forecast(30.0, at(0), readings, edges)
    assert forecast == [(30.0, 30.0), (30.0, 30.0), (12.0, 30.0), (12.0, 12.0),
                        (8.0, 50.0), (8.0, 8.0), (8.0, 8.0), (8.0, 8.0)]
    # 8 kW from 1:10 holds until 2:10; with nothing after it the measured 30 kW returns
    assert building_forecast(30.0, at(0), readings, [at(125), at(135)]) == [(8.0, 30.0)]
    assert building_forecast(30.0, at(0), [], edges[:3]) == [(30.0, 30.0)] * 2


async def test_the_optimiser_keeps_each_intervals_export_room_from_the_load_forecast(
        database_url: str) -> None:
    """A non-export site whose building load is forecast to fall from 40 kW to 10 kW half-way
    through the event: the plan keeps the site's EVs under each interval's room (the flat
    figure of the moment would let them export 38 kW in the second hour too), the EVs
    elsewhere make up the difference, and the recharge after the event fits the import
    room under the highest load forecast until departure (60 kW from 3 h after the end)."""
    pool = await open_pool(database_url)
    try:
        now = datetime.now(UTC).replace(microsecond=0)
        end = now + timedelta(hours=2)
        for station in ("W1", "W2", "D1", "D2"):
            await stations.register_station(pool, station, "site-test-password-1")
        await store.add_site(pool, store.Site("works", 100.0, 0.0))
        await store.assign(pool, "works", ["W1", "W2"])
        await store.import_load(pool, "works", [
            (now - timedelta(minutes=10), 40.0), (now + timedelta(minutes=60), 10.0),
            (now + timedelta(minutes=110), 10.0), (end + timedelta(minutes=50), 10.0),
            (end + timedelta(hours=3), 60.0)])
        evs = [ev(1, station_id="W1", soc=0.9, departure=end + timedelta(hours=4),
                  departure_soc=0.85),
               ev(2, station_id="W2", soc=0.9),
               ev(3, station_id="D1", soc=0.9), ev(4, station_id="D2", soc=0.9)]
        views, site_of = await site_views(pool, {e.key: e.station_id for e in evs}, {}, now,
                                          60.0, end + timedelta(hours=24))
        view = views["works"]
        assert view.load.source == "imported" and view.load.kw == 40.0
        edges = [now + timedelta(minutes=15 * t) for t in range(9)]
        rooms = view.export_rooms(edges)
        assert rooms[:4] == [pytest.approx(40.0 - margin(0.0, 40.0))] * 4
        assert rooms[4:] == [pytest.approx(10.0 - margin(0.0, 10.0))] * 4
        assert view.import_room_over(end, end + timedelta(minutes=100)) == pytest.approx(
            100.0 - 10.0 - margin(100.0, 10.0))
        # past the last reading's hour (at 1:50 after the end) the 40 kW of now holds again
        assert view.import_room_over(end, end + timedelta(minutes=120)) == pytest.approx(
            100.0 - 40.0 - margin(100.0, 40.0))
        assert view.import_room_over(end, end + timedelta(hours=4)) == pytest.approx(
            100.0 - 60.0 - margin(100.0, 60.0))
        caps = [capability(e, now, end) for e in evs]
        plan = solve(Problem(caps, 40.0, 2.0, end, {}, {"works": SiteRoom(rooms)}, site_of,
                             intervals=8), 10.0)
        assert plan.allocation is not None and plan.schedule is not None
        keys = list(plan.keys)
        at_works = plan.schedule[[keys.index("W1/1"), keys.index("W2/1")]].sum(axis=0)
        assert plan.block_h == (1.0, 1.0)  # four quarters of each room merged
        assert at_works[0] <= rooms[0] + 1e-6 and at_works[1] <= rooms[4] + 1e-6
        assert at_works[1] < 20.0  # the flat room would have allowed 38 kW
        assert plan.schedule.sum(axis=0) == pytest.approx([40.0, 40.0])
    finally:
        await pool.close()

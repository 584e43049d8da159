"""``csms profiles`` against a real CSMS node and simulated stations: set, list, composite,
clear, and requests refused before sending with one line naming the rule."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
import structlog
from typer.testing import Result

from csms.server import CentralSystem
from csms.store import stations
from tests.cli.conftest import assert_error, assert_ok, run_cli_async
from tests.conftest import PASSWORD, StartStation


@pytest.fixture(autouse=True)
def quiet_server() -> Iterator[None]:
    """The CSMS node runs in this process: keep its log lines out of the CLI's captured
    stdout and stderr, which the tests read."""
    saved = structlog.get_config()
    structlog.configure(logger_factory=structlog.ReturnLoggerFactory())
    yield
    structlog.configure(**saved)


async def _csms(system: CentralSystem, *args: str) -> Result:
    return await run_cli_async(*args, "--database-url", system.config.database_url,
                               "--timeout", "10")


async def test_set_list_composite_and_clear_a_discharge_on_a_2_1_station(
    csms: CentralSystem, start_station: StartStation
) -> None:
    sim = await start_station(version="2.1")
    out = assert_ok(await _csms(csms, "profiles", "set", sim.id, "--evse", "1",
                                "--discharge-kw", "6.5", "--until", "+30m")).stdout
    profile_id = int(out.strip().rsplit(" ", 1)[-1])
    installed = sim.station.profiles.installed.get(profile_id)
    assert installed is not None
    period = installed.profile.schedule.periods[0]
    assert (period.operation_mode, period.setpoint, period.discharge_limit) == (
        "CentralSetpoint", -6500, -6500)
    listing = json.loads(assert_ok(await _csms(csms, "profiles", "list", sim.id,
                                               "--json")).stdout)
    assert listing["status"] == "Accepted" and listing["differences"] == []
    assert profile_id in {row["id"] for row in listing["believed"]}
    assert profile_id in {row["id"] for row in listing["reported"]}
    composite = json.loads(assert_ok(await _csms(csms, "profiles", "composite", sim.id,
                                                 "--evse", "1", "--duration", "300",
                                                 "--json")).stdout)
    assert composite["differences"] == []
    assert composite["reported"][0]["setpoint"] == -6500
    assert_ok(await _csms(csms, "profiles", "clear", sim.id, "--profile-id", str(profile_id)))
    assert sim.station.profiles.installed.get(profile_id) is None


async def test_requests_breaking_a_rule_are_refused_before_sending(
    csms: CentralSystem, start_station: StartStation
) -> None:
    sim = await start_station(version="2.1")
    assert_error(await _csms(csms, "profiles", "set", sim.id, "--evse", "0",
                             "--discharge-kw", "5"), 2, "K01.FR.16")
    assert_error(await _csms(csms, "profiles", "set", sim.id, "--evse", "1", "--charge-kw", "5",
                             "--purpose", "ChargingStationMaxProfile"), 2, "evseId 0")
    assert_error(await _csms(csms, "profiles", "set", sim.id, "--evse", "0",
                             "--discharge-kw", "5", "--purpose", "ChargingStationMaxProfile"),
                 2, "operationMode CentralSetpoint is not allowed for ChargingStationMaxProfile")
    assert_error(await _csms(csms, "profiles", "set", sim.id, "--evse", "1", "--charge-kw", "5",
                             "--from", "+1h", "--until", "+10m"), 2, "--until")
    assert_error(await _csms(csms, "profiles", "set", sim.id, "--evse", "1"), 2,
                 "--charge-kw / --discharge-kw")
    assert csms.pool is not None
    actions = await csms.pool.fetch("SELECT action FROM commands WHERE station_id = $1"
                                    " AND action = 'SetChargingProfile' AND payload->"
                                    "'chargingProfile'->>'stackLevel' = '1'", sim.id)
    assert actions == []


async def test_unknown_and_offline_stations(csms: CentralSystem) -> None:
    assert_error(await _csms(csms, "profiles", "set", "NOPE", "--evse", "1",
                             "--charge-kw", "5"), 3, "NOPE")
    assert csms.pool is not None
    await stations.register_station(csms.pool, "IDLE", PASSWORD)
    assert_error(await _csms(csms, "profiles", "clear", "IDLE"), 4, "not connected")
    assert_error(await _csms(csms, "profiles", "list", "IDLE"), 4, "never connected")

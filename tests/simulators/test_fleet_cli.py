"""The fleet harness and ``csms-sim``: scenarios, determinism, a real run, one-line errors."""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from simulators.cli import main
from simulators.faults import FaultRates, plan_faults, station_rng
from simulators.scenario import Scenario, ScenarioError, load_scenario, parse_scenario
from simulators.simulated_fleet import FleetOptions, build_configs, station_ids
from tests.simulators.minicsms import MiniCsms

SCENARIOS = Path(__file__).resolve().parents[2] / "simulators" / "scenarios"


@pytest.mark.parametrize("name", ["workplace", "depot"])
def test_example_scenarios_load_and_build_a_fleet(name: str) -> None:
    scenario = load_scenario(SCENARIOS / f"{name}.toml")
    configs = build_configs(FleetOptions(url="ws://h/ocpp", stations=30, seed=4), scenario)
    assert [c.station_id for c in configs] == station_ids("SIM", 30)
    for config in configs:
        visit = config.arrivals[0][1]
        assert visit.battery.floor_soc >= 0.2
        assert visit.departure_at > config.arrivals[0][0]


def test_same_seed_gives_the_same_cars_and_faults() -> None:
    scenario = load_scenario(SCENARIOS / "workplace.toml")
    a = build_configs(FleetOptions(url="ws://h", stations=50, seed=9), scenario, now=1000.0)
    b = build_configs(FleetOptions(url="ws://h", stations=50, seed=9), scenario, now=1000.0)
    c = build_configs(FleetOptions(url="ws://h", stations=50, seed=10), scenario, now=1000.0)

    def fingerprint(configs: list) -> list:
        return [(x.arrivals[0][1].battery.soc, x.arrivals[0][1].departure_at,
                 x.faults.kinds, x.faults.drops_at_s) for x in configs]

    assert fingerprint(a) == fingerprint(b)
    assert fingerprint(a) != fingerprint(c)


def test_fault_rates_are_respected_over_many_stations() -> None:
    rates = FaultRates(stuck_at_zero=0.25, connection_drop=1.0, drop_mean_interval_s=100)
    plans = [plan_faults(rates, station_rng(1, f"S{i}"), 1000.0) for i in range(400)]
    stuck = sum("stuck_at_zero" in p.kinds for p in plans)
    assert 60 <= stuck <= 140
    assert all(p.drops_at_s and max(p.drops_at_s) < 1000.0 for p in plans)


def test_default_scenario_is_leafs_between_30_and_90_percent_with_a_20_percent_floor() -> None:
    configs = build_configs(FleetOptions(url="ws://h", stations=100), Scenario())
    socs = [c.arrivals[0][1].battery.soc for c in configs]
    assert all(0.3 <= s <= 0.9 for s in socs)
    assert {c.arrivals[0][1].battery.floor_soc for c in configs} == {0.2}
    assert {c.charger.model for c in configs} == {"FE-20"}


@pytest.mark.parametrize(("data", "named"), [
    ({"stations": [{"model": "fe99"}]}, "stations[0].model"),
    ({"soc": {"distribution": "uniform", "min": 0.2, "max": 1.5}}, "soc.max"),
    ({"faults": {"stuck_at_zero": 2}}, "stuck_at_zero"),
    ({"colour": "red"}, "colour"),
    ({"evs": [{"model": "tesla"}]}, "evs[0].model"),
])
def test_bad_scenarios_name_the_key(data: dict, named: str) -> None:
    with pytest.raises(ScenarioError, match=named.replace("[", r"\[").replace("]", r"\]")):
        parse_scenario(data)


@pytest.mark.parametrize(("args", "named"), [
    (["--ocpp", "1.6"], "--ocpp"),
    (["--stations", "0"], "--stations"),
    (["--password", "short"], "--password"),
    (["--duration", "-1"], "--duration"),
])
def test_cli_errors_are_one_line_naming_the_argument(args: list[str], named: str) -> None:
    result = CliRunner().invoke(main, ["run", "--url", "ws://127.0.0.1:1/ocpp", *args])
    assert result.exit_code == 2
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and named in lines[0]
    assert "Traceback" not in result.output


def test_cli_bad_scenario_file_is_one_line(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text("stations = [ { model = 'fe20', count = -3 } ]\n")
    result = CliRunner().invoke(main, ["run", "--url", "ws://h/x", "--scenario", str(bad)])
    assert result.exit_code == 2
    assert "stations[0].count" in result.output
    assert len(result.output.strip().splitlines()) == 1


async def test_csms_sim_run_brings_up_a_charging_fleet(csms: MiniCsms, tmp_path: Path) -> None:
    summary_file = tmp_path / "summary.json"
    scenario = tmp_path / "quick.toml"
    # Quick chargers so that power flows within the short run.
    scenario.write_text("soc = 0.5\n[[stations]]\nmodel = 'fe20'\ncount = 5\n"
                        "latency_s = 0.5\nramp_kw_per_s = 20\n")
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-c", "from simulators.cli import main; main()", "run",
        "--url", csms.url, "--stations", "5", "--id-prefix", "FLEET", "--duration", "4",
        "--interval", "1", "--seed", "3", "--summary-json", str(summary_file),
        "--scenario", str(scenario),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    stdout, stderr = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode == 0, stderr.decode()
    summary = json.loads(summary_file.read_text())
    assert summary["stations"] == 5
    assert summary["transactions"] == 5
    assert summary["charging"] == 5
    assert summary["kw_in"] > 0
    assert b"connected" in stdout
    booted = {s for s, a, _, _ in csms.received if a == "BootNotification"}
    assert booted == {f"FLEET{n}" for n in range(1, 6)}
    started = [p for p in csms.messages("TransactionEvent") if p["eventType"] == "Started"]
    assert len(started) == 5
    # Default --auth none: no Authorize, the transaction starts with a NoAuthorization token.
    assert {p["idToken"]["type"] for p in started} == {"NoAuthorization"}
    assert not csms.messages("Authorize")

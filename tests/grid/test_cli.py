"""``csms programs|events|fleet|drivers``: results, JSON, one-line errors and exit codes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.grid.conftest import error, ok

SLOT = {"start_time": "2030-07-15T16:00:00-07:00", "end_time": "2030-07-15T18:00:00-07:00",
        "energy_kw": 300, "nomination_kw": 350, "programs": ["CEC-DSGS"]}


def test_programs_add_list_show_and_conflict(csms) -> None:
    ok(csms("programs", "add", "CEC-DSGS", "--compensation", "dsgs", "--baseline",
            "prescriptive", "--window", "16:00-21:00", "--timezone", "America/Los_Angeles"))
    listed = json.loads(ok(csms("programs", "list", "--json")).stdout)
    assert [p["name"] for p in listed] == ["CEC-DSGS"]
    shown = json.loads(ok(csms("programs", "show", "CEC-DSGS", "--json")).stdout)
    assert shown["window_start"] == "16:00:00" and shown["dsgs_rates"]["2025-08"] == 17.55
    assert shown["retry_s"] == 300.0
    ok(csms("programs", "add", "FAST", "--retry", "2m"))
    assert json.loads(ok(csms("programs", "show", "FAST", "--json")).stdout)["retry_s"] == 120.0
    error(csms("programs", "add", "CEC-DSGS"), 8, "already exists")
    error(csms("programs", "show", "nope"), 3, "no program")


@pytest.mark.parametrize(("args", "fragment"), [
    (["--window", "21:00-16:00"], "--window"),
    (["--baseline", "guess"], "--baseline:"),
    (["--floor", "120"], "--floor"),
    (["--control-interval", "10s", "--settle", "20s"], "--settle:"),
    (["--retry", "0s"], "--retry:"),
    (["--retry", "soon"], "--retry"),
    (["--timezone", "Mars/Olympus"], "--timezone"),
])
def test_program_argument_errors_name_the_argument(csms, args: list[str], fragment: str) -> None:
    error(csms("programs", "add", "p", *args), 2, fragment)


def test_event_create_reports_the_shortfall_before_the_start(csms) -> None:
    out = json.loads(ok(csms("events", "create", "--start", "+1h", "--duration", "2h",
                             "--target-kw", "300", "--json")).stdout)
    assert out["forecast_kw"] == 0.0 and out["shortfall_kw"] == 300.0  # nothing plugged in
    text = ok(csms("events", "create", "--start", "+3h", "--duration", "1h", "--target-kw",
                   "50"))
    assert "50.0 kW short" in text.stderr
    events = json.loads(ok(csms("events", "list", "--json")).stdout)
    assert {e["status"] for e in events} == {"scheduled"}
    shown = json.loads(ok(csms("events", "show", str(out["event"]), "--json")).stdout)
    assert shown["program"] == "default" and shown["evs"] == []
    ok(csms("events", "cancel", str(out["event"])))
    error(csms("events", "cancel", str(out["event"])), 8, "already cancelled")
    error(csms("events", "show", "999"), 3, "no event 999")


@pytest.mark.parametrize(("args", "fragment"), [
    (["--start", "+1h", "--duration", "1h"], "--target-kw KW and --max"),
    (["--start", "+1h", "--duration", "1h", "--max", "--target-kw", "5"], "exactly one"),
    (["--start", "soon", "--duration", "1h", "--max"], "--start"),
    (["--start", "+1h", "--duration", "0", "--max"], "--duration"),
    (["--start", "+1h", "--duration", "1h", "--target-kw", "-4"], "--target-kw"),
    (["--start", "+1h", "--duration", "1h", "--max", "--program", "nope"], "no program"),
])
def test_event_create_errors(csms, args: list[str], fragment: str) -> None:
    result = csms("events", "create", *args)
    error(result, 3 if fragment == "no program" else 2, fragment)


def test_dispatch_import_is_deduplicated_and_cancellable(csms, tmp_path: Path) -> None:
    ok(csms("programs", "add", "CEC-DSGS", "--compensation", "dsgs"))
    path = tmp_path / "dispatch.json"
    path.write_text(json.dumps({"id": "mp-7", "timeslots": [SLOT, {**SLOT, "energy_kw": None,
                                "start_time": "2030-07-16T16:00:00-07:00",
                                "end_time": "2030-07-16T17:00:00-07:00"}]}))
    first = json.loads(ok(csms("events", "import", str(path), "--json")).stdout)
    assert [r["action"] for r in first] == ["created", "created"]
    again = json.loads(ok(csms("events", "import", str(path), "--json")).stdout)
    assert [r["action"] for r in again] == ["unchanged", "unchanged"]
    assert [r["event_id"] for r in again] == [r["event_id"] for r in first]
    path.write_text(json.dumps({"id": "mp-7", "timeslots": [{**SLOT, "energy_kw": 250},
                                                             {**SLOT, "cancelled": True}]}))
    changed = json.loads(ok(csms("events", "import", str(path), "--json")).stdout)
    assert [r["action"] for r in changed] == ["updated", "cancelled"]
    events = json.loads(ok(csms("events", "list", "--json")).stdout)
    assert len(events) == 2
    assert sorted(e["target_kw"] for e in events if e["status"] == "scheduled") == [250.0]


def test_dispatch_import_errors_lose_nothing(csms, tmp_path: Path) -> None:
    path = tmp_path / "bad.json"
    path.write_text("{not json")
    error(csms("events", "import", str(path)), 2, "not JSON")
    path.write_text(json.dumps({"id": "x", "timeslots": [{**SLOT, "end_time": "later"}]}))
    error(csms("events", "import", str(path)), 2, "timeslots[0].end_time")
    path.write_text(json.dumps({"id": "x", "timeslots": [SLOT]}))
    error(csms("events", "import", str(path)), 2, "CEC-DSGS")
    assert json.loads(ok(csms("events", "list", "--json")).stdout) == []
    error(csms("events", "import", str(tmp_path / "missing.json")), 2, "cannot read")


def test_fleet_capacity_and_groups(csms) -> None:
    out = json.loads(ok(csms("fleet", "capacity", "--from", "+1h", "--until", "+3h",
                             "--json")).stdout)
    assert out["capacity_kw"] == 0.0 and out["by_ev"] == []
    error(csms("fleet", "capacity", "--from", "+3h", "--until", "+1h"), 2, "--until")
    error(csms("fleet", "group-add", "depot", "CP-404"), 3, "CP-404")
    assert json.loads(ok(csms("fleet", "groups", "--json")).stdout) == {}


def test_drivers_set_list_and_opt_out(csms) -> None:
    ok(csms("drivers", "set", "--token", "EMAID-1", "--floor", "30", "--departure", "17:30",
            "--timezone", "America/Los_Angeles", "--need-soc", "70"))
    listed = json.loads(ok(csms("drivers", "list", "--json")).stdout)
    assert listed == [{"kind": "token", "key": "EMAID-1", "floor_soc": 0.3,
                       "departure": "17:30:00", "timezone": "America/Los_Angeles",
                       "need_soc": 0.7, "need_kwh": None, "capacity_kwh": None,
                       "opt_out": False}]
    error(csms("drivers", "set", "--floor", "10"), 2, "--token and --station")
    error(csms("drivers", "set", "--station", "CP1", "--departure", "late"), 2, "--departure")
    error(csms("drivers", "opt-out", "5", "--station", "CP1"), 3, "no event 5")
    event = json.loads(ok(csms("events", "create", "--start", "+1h", "--duration", "1h",
                               "--max", "--json")).stdout)["event"]
    error(csms("drivers", "opt-out", str(event), "--station", "CP1"), 3, "unknown station CP1")
    ok(csms("stations", "add", "CP1", "--password", "correct-horse-battery"))
    ok(csms("drivers", "opt-out", str(event), "--station", "CP1"))


def test_report_of_an_event_without_measurements(csms, tmp_path: Path) -> None:
    event = json.loads(ok(csms("events", "create", "--start", "+1h", "--duration", "1h",
                               "--target-kw", "10", "--json")).stdout)["event"]
    report = json.loads(ok(csms("events", "report", str(event), "--json", "--csv",
                                str(tmp_path / "i.csv"))).stdout)
    assert report["energy_kwh"] == 0.0 and report["intervals"] == []
    assert (tmp_path / "i.csv").read_text().startswith("start,end,target_kw")
    error(csms("events", "report", "77"), 3, "no event 77")
    error(csms("events", "report", str(event), "--interval", "0"), 2, "--interval")


def test_event_show_prints_numbers_for_people(csms, database_url: str) -> None:
    """Set points in kW to one decimal and states of charge in % (the JSON keeps them whole)."""
    import asyncio
    from datetime import UTC, datetime

    from csms.store.db import open_pool
    from csms.store.grid import fleet as fleet_store

    event = json.loads(ok(csms("events", "create", "--start", "+1h", "--duration", "1h",
                               "--target-kw", "10", "--json")).stdout)["event"]

    async def seed() -> None:
        pool = await open_pool(database_url)
        try:
            await fleet_store.save_event_evs(pool, event, [{
                "station_id": "CP-1", "evse_id": 1, "transaction_id": "TX-1",
                "version": "2.0.1", "state": "in", "soc_start": 0.63418, "floor_soc": 0.2,
                "departure_soc": 0.8, "setpoint_kw": 3.3333333333}])
            await fleet_store.record_step(
                pool, event, 1, datetime.now(UTC), target_kw=10.0,
                measured_kw=9.87654321, planned_kw=10.0, capacity_kw=20.0, shortfall_kw=0.0,
                correction_kw=0.123456, setpoints={"CP-1/1": 0.20389743589743592},
                set_aside={})
        finally:
            await pool.close()

    asyncio.run(seed())
    text = ok(csms("events", "show", str(event))).stdout
    assert "last_step.setpoints_kw.CP-1/1: 0.2\n" in text
    assert "last_step.measured_kw: 9.9\n" in text
    assert "0.20389" not in text and "9.876" not in text
    row = next(line for line in text.splitlines() if line.startswith("CP-1"))
    assert row.split()[3:6] == ["63", "%", "20"] and "80 %" in row and "3.3" in row
    shown = json.loads(ok(csms("events", "show", str(event), "--json")).stdout)
    assert shown["last_step"]["setpoints"] == {"CP-1/1": 0.20389743589743592}

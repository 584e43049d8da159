"""A grid event end to end: 30 simulated FE-20 stations (10 % faulty: one stuck at zero, one
rejecting profiles, one dropping its connection), a 300 kW event with a 12 s control interval,
then an event above what the fleet can give.

Physical tolerances only (the issue's): after the first control interval every 30 s of
measured fleet export is within 5 % of the target; no EV below its floor; departure needs met;
the report agrees with the stored meter values; the shortfall above capacity is known before
the event and the fleet then gives its maximum.
"""

from __future__ import annotations

import bisect
from datetime import datetime, timedelta

import pytest

from csms.grid.forecast import RECHARGE_DERATE
from tests.grid.harness import RunResult, RunSettings, run

pytestmark = pytest.mark.e2e
SETTINGS = RunSettings()


def interpolate(points: list[tuple[datetime, float]], when: datetime) -> float:
    """Plain linear interpolation of a register, clamped at the ends."""
    times = [t for t, _ in points]
    i = bisect.bisect_right(times, when)
    if i == 0:
        return points[0][1]
    if i == len(points):
        return points[-1][1]
    (t0, v0), (t1, v1) = points[i - 1], points[i]
    return v0 + (v1 - v0) * (when - t0).total_seconds() / (t1 - t0).total_seconds()


@pytest.fixture
async def result(database_url: str) -> RunResult:
    return await run(database_url, SETTINGS)


async def test_grid_event_holds_the_target_through_faults(result: RunResult) -> None:
    event = result.report.event
    assert result.first_status == "completed" and result.second_status == "completed"
    assert result.on_target.shortfall_kw == 0.0
    # the faulty stations took part and were set aside for what they did
    aside = result.report.set_aside
    assert aside.get("SIM5/1") == "not following its profile"
    assert aside.get("SIM12/1") == "rejected its profile"
    # and were given another chance after retry_s, then twice as long: the station that
    # refuses every profile refused it again, and was set aside again
    refusals = [s["at"] for s in result.steps
                if (s["set_aside"] or {}).get("SIM12/1") == "rejected its profile"]
    assert len(refusals) >= 2, refusals
    assert (refusals[1] - refusals[0]).total_seconds() >= SETTINGS.retry_s

    # the car that arrived during the event joined it at a control step soon after, got a
    # share, and is a driver of the report, its baseline counted from when it joined
    [late] = [r for r in result.participants
              if f"{r['station_id']}/{r['evse_id']}" == result.late]
    arrived = event.start + timedelta(seconds=SETTINGS.late_s)
    assert late["state"] == "in" and late["joined_at"] is not None
    assert arrived <= late["joined_at"] <= arrived + timedelta(
        seconds=3 * SETTINGS.control_interval_s), (arrived, late["joined_at"])
    assert any(s["setpoints"].get(result.late, 0.0) > 1.0 for s in result.steps
               if s["at"] >= late["joined_at"])
    [driver] = [d for d in result.report.drivers if d.key == result.late]
    assert driver.energy_kwh > 0

    windows = result.windows(event.start, event.end, SETTINGS.control_interval_s,
                             SETTINGS.window_s)
    assert len(windows) >= 2
    for start, kw in windows:
        assert abs(kw - SETTINGS.target_kw) <= 0.05 * SETTINGS.target_kw, (start, kw, windows)

    # no EV below its floor, ever
    for row in result.participants:
        key = f"{row['station_id']}/{row['evse_id']}"
        assert result.min_soc[key] >= row["floor_soc"] * 100 - 0.01, key

    # departure needs: the cars that left met them; the others can still recharge in time
    left = [k for k in result.ended if k in {f"SIM{n}/1" for n in SETTINGS.departures}]
    assert len(left) == len(SETTINGS.departures)
    for key in left:
        assert result.last_soc[key] >= result.targets[key] * 100 - 0.05, key
    for row in result.participants:
        key = f"{row['station_id']}/{row['evse_id']}"
        if key in result.ended or row["departure_at"] is None or row["departure_soc"] is None:
            continue
        hours = (row["departure_at"] - result.report.end).total_seconds() / 3600
        reachable = result.last_soc[key] / 100 + hours * 20.0 * RECHARGE_DERATE * 0.93 / \
            row["capacity_kwh"]
        assert reachable >= row["departure_soc"], key

    # the report's figures are the stored registers' figures
    raw = 0.0
    for registers in result.raw_registers.values():
        exp = registers["Energy.Active.Export.Register"]
        imp = registers["Energy.Active.Import.Register"]
        raw += (interpolate(exp, result.report.end) - interpolate(exp, event.start)) - (
            interpolate(imp, result.report.end) - interpolate(imp, event.start))
    assert result.report.energy_kwh == pytest.approx(raw / 1000, rel=1e-6)
    assert sum(i.delivered_kwh for i in result.report.intervals) == pytest.approx(
        result.report.energy_kwh, rel=1e-9)
    assert sum(d.energy_kwh for d in result.report.drivers) == pytest.approx(
        result.report.energy_kwh, abs=0.01)
    # each driver's SoC over the event, as the car reported it: the ones that gave energy
    # went down
    gave = [d for d in result.report.drivers if d.energy_kwh > 0.1]
    assert gave
    for d in gave:
        assert d.soc_start is not None and d.soc_end is not None, d
        assert d.soc_end < d.soc_start, d
    month = result.report.month
    assert month is not None and month.hours >= 1 and month.demonstrated_kw > 0

    # above capacity: the shortfall was known before the start, and the fleet gave its maximum
    assert result.above.shortfall_kw > 0
    assert result.above.capacity.total_kw < SETTINGS.over_kw
    above_start = result.above_steps[0]["at"]
    last_step = result.above_steps[-1]
    assert all(s["shortfall_kw"] > 0 for s in result.above_steps)
    [(_, delivered_kw)] = result.windows(above_start, above_start + timedelta(
        seconds=SETTINGS.over_s - 2), SETTINGS.control_interval_s,
        SETTINGS.over_s - 2 - SETTINGS.control_interval_s, above=True)
    assert delivered_kw >= 0.95 * last_step["planned_kw"], (delivered_kw, last_step)
    assert delivered_kw > SETTINGS.target_kw


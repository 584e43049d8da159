"""A grid event over stations that report energy in kWh and power in kW gives the M&V report
and earnings of one over stations reporting Wh and W: two small fleets, alike but for their
units, run side by side through the same event on two CSMS nodes with databases of their own.

Real-time simulators never repeat a run to the last watt-second (sample times shift by
milliseconds), so the two reports are compared within a small tolerance; a unit read wrongly
is off by a factor of 1000.
"""

from __future__ import annotations

import asyncio

import pytest

from tests.conftest import new_database
from tests.grid.harness import RunResult, RunSettings, run

pytestmark = pytest.mark.e2e

SMALL = RunSettings(stations=8, lead_s=15.0, event_s=60.0, target_kw=60.0, over_s=20.0,
                    over_kw=300.0, control_interval_s=10, departures={}, late_s=30.0,
                    per_kwh=0.5)
#: relative difference allowed between the two runs' figures
TOLERANCE = 0.05


async def test_kwh_stations_give_the_same_report_and_earnings_as_wh_stations(
        database_url: str, pg_server_url: str):
    async with new_database(pg_server_url) as kwh_database_url:
        wh, kwh = await asyncio.gather(
            run(database_url, SMALL),
            run(kwh_database_url, RunSettings(**{**SMALL.__dict__, "energy_unit": "kWh"})))
    for result in (wh, kwh):
        assert result.first_status == "completed"
        expected_kwh = SMALL.target_kw * SMALL.event_s / 3600.0
        # the whole event, first control interval included, delivered close to its target
        assert result.report.energy_kwh == pytest.approx(expected_kwh, rel=0.15)
        assert result.report.payment is not None and result.report.payment > 0
    assert kwh.report.energy_kwh == pytest.approx(wh.report.energy_kwh, rel=TOLERANCE)
    assert kwh.report.net_kw == pytest.approx(wh.report.net_kw, rel=TOLERANCE)
    assert kwh.report.payment == pytest.approx(wh.report.payment, rel=TOLERANCE)
    assert sorted(d.key for d in kwh.report.drivers) == sorted(d.key for d in wh.report.drivers)
    assert sum(d.earnings for d in kwh.report.drivers) == pytest.approx(
        sum(d.earnings for d in wh.report.drivers), rel=TOLERANCE)
    for pair in zip(_intervals(wh), _intervals(kwh), strict=True):
        assert pair[1] == pytest.approx(pair[0], rel=TOLERANCE, abs=0.05)


def _intervals(result: RunResult) -> list[float]:
    return [i.delivered_kwh for i in result.report.intervals]


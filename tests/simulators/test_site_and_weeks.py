"""Scenario sites (building load and main meter), weekly patterns and the weeks drawn from
them, and the strict reading of [[evs]] tables."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from simulators.charger import FE_20, PowerTrain
from simulators.scenario import ScenarioError, parse_scenario
from simulators.site import SiteMeter, SiteSpec
from simulators.weeks import draw_weeks


def test_site_profile_and_main_meter_registers() -> None:
    scenario = parse_scenario({"site": {"name": "depot", "building_kw": [[0, 10.0], [60, 4.0]],
                                        "meter_interval_s": 2}})
    assert scenario.site is not None
    assert scenario.site.building_at(59.0) == 10.0 and scenario.site.building_at(61.0) == 4.0
    train = PowerTrain(FE_20)
    meter = SiteMeter(scenario.site, start=0.0, trains=[train])
    meter.sample(0.0, str)
    train.power_kw = -14.0  # discharging 14 kW into a 10 kW building: 4 kW exported
    first = meter.sample(30.0, str)
    values = {v["measurand"]: v["value"] for v in first["sampledValue"]}
    assert values["Power.Active.Export"] == 4000.0 and values["Power.Active.Import"] == 0.0
    # from +10 kW to -4 kW over 30 s: the line crosses zero at 300/14 s
    cross = 30 * 10 / 14
    assert values["Energy.Active.Import.Register"] == pytest.approx(10 / 2 * cross / 3.6,
                                                                    abs=1e-3)
    assert values["Energy.Active.Export.Register"] == pytest.approx(4 / 2 * (30 - cross) / 3.6,
                                                                    abs=1e-3)
    for bad in ({"building_kw": [[5, 1.0]]}, {"building_kw": [[0, -1.0]]},
                {"building_kw": "lots"}, {"colour": 1}):
        with pytest.raises(ScenarioError, match="site"):
            parse_scenario({"site": bad})
    with pytest.raises(ValueError):
        SiteSpec("x", ((0.0, 1.0), (0.0, 2.0)))


def test_weekly_pattern_and_weeks() -> None:
    scenario = parse_scenario({"stay_h": {"value": 8.0}, "soc": {"value": 0.5},
                               "weekly": {"days": ["mon", "wed"], "show_up": 1.0,
                                          "arrival_h": {"value": 9.0}}})
    monday = datetime(2026, 6, 1, tzinfo=UTC)
    visits = draw_weeks(scenario, ["A", "B"], monday, 2, seed=3)
    assert len(visits) == 2 * 2 * 2
    assert {v.start.weekday() for v in visits} == {0, 2}
    assert all(v.end - v.start == timedelta(hours=8) and v.start.hour == 9 for v in visits)
    assert draw_weeks(scenario, ["A", "B"], monday, 2, seed=3) == visits
    with pytest.raises(ScenarioError, match=r"weekly\.days"):
        parse_scenario({"weekly": {"days": ["someday"]}})


def test_a_top_level_key_inside_an_evs_table_is_refused() -> None:
    with pytest.raises(ScenarioError, match="top-level keys go before"):
        parse_scenario({"evs": [{"model": "leaf40", "stay_h": {"value": 8.0}}]})

"""Capacity forecast: floors, departure needs, limits, the fleet total and its reserve."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from csms.grid.forecast import RECHARGE_DERATE, capability, fleet_capacity, keep_soc
from csms.store.grid.records import GridInputError
from tests.grid.factories import at, ev


def test_a_full_ev_over_an_hour_is_limited_by_its_charger() -> None:
    cap = capability(ev(soc=0.9), at(0), at(60))
    assert cap.kw == 20.0
    assert cap.reason is None


def test_an_ev_near_its_floor_holds_only_what_its_energy_allows() -> None:
    # 1 % of 39 kWh above the floor, through the discharge efficiency, over 2 h
    cap = capability(ev(soc=0.21), at(0), at(120))
    expected = 0.01 * 39.0 * 0.87 ** 0.5 / 2.0
    assert cap.kw == pytest.approx(expected)
    assert cap.energy_kwh == pytest.approx(expected * 2.0)


def test_at_the_floor_gives_nothing_and_says_why() -> None:
    cap = capability(ev(soc=0.2), at(0), at(60))
    assert cap.kw == 0.0
    assert cap.reason == "at or below its floor"


def test_departure_need_raises_what_must_be_kept() -> None:
    # leaves 1 h after the event wanting 80 %: at most 20 kW x 0.9 x eta of recharge
    car = ev(soc=0.7, departure=at(180), departure_soc=0.8)
    keep = keep_soc(car, at(120))
    recharge = 1.0 * 20.0 * RECHARGE_DERATE * 0.87 ** 0.5
    assert keep == pytest.approx(0.8 - recharge / 39.0)
    cap = capability(car, at(0), at(120))
    assert cap.energy_kwh == pytest.approx((0.7 - keep) * 39.0 * 0.87 ** 0.5)


def test_a_departure_need_that_cannot_be_recharged_in_time_keeps_the_charge() -> None:
    cap = capability(ev(soc=0.5, departure=at(125), departure_soc=0.8), at(0), at(120))
    assert cap.kw == 0.0
    assert cap.reason == "needs its charge for departure"


def test_leaving_before_the_end_or_opting_out_gives_nothing() -> None:
    assert capability(ev(departure=at(60)), at(0), at(120)).reason == \
        "leaves before the event ends"
    assert capability(ev(opted_out=True), at(0), at(120)).reason == "opted out"


def test_an_empty_window_is_an_error() -> None:
    with pytest.raises(GridInputError, match="end after it starts"):
        capability(ev(), at(10), at(10))


def test_fleet_total_and_n_minus_one_reserve() -> None:
    fleet = [ev(n, soc=0.9) for n in range(1, 11)] + [ev(11, soc=0.2)]
    forecast = fleet_capacity(fleet, at(0), at(60), reserve_fraction=0.05)
    assert forecast.total_kw == pytest.approx(200.0)
    assert forecast.eligible == 10
    assert forecast.reserve_kw == pytest.approx(20.0)  # one EV is more than 5 %
    assert forecast.firm_kw == pytest.approx(180.0)
    assert forecast.shortfall_kw(250.0) == pytest.approx(50.0)
    assert forecast.shortfall_kw(None) == 0.0


@given(soc=st.floats(0.0, 1.0), floor=st.floats(0.0, 0.9), dep_soc=st.floats(0.0, 1.0),
       after_min=st.floats(0.0, 600.0), hours=st.floats(0.05, 4.0),
       kw=st.floats(1.0, 50.0))
def test_discharging_the_forecast_never_ends_below_floor_or_departure_reach(
        soc: float, floor: float, dep_soc: float, after_min: float, hours: float,
        kw: float) -> None:
    end_min = hours * 60
    car = ev(soc=soc, floor_soc=floor, departure=at(end_min + after_min),
             departure_soc=dep_soc, max_discharge_kw=kw, max_charge_kw=kw)
    cap = capability(car, at(0), at(end_min))
    assert 0.0 <= cap.kw <= kw + 1e-9
    end_soc = soc - cap.kw * hours / car.one_way_efficiency / car.capacity_kwh
    if cap.kw > 0:
        assert end_soc >= floor - 1e-9
        recharge = after_min / 60 * kw * RECHARGE_DERATE * car.one_way_efficiency
        assert end_soc + recharge / car.capacity_kwh >= dep_soc - 1e-9

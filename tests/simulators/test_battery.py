"""Battery model: energy bookkeeping, floors, tapers and efficiencies."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from simulators.battery import LEAF_40, LEAF_62, Battery, BatterySpec


def test_leaf_usable_capacities_and_round_trip_efficiency() -> None:
    assert LEAF_40.usable_kwh == pytest.approx(39.0)
    assert LEAF_62.usable_kwh == pytest.approx(59.0)
    assert LEAF_40.round_trip_efficiency == pytest.approx(0.87, abs=0.01)


def test_round_trip_through_the_meter_loses_about_13_percent() -> None:
    battery = Battery(LEAF_40, soc=0.5, floor_soc=0.2)
    battery.transfer(10_000.0)
    battery.transfer(-1e9)  # export everything down to the floor
    assert battery.soc == pytest.approx(0.2)
    stored_gain_back = battery.export_wh - (0.5 - 0.2) * 39_000 * LEAF_40.discharge_efficiency
    assert stored_gain_back / battery.import_wh == pytest.approx(0.87, abs=0.01)


def test_discharge_stops_exactly_at_the_driver_floor() -> None:
    battery = Battery(LEAF_40, soc=0.21, floor_soc=0.2)
    moved = battery.transfer(-5_000.0)
    assert moved.limited
    assert battery.soc == 0.2
    assert battery.max_discharge_kw() == 0.0
    assert battery.transfer(-100.0).grid_wh == 0.0
    assert battery.soc == 0.2


def test_bms_floor_wins_over_a_lower_driver_floor() -> None:
    battery = Battery(LEAF_40, soc=0.12, floor_soc=0.0)
    battery.transfer(-10_000.0)
    assert battery.soc == pytest.approx(LEAF_40.bms_floor_soc)
    assert battery.effective_floor_soc == LEAF_40.bms_floor_soc


def test_car_below_its_floor_does_not_discharge_but_charges() -> None:
    battery = Battery(LEAF_40, soc=0.15, floor_soc=0.2)
    assert battery.transfer(-1_000.0).grid_wh == 0.0
    assert battery.soc == pytest.approx(0.15)
    assert battery.transfer(1_000.0).grid_wh == pytest.approx(1_000.0)


def test_charge_stops_at_full_and_tapers_above_80_percent() -> None:
    battery = Battery(LEAF_40, soc=0.5)
    assert battery.max_charge_kw() == LEAF_40.max_charge_kw
    battery = Battery(LEAF_40, soc=0.9)
    assert 0 < battery.max_charge_kw() < LEAF_40.max_charge_kw
    battery.transfer(1e9)
    assert battery.soc == 1.0
    assert battery.max_charge_kw() == 0.0


def test_discharge_tapers_near_empty() -> None:
    spec = BatterySpec(model="t", usable_kwh=10, max_charge_kw=10, max_discharge_kw=10,
                       bms_floor_soc=0.0)
    high = Battery(spec, soc=0.5, floor_soc=0.0).max_discharge_kw()
    low = Battery(spec, soc=0.05, floor_soc=0.0).max_discharge_kw()
    assert high == 10
    assert 0 < low < high


def test_invalid_specs_are_rejected() -> None:
    with pytest.raises(ValueError, match="charge_efficiency"):
        BatterySpec(model="x", usable_kwh=10, max_charge_kw=1, max_discharge_kw=1,
                    charge_efficiency=1.5)
    with pytest.raises(ValueError, match="soc"):
        Battery(LEAF_40, soc=1.2)


@settings(max_examples=200, deadline=None)
@given(
    soc=st.floats(0.0, 1.0),
    floor=st.floats(0.0, 0.6),
    steps=st.lists(st.floats(-50_000.0, 50_000.0, allow_nan=False), max_size=40),
)
def test_energy_is_conserved_and_floor_holds(soc: float, floor: float,
                                             steps: list[float]) -> None:
    battery = Battery(LEAF_62, soc=soc, floor_soc=floor)
    initial = battery.stored_wh
    charged = discharged = 0.0
    for wh in steps:
        before = battery.stored_wh
        moved = battery.transfer(wh)
        # Never more than asked, never the wrong direction.
        assert abs(moved.grid_wh) <= abs(wh) + 1e-9
        assert moved.grid_wh * wh >= 0
        if moved.grid_wh > 0:
            charged += moved.battery_wh
            assert math.isclose(moved.battery_wh, moved.grid_wh * LEAF_62.charge_efficiency)
        elif moved.grid_wh < 0:
            discharged -= moved.battery_wh
            assert math.isclose(-moved.battery_wh * LEAF_62.discharge_efficiency,
                                -moved.grid_wh)
            assert battery.stored_wh >= battery.floor_wh
        assert 0.0 <= battery.soc <= 1.0
        if wh < 0 and before >= battery.floor_wh:
            assert battery.stored_wh >= battery.floor_wh
        assert battery.soc == battery.stored_wh / battery.capacity_wh
    assert math.isclose(battery.stored_wh, initial + charged - discharged, abs_tol=1e-6)
    assert math.isclose(battery.import_wh * LEAF_62.charge_efficiency, charged, abs_tol=1e-6)
    assert math.isclose(battery.export_wh / LEAF_62.discharge_efficiency, discharged,
                        abs_tol=1e-6)

"""Charger dynamics: latency, ramp, limits, and energy agreeing with reported power."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from simulators.battery import LEAF_40, Battery
from simulators.charger import FE_15, FE_20, ChargerSpec, PowerTrain


def _train(soc: float = 0.6, floor: float = 0.2, spec: ChargerSpec = FE_20) -> PowerTrain:
    train = PowerTrain(spec)
    train.plug(Battery(LEAF_40, soc=soc, floor_soc=floor))
    return train


def test_fe_models_are_symmetric_bidirectional_chademo() -> None:
    assert (FE_20.max_charge_kw, FE_20.max_discharge_kw) == (20.0, 20.0)
    assert (FE_15.max_charge_kw, FE_15.max_discharge_kw) == (15.0, 15.0)
    assert FE_20.connector_type == "cG105"


def test_setpoint_waits_for_latency_then_ramps() -> None:
    spec = ChargerSpec(model="t", vendor="t", max_charge_kw=20, max_discharge_kw=20,
                       latency_s=5.0, ramp_kw_per_s=2.0)
    train = _train(spec=spec)
    train.command(-10.0)
    train.advance(4.0)
    assert train.power_kw == 0.0
    train.advance(1.0)   # latency over, ramp starts
    train.advance(2.0)   # 2 s of ramping at 2 kW/s: average -2 kW, now at -4 kW
    assert train.power_kw == pytest.approx(-2.0)
    train.advance(10.0)
    train.advance(1.0)
    assert train.power_kw == pytest.approx(-10.0)
    assert train.battery is not None
    assert train.battery.export_wh > 0


def test_charger_limit_caps_a_larger_command() -> None:
    train = _train()
    train.command(-50.0)
    train.advance(60.0)
    train.advance(1.0)
    assert train.power_kw == pytest.approx(-FE_20.max_discharge_kw)


def test_discharge_stops_at_the_floor_and_power_reads_zero() -> None:
    train = _train(soc=0.201)
    train.command(-20.0)
    train.advance(600.0)
    battery = train.battery
    assert battery is not None
    assert battery.soc == pytest.approx(0.2)
    assert battery.stored_wh >= battery.floor_wh
    train.advance(5.0)
    assert train.power_kw == 0.0


def test_nothing_plugged_in_moves_no_energy() -> None:
    train = PowerTrain(FE_20)
    train.command(20.0)
    train.advance(30.0)
    assert train.power_kw == 0.0
    assert train.voltage_v == 0.0 and train.battery is None


@settings(max_examples=100, deadline=None)
@given(
    soc=st.floats(0.05, 1.0),
    floor=st.floats(0.1, 0.5),
    plan=st.lists(
        st.tuples(st.floats(-40.0, 40.0), st.floats(0.0, 90.0)), min_size=1, max_size=12
    ),
)
def test_reported_power_integrates_to_meter_registers(
    soc: float, floor: float, plan: list[tuple[float, float]]
) -> None:
    train = _train(soc=soc, floor=floor)
    battery = train.battery
    assert battery is not None
    start_above_floor = battery.stored_wh >= battery.floor_wh
    spec = train.charger
    # After a new setpoint, the power may cross zero until the ramp has covered the whole
    # range: it discharges, the car's charge limit rises as its SoC falls, and then it charges.
    ramp_over_s = spec.latency_s + (spec.max_charge_kw + spec.max_discharge_kw) / spec.ramp_kw_per_s
    settled_at = 0.0
    integral_wh = 0.0
    for kw, seconds in plan:
        if kw != train.commanded_kw:
            settled_at = train.clock + ramp_over_s
        train.command(kw)
        for _ in range(3):
            dis, chg = train.limits_kw()
            settled = train.clock >= settled_at
            train.advance(seconds / 3)
            integral_wh += train.power_kw * (seconds / 3) / 3.6
            if seconds:
                assert -spec.max_discharge_kw - 1e-9 <= train.power_kw <= spec.max_charge_kw + 1e-9
                if settled:
                    # Power that keeps its direction over a step moves the SoC towards the
                    # limit that binds it, so the step's average stays within the limits at
                    # its start.
                    assert -dis - 1e-9 <= train.power_kw <= chg + 1e-9
            if start_above_floor:
                assert battery.stored_wh >= battery.floor_wh
    assert math.isclose(battery.import_wh - battery.export_wh, integral_wh, abs_tol=1e-6)

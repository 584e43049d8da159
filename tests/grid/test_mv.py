"""Measurement and verification from register samples; DSGS capacity; driver earnings."""

from __future__ import annotations

from datetime import timedelta

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from csms.grid.mv import (
    demonstrated_capacity,
    driver_earnings,
    intervals,
    meter_before_after_baseline,
    net_export_kwh,
    prescriptive_baseline,
    presence,
    register_at,
)
from csms.grid.rates import DSGS_2025_RATES, monthly_rate
from csms.store.grid.records import RegisterSample
from tests.grid.factories import at


def steady(kw: float, start_min: float, end_min: float, every_s: float = 7.0):
    """Samples of a station exporting ``kw`` steadily from ``start_min`` to ``end_min``."""
    out, t = [], 0.0
    total = (end_min - start_min) * 60
    while t <= total:
        out.append(RegisterSample(at(start_min) + timedelta(seconds=t), kw * t / 3.6, 100.0))
        t += every_s
    return out


def test_register_interpolation_and_clamping() -> None:
    samples = [RegisterSample(at(0), 0.0, 10.0), RegisterSample(at(1), 600.0, 10.0)]
    assert register_at(samples, at(0.5)) == pytest.approx((300.0, 10.0))
    assert register_at(samples, at(-5)) == (0.0, 10.0)
    assert register_at(samples, at(5)) == (600.0, 10.0)


def test_intervals_measure_steady_export_and_performance() -> None:
    series = {"A": steady(20.0, -1, 11), "B": steady(10.0, -1, 11)}
    out = intervals(series, at(0), at(10), 30, [(at(0), 30.0)])
    assert len(out) == 20
    for interval in out:
        assert interval.delivered_kw == pytest.approx(30.0, rel=1e-6)
        assert interval.performance == pytest.approx(1.0, rel=1e-6)
    assert sum(i.delivered_kwh for i in out) == pytest.approx(5.0, rel=1e-6)


def test_aligned_intervals_cut_at_clock_marks() -> None:
    out = intervals({"A": steady(6.0, 0, 20)}, at(2), at(13), 300, [], aligned=True)
    assert [i.start for i in out] == [at(2), at(5), at(10)]
    assert out[0].delivered_kwh == pytest.approx(6.0 * 3 / 60)


def test_baselines() -> None:
    assert prescriptive_baseline({"A": 20.0}, 10.8) == {"A": pytest.approx(2.16)}
    before_after = {"A": steady(-4.0, -30, 60)}  # charging at 4 kW around the event
    baseline = meter_before_after_baseline(before_after, at(0), at(10), window_s=600)
    assert baseline["A"] == pytest.approx(-4.0, rel=1e-3)
    out = intervals(before_after, at(0), at(10), 300, [(at(0), 5.0)], baseline)
    assert out[0].net_kw == pytest.approx(0.0, abs=1e-6)


def test_an_ev_that_joined_late_counts_its_baseline_from_then_on() -> None:
    # A from the start, B plugged in 4 minutes into a 10-minute event; both export 10 kW
    # while there, each with a 2 kW deemed baseline.
    series = {"A": steady(10.0, -1, 11), "B": steady(10.0, 4, 11)}
    baseline = {"A": 2.0, "B": 2.0}
    out = intervals(series, at(0), at(10), 300, [(at(0), 10.0)], baseline,
                    present_from={"B": at(4)})
    first, second = out
    # first 5 minutes: A all along, B for the last minute of five
    assert first.baseline_kw == pytest.approx(2.0 + 2.0 * 1 / 5)
    assert first.delivered_kw == pytest.approx(10.0 + 10.0 * 1 / 5, rel=1e-3)
    assert first.net_kw == pytest.approx(8.0 + 8.0 * 1 / 5, rel=1e-3)
    assert second.baseline_kw == pytest.approx(4.0)
    assert second.net_kw == pytest.approx(16.0, rel=1e-3)
    # without the join time B would be charged a baseline for minutes it was not there
    wrong = intervals(series, at(0), at(10), 300, [(at(0), 10.0)], baseline)
    assert wrong[0].baseline_kw == pytest.approx(4.0)


def test_presence_within_an_interval() -> None:
    assert presence(None, at(0), at(5)) == 1.0
    assert presence(at(-1), at(0), at(5)) == 1.0
    assert presence(at(4), at(0), at(5)) == pytest.approx(0.2)
    assert presence(at(6), at(0), at(5)) == 0.0


def test_dsgs_capacity_and_payment_with_the_2025_rate() -> None:
    assert monthly_rate(at(0)) == DSGS_2025_RATES["2025-07"] == 16.380
    assert monthly_rate(at(0), {"2025-07": 1.0}) == 1.0
    assert monthly_rate(at(0).replace(month=1)) is None
    month = demonstrated_capacity("2025-07", [100.0, 80.0, 120.0, 100.0], 16.38)
    assert month.demonstrated_kw == pytest.approx(100.0)
    assert month.payment == pytest.approx(1638.0)
    weighted = demonstrated_capacity("2025-07", [100.0, 0.0], 16.38, weights=[3.0, 1.0])
    assert weighted.demonstrated_kw == pytest.approx(75.0)
    assert demonstrated_capacity("2025-07", [-5.0], 16.38).payment == 0.0


def test_driver_earnings_follow_energy_and_share() -> None:
    out = driver_earnings({"A": 3.0, "B": 1.0, "C": -0.5}, 100.0, 0.8)
    assert out == {"A": 60.0, "B": 20.0, "C": 0.0}


@given(kws=st.lists(st.floats(-20, 20), min_size=2, max_size=12),
       every=st.floats(1.0, 40.0), length=st.sampled_from([30.0, 300.0]))
def test_intervals_add_up_to_the_register_difference(kws: list[float], every: float,
                                                     length: float) -> None:
    samples, export, imp, t = [], 0.0, 0.0, at(-1)
    for kw in kws:
        samples.append(RegisterSample(t, export, imp))
        wh = kw * every / 3.6
        export, imp = export + max(wh, 0.0), imp + max(-wh, 0.0)
        t += timedelta(seconds=every)
    samples.append(RegisterSample(t, export, imp))
    end = samples[-1].at - timedelta(seconds=every / 3)
    assume(end > at(0))
    out = intervals({"A": samples}, at(0), end, length, [])
    total = net_export_kwh(samples, at(0), end)
    assert sum(i.delivered_kwh for i in out) == pytest.approx(total, abs=1e-9)

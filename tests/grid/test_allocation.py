"""Allocation: the target split so that EVs end with similar headroom, within their limits."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from csms.grid.allocation import allocate
from csms.grid.forecast import capability
from tests.grid.factories import at, ev


def caps(socs: list[float], minutes: float = 120.0):
    return [capability(ev(n, soc=s), at(0), at(minutes)) for n, s in enumerate(socs, 1)]


def test_shares_add_up_to_the_target_and_fuller_cars_give_more() -> None:
    allocation = allocate(caps([0.9, 0.5, 0.3, 0.25], 60.0), 30.0, 1.0)
    assert sum(allocation.shares.values()) == pytest.approx(30.0)
    shares = allocation.shares
    assert shares["CP1/1"] >= shares.get("CP2/1", 0) >= shares.get("CP3/1", 0)
    assert allocation.shortfall_kw == 0.0
    assert allocation.spare_kw == pytest.approx(allocation.capacity_kw - 30.0, abs=0.01)


def test_partially_used_evs_end_with_the_same_headroom() -> None:
    fleet = caps([0.8, 0.6, 0.45])
    allocation = allocate(fleet, 12.0, 2.0)
    ends = [c.energy_kwh - allocation.shares.get(c.key, 0.0) * 2.0 for c in fleet
            if 0 < allocation.shares.get(c.key, 0.0) < c.kw]
    assert len(ends) >= 2
    assert max(ends) - min(ends) < 0.5  # within the 0.1 kW rounding over 2 h


def test_a_target_above_capacity_is_met_at_the_maximum_and_the_shortfall_reported() -> None:
    allocation = allocate(caps([0.9, 0.9, 0.2], 60.0), 100.0, 1.0)
    assert allocation.shares == {"CP1/1": 20.0, "CP2/1": 20.0}
    assert allocation.shortfall_kw == pytest.approx(60.0)


def test_as_much_as_possible_takes_every_ev_at_its_limit() -> None:
    fleet = caps([0.9, 0.21])
    allocation = allocate(fleet, None, 2.0)
    assert allocation.planned_kw == pytest.approx(sum(c.kw for c in fleet), abs=0.2)
    assert allocation.shortfall_kw == 0.0


def test_limits_cap_single_evs() -> None:
    allocation = allocate(caps([0.9, 0.9], 60.0), 30.0, 1.0, limits={"CP1/1": 5.0})
    assert allocation.shares == {"CP1/1": 5.0, "CP2/1": 20.0}
    assert allocation.shortfall_kw == pytest.approx(5.0)


def test_bad_arguments() -> None:
    with pytest.raises(ValueError, match="hours"):
        allocate([], 1.0, 0.0)
    with pytest.raises(ValueError, match="target_kw"):
        allocate([], -1.0, 1.0)


@given(socs=st.lists(st.floats(0.0, 1.0), min_size=1, max_size=25),
       target=st.floats(0.0, 600.0), minutes=st.floats(3.0, 240.0))
def test_never_above_capability_and_sums_to_target_or_capacity(
        socs: list[float], target: float, minutes: float) -> None:
    fleet = caps(socs, minutes)
    allocation = allocate(fleet, target, minutes / 60)
    by_key = {c.key: c for c in fleet}
    for key, kw in allocation.shares.items():
        assert 0 < kw <= by_key[key].kw + 1e-9  # so never below floor (see the forecast)
    capacity = sum(c.kw for c in fleet)
    planned = sum(allocation.shares.values())
    assert planned <= target + 1e-6
    assert planned >= min(target, capacity) - 0.1 * len(fleet) - 1e-6
    assert allocation.shortfall_kw == pytest.approx(max(0.0, target - capacity))

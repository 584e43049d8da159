"""Numbers for people: kW to one decimal, kWh to two, SoC in %, by field name elsewhere."""

from __future__ import annotations

import pytest

from csms import readable


@pytest.mark.parametrize(("value", "text"), [
    (0.20389743589743592, "0.2"), (12.35, "12.3"), (12.36, "12.4"), (-0.04, "0.0"),
    (-3.25, "-3.2"), (None, ""), (float("nan"), "")])
def test_kw(value, text):
    assert readable.kw(value) == text


def test_soc_from_a_fraction_and_from_percent():
    assert readable.soc_fraction(0.63418) == "63 %"
    assert readable.soc_percent(63.418) == "63 %"
    assert readable.soc_percent(7.25) == "7.2 %"
    assert readable.soc_fraction(None) == ""


def test_share_money_energy():
    assert readable.share(0.9876) == "98.8 %"
    assert readable.money(1.005) in ("$1.00", "$1.01")
    assert readable.money(12.3) == "$12.30"
    assert readable.kwh(0.30412) == "0.30"


@pytest.mark.parametrize(("name", "value", "text"), [
    ("target_kw", 29.99999, "30.0"), ("setpoints_kw", 0.20389743589743592, "0.2"),
    ("energy_kwh", 1.23456, "1.23"), ("performance", 0.987654, "0.988"),
    ("count", 3.0, "3"), ("kw", 1.25, "1.2"), ("network", 1.23456, "1.235")])
def test_by_name(name, value, text):
    assert readable.by_name(name, value) == text

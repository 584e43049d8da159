"""Units of measure: canonical units per kind of quantity, exact scaling, flagged misfits."""

from __future__ import annotations

import pytest

from csms.blocks.units import canonical_value, conversion, scale


@pytest.mark.parametrize("measurand,unit,multiplier,value,expected", [
    ("Energy.Active.Import.Register", "kWh", 0, 20, (20_000.0, "Wh")),
    ("Energy.Active.Import.Register", "Wh", 3, 12.5, (12_500.0, "Wh")),
    ("Energy.Active.Export.Register", "kWh", 0, 1.1, (1_100.0, "Wh")),  # exactly, not ...002
    ("Energy.Active.Import.Register", "kWh", -3, 1234.5, (1_234.5, "Wh")),
    ("Energy.Reactive.Import.Register", "kvarh", 0, 2, (2_000.0, "varh")),
    ("Energy.Apparent.Net", "kVAh", 0, 0.5, (500.0, "VAh")),
    ("Power.Active.Export", "kW", 0, 15.2, (15_200.0, "W")),
    ("Power.Active.Import", "W", 3, 7.5, (7_500.0, "W")),
    ("Power.Reactive.Import", "kvar", 0, 1, (1_000.0, "var")),
    ("Power.Offered", "kW", 0, 20, (20_000.0, "W")),
    ("Current.Import", "A", -3, 500, (0.5, "A")),
    ("Voltage", "V", 0, 400, (400.0, "V")),
    ("Frequency", "Hz", 0, 50, (50.0, "Hz")),
    ("SoC", "Percent", 0, 81, (81.0, "Percent")),
    ("Energy.Active.Import.Register", "KWH", 0, 3, (3_000.0, "Wh")),  # firmware's spelling
    ("SoC", "%", 0, 42, (42.0, "Percent")),
])
def test_values_are_stored_in_the_canonical_unit(measurand, unit, multiplier, value, expected):
    how = conversion(measurand, unit)
    assert how.valid
    assert (canonical_value(value, multiplier, how), how.unit) == expected


def test_temperatures_become_celsius():
    assert canonical_value(212.0, 0, conversion("Temperature", "Fahrenheit")) == 100.0
    assert canonical_value(300.0, 0, conversion("Temperature", "K")) == pytest.approx(26.85)


@pytest.mark.parametrize("measurand,unit", [
    ("Power.Active.Import", "kWh"), ("Energy.Active.Import.Register", "kW"),
    ("SoC", "Wh"), ("Voltage", "furlongs"),
])
def test_a_unit_that_does_not_fit_is_kept_as_sent_and_flagged(measurand, unit):
    how = conversion(measurand, unit)
    assert (how.unit, how.valid) == (unit, False)
    assert canonical_value(5, 3, how) == 5000.0  # scaled by its multiplier only


def test_a_measurand_of_no_known_kind_keeps_its_unit():
    how = conversion("Power.Factor", "Percent")
    assert (how.unit, how.valid) == ("Percent", True)


def test_scale_is_correctly_rounded():
    assert scale(0.1, 3) == 100.0 and scale(1e-05, 3) == 0.01 and scale(3, 0) == 3

"""Units of measure: every sampled value in one canonical unit per kind of quantity.

A station may report an energy register in Wh, in kWh, or in Wh with ``multiplier: 3``; the
CSMS stores all three as Wh, so that every total, baseline and payment is computed from one
unit. The unit and multiplier as sent are kept beside the stored value.

The standardized units are those of Part 2, Appendix 2. The measurand names the kind of
quantity (an ``Energy.Active.*`` measurand is an energy, ``Power.Reactive.*`` a reactive power);
a unit of another kind (kWh on a Power measurand), or one that is not a unit at all, cannot be
converted: such a value is stored as sent (scaled by its multiplier), flagged, and left out of
every computation.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from decimal import Decimal

#: Kind of quantity -> the canonical unit it is stored in.
CANONICAL = {
    "energy": "Wh",
    "reactive energy": "varh",
    "apparent energy": "VAh",
    "power": "W",
    "reactive power": "var",
    "apparent power": "VA",
    "current": "A",
    "voltage": "V",
    "frequency": "Hz",
    "temperature": "Celsius",
    "percent": "Percent",
    "time": "s",
}

# Measurand prefix -> kind; the longest prefix wins. A measurand of no known kind (such as
# Power.Factor, a plain ratio) is stored with whatever unit it comes with.
_MEASURAND_KINDS = (
    ("Energy.Active", "energy"),
    ("Energy.Reactive", "reactive energy"),
    ("Energy.Apparent", "apparent energy"),
    ("EnergyRequest", "energy"),  # 2.1
    ("Display.BatteryEnergyCapacity", "energy"),  # 2.1
    ("Display.RemainingTime", "time"),  # 2.1
    ("Display", "percent"),  # 2.1: PresentSOC, MinimumSOC, TargetSOC, MaximumSOC
    ("Power.Factor", None),
    ("Power.Reactive", "reactive power"),
    ("Power.Apparent", "apparent power"),
    ("Power", "power"),  # Power.Active.*, Power.Offered, 2.1's setpoints and residuals
    ("Current", "current"),
    ("Voltage", "voltage"),
    ("Frequency", "frequency"),
    ("Temperature", "temperature"),
    ("SoC", "percent"),
)

# Unit -> (kind, power of ten to the canonical unit). Temperatures other than Celsius are
# affine and handled apart.
_UNITS = {
    "Wh": ("energy", 0), "kWh": ("energy", 3),
    "varh": ("reactive energy", 0), "kvarh": ("reactive energy", 3),
    "VAh": ("apparent energy", 0), "kVAh": ("apparent energy", 3),
    "W": ("power", 0), "kW": ("power", 3),
    "var": ("reactive power", 0), "kvar": ("reactive power", 3),
    "VA": ("apparent power", 0), "kVA": ("apparent power", 3),
    "A": ("current", 0),
    "V": ("voltage", 0),
    "Hz": ("frequency", 0),
    "Celsius": ("temperature", 0), "Fahrenheit": ("temperature", 0), "K": ("temperature", 0),
    "Percent": ("percent", 0),
    "s": ("time", 0),
}
# Spellings seen from field firmware: any case of a standard unit, and a few symbols.
_ALIASES = {name.lower(): name for name in _UNITS} | {"%": "Percent", "°c": "Celsius",
                                                      "degc": "Celsius", "c": "Celsius"}


@dataclass(frozen=True, slots=True)
class Conversion:
    """How the values of one (measurand, unit as sent) are stored."""

    unit: str | None  #: the unit stored: canonical, or the unit as sent when not convertible
    exponent: int  #: power of ten from the unit as sent to the stored unit
    valid: bool  #: False: the unit does not fit the measurand; kept out of computations
    offset: str | None = None  #: "Fahrenheit" or "K": an affine temperature conversion


def measurand_kind(measurand: str) -> str | None:
    """The kind of quantity ``measurand`` measures, or None for one of no known kind."""
    for prefix, kind in _MEASURAND_KINDS:
        if measurand.startswith(prefix):
            return kind
    return None


@functools.lru_cache(maxsize=512)  # measurands are a schema enum; units a short list in practice
def conversion(measurand: str, unit: str | None) -> Conversion:
    """How a value of ``measurand`` sent in ``unit`` (None: no unitOfMeasure) is stored.

    A missing unit is taken as the measurand's canonical unit (the spec's default, Wh, fits only
    energy registers; stations leave the unit out of SoC and power readings too).
    """
    kind = measurand_kind(measurand)
    if unit is None:
        return Conversion(CANONICAL.get(kind) if kind else None, 0, True)
    if kind is None:
        return Conversion(unit, 0, True)
    name = unit if unit in _UNITS else _ALIASES.get(unit.lower())
    if name is None or _UNITS[name][0] != kind:
        return Conversion(unit, 0, False)
    offset = name if name in ("Fahrenheit", "K") else None
    return Conversion(CANONICAL[kind], _UNITS[name][1], True, offset)


def scale(value: float, exponent: int) -> float:
    """``value * 10**exponent``, correctly rounded: 1.1 kWh is 1100.0 Wh, not
    1100.0000000000002 (the product of two inexact floats)."""
    if exponent == 0:
        return value
    return float(Decimal(repr(value)).scaleb(exponent))


def canonical_value(value: float, multiplier: int, how: Conversion) -> float:
    """``value`` as sent, with its multiplier, in the stored unit of ``how``."""
    scaled = scale(value, multiplier + how.exponent)
    if how.offset == "Fahrenheit":
        return (scaled - 32.0) * 5.0 / 9.0
    if how.offset == "K":
        return scaled - 273.15
    return scaled

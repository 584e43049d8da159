"""Numbers as people read them, in the CLI's text output and on the dashboard: power in kW to
one decimal, energy in kWh to two, states of charge in whole-ish percent, money in cents.

Machine output (``--json``, the API, CSV) keeps full precision; only text for people goes
through here. A value's unit is the caller's to know: SoC is a fraction (0.2) in the grid's
records and a percent (20.0) in meter values, so each has its own function.
"""

from __future__ import annotations

import math
import re

_SUFFIX = re.compile(r"(?:^|_)(kw|kwh)$")


def _finite(value: float | None) -> bool:
    return value is not None and not isinstance(value, bool) and math.isfinite(value)


def kw(value: float | None) -> str:
    """Power: ``12.3`` (kW, one decimal); empty for None."""
    return f"{value:.1f}".replace("-0.0", "0.0") if _finite(value) else ""


def kwh(value: float | None) -> str:
    """Energy: ``4.27`` (kWh, two decimals)."""
    return f"{value:.2f}".replace("-0.00", "0.00") if _finite(value) else ""


def soc_percent(percent: float | None) -> str:
    """A state of charge given in percent: ``63 %`` (one decimal under 10 %)."""
    if not _finite(percent):
        return ""
    assert percent is not None
    return f"{percent:.1f} %" if abs(percent) < 10 else f"{percent:.0f} %"


def soc_fraction(fraction: float | None) -> str:
    """A state of charge given as a fraction of the battery: ``0.634`` -> ``63 %``."""
    return soc_percent(None if fraction is None else fraction * 100.0)


def share(fraction: float | None) -> str:
    """A ratio such as performance: ``0.987`` -> ``98.7 %``."""
    return f"{fraction * 100:.1f} %" if _finite(fraction) else ""  # type: ignore[operator]


def money(value: float | None) -> str:
    """An amount: ``$12.34``."""
    return f"${value:.2f}" if _finite(value) else ""


def number(value: float) -> str:
    """Any other quantity: at most three decimals, trailing zeros dropped (``0.204``)."""
    if not math.isfinite(value):
        return str(value)
    text = f"{value:.3f}".rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def by_name(name: str, value: float) -> str:
    """A number under a field name: ``*_kw`` as power, ``*_kwh`` as energy, else
    :func:`number` (a name ending in a unit says what the value is)."""
    unit = _SUFFIX.search(name.lower())
    if unit is None:
        return number(value)
    return kw(value) if unit.group(1) == "kw" else kwh(value)

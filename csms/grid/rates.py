"""Compensation rates as data.

DSGS (California Demand Side Grid Support) Option 3, 2-hour residential storage, settled 2025
capacity rates in $/kW-month. Source: the CEC's DSGS Option 3 settlement figures as quoted in
the project's context notes (``docs/grid.md`` names the source); check the current program
guidelines before using them for real money. A program may override any month.
"""

from __future__ import annotations

from datetime import datetime

#: $/kW-month by "YYYY-MM"; the DSGS season runs May to October.
DSGS_2025_RATES: dict[str, float] = {
    "2025-05": 8.775,
    "2025-06": 9.074,
    "2025-07": 16.380,
    "2025-08": 17.550,
    "2025-09": 18.720,
    "2025-10": 10.244,
}
DSGS_RATE_SOURCE = ("CEC DSGS Option 3, 2025 settled capacity rates, 2-hour residential "
                    "storage, $/kW-month")
#: DSGS aggregations (Option 3) must nominate at least this many kW.
DSGS_MIN_AGGREGATION_KW = 500.0
#: The prescriptive baseline for residential 2-hour storage: this % of nameplate kW.
DSGS_PRESCRIPTIVE_PERCENT = 10.8


def month_key(when: datetime) -> str:
    """``YYYY-MM`` of a time (in its own timezone)."""
    return f"{when.year:04d}-{when.month:02d}"


def month_rate(month: str, overrides: dict[str, float] | None = None) -> float | None:
    """The $/kW-month rate of ``month`` (YYYY-MM): the override, else the DSGS table; None
    when unknown."""
    if overrides and month in overrides:
        return overrides[month]
    return DSGS_2025_RATES.get(month)


def monthly_rate(when: datetime, overrides: dict[str, float] | None = None) -> float | None:
    """The $/kW-month rate for the month of ``when``: the override, else the DSGS table.

    None outside the known months (no rate: the payment is unknown, not zero).
    """
    return month_rate(month_key(when), overrides)

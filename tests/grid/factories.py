"""Builders of EVs and times for the grid tests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from csms.grid.ev import EV

T0 = datetime(2025, 7, 15, 16, 0, tzinfo=UTC)


def at(minutes: float) -> datetime:
    """``minutes`` after 4 pm UTC on 15 July 2025."""
    return T0 + timedelta(minutes=minutes)


def ev(n: int = 1, **kw: Any) -> EV:
    """A LEAF (39 kWh) on an FE-20 at 60 %, floor 20 %, no departure known."""
    fields: dict[str, Any] = dict(station_id=f"CP{n}", evse_id=1, transaction_id=f"tx{n}",
                                  soc=0.6, capacity_kwh=39.0, floor_soc=0.2,
                                  max_discharge_kw=20.0, max_charge_kw=20.0)
    fields.update(kw)
    return EV(**fields)

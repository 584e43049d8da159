"""Small constructors of profiles for the smart-charging tests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from csms.smartcharging.model import ChargingProfile, ChargingSchedule, ChargingSchedulePeriod

T0 = datetime(2025, 6, 2, 8, 0, tzinfo=UTC)


def period(start: int = 0, **values: Any) -> ChargingSchedulePeriod:
    """A period starting ``start`` seconds into its schedule."""
    return ChargingSchedulePeriod(start_period=start, **values)


def profile(
    profile_id: int = 1,
    *,
    purpose: str = "TxDefaultProfile",
    kind: str = "Absolute",
    stack_level: int = 0,
    periods: tuple[ChargingSchedulePeriod, ...] | None = None,
    start: datetime | None = T0,
    duration: int | None = None,
    unit: str = "W",
    transaction_id: str | None = None,
    recurrency_kind: str | None = None,
    valid_from: datetime | None = None,
    valid_to: datetime | None = None,
) -> ChargingProfile:
    """A one-schedule profile; Relative profiles get no startSchedule."""
    schedule = ChargingSchedule(
        id=profile_id,
        charging_rate_unit=unit,
        periods=periods if periods is not None else (period(0, limit=11000),),
        start_schedule=None if kind == "Relative" else start,
        duration=duration,
    )
    return ChargingProfile(
        id=profile_id,
        stack_level=stack_level,
        purpose=purpose,
        kind=kind,
        schedules=(schedule,),
        transaction_id=transaction_id,
        recurrency_kind=recurrency_kind,
        valid_from=valid_from,
        valid_to=valid_to,
    )


def tx_profile(profile_id: int = 1, transaction_id: str = "tx-1", **kw: Any) -> ChargingProfile:
    """A TxProfile for ``transaction_id``."""
    return profile(profile_id, purpose="TxProfile", transaction_id=transaction_id, **kw)


def minutes(n: float) -> timedelta:
    """A duration of ``n`` minutes."""
    return timedelta(minutes=n)

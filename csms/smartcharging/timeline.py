"""Where a single charging profile is in its schedule at a given instant.

A profile's schedule is anchored at its ``startSchedule`` (Absolute), at the latest daily or
weekly recurrence of ``startSchedule`` (Recurring), or at the start of the transaction
(Relative). The profile applies between ``validFrom`` and ``validTo``; its schedule lasts
``duration`` seconds (or indefinitely, a Recurring one until it recurs).
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from datetime import datetime, timedelta

from csms.smartcharging.model import ChargingProfile, ChargingSchedule, ChargingSchedulePeriod

RECURRENCE: dict[str, timedelta] = {"Daily": timedelta(days=1), "Weekly": timedelta(days=7)}


def _recurrence(profile: ChargingProfile) -> timedelta | None:
    if profile.kind != "Recurring" or profile.recurrency_kind is None:
        return None
    return RECURRENCE[profile.recurrency_kind]


def schedule_anchor(
    profile: ChargingProfile, t: datetime, tx_start: datetime | None
) -> datetime | None:
    """The instant the profile's first schedule started for the occurrence covering ``t``.

    None when the schedule has no anchor (a Relative profile without a transaction).
    """
    schedule = profile.schedule
    if profile.kind == "Relative":
        return tx_start
    if profile.kind == "Dynamic" and schedule.start_schedule is None:
        return tx_start
    start = schedule.start_schedule
    if start is None:
        return None
    period = _recurrence(profile)
    if period is None:
        return start
    cycles = math.floor((t - start) / period)
    return start + cycles * period


def is_valid_at(profile: ChargingProfile, t: datetime) -> bool:
    """Whether ``t`` lies in [validFrom, validTo) (open-ended where absent)."""
    if profile.valid_from is not None and t < profile.valid_from:
        return False
    return not (profile.valid_to is not None and t >= profile.valid_to)


def period_at(
    profile: ChargingProfile, t: datetime, tx_start: datetime | None = None
) -> tuple[ChargingSchedule, ChargingSchedulePeriod] | None:
    """The schedule period of ``profile`` in force at ``t``, or None if none is.

    Only the first schedule counts: the second and third exist for ISO 15118 schedule choice,
    which the station makes with the EV.
    """
    if not profile.schedules or not is_valid_at(profile, t):
        return None
    anchor = schedule_anchor(profile, t, tx_start)
    if anchor is None or t < anchor:
        return None
    schedule = profile.schedule
    offset = (t - anchor).total_seconds()
    if schedule.duration is not None and offset >= schedule.duration:
        return None
    current: ChargingSchedulePeriod | None = None
    for period in schedule.periods:
        if period.start_period <= offset:
            current = period
        else:
            break
    if current is None:
        return None
    return schedule, current


def breakpoints(
    profile: ChargingProfile, start: datetime, end: datetime, tx_start: datetime | None
) -> Iterator[datetime]:
    """Instants in (start, end) at which the profile's value may change."""
    for bound in (profile.valid_from, profile.valid_to):
        if bound is not None and start < bound < end:
            yield bound
    if not profile.schedules:
        return
    schedule = profile.schedule
    offsets = [p.start_period for p in schedule.periods]
    if schedule.duration is not None:
        offsets.append(schedule.duration)
    recurrence = _recurrence(profile)
    first = schedule_anchor(profile, start, tx_start)
    if first is None:
        return
    anchors = [first]
    if recurrence is not None:
        anchor = first + recurrence
        while anchor < end:
            anchors.append(anchor)
            anchor += recurrence
    for anchor in anchors:
        if start < anchor < end:
            yield anchor
        for offset in offsets:
            instant = anchor + timedelta(seconds=offset)
            if start < instant < end:
                yield instant

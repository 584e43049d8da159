"""Times and durations as operators type them: ISO 8601, ``16:00``, ``now``, ``+2h``, ``-30m``.

Every time the CLI returns is timezone-aware UTC. An ISO 8601 time without an offset is read as
UTC, the time zone OCPP uses on the wire. The ``*_option`` functions read an option's value and
turn a bad one into a usage error that names the option.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import overload
from zoneinfo import ZoneInfo

from csms.cli.errors import shown, usage
from csms.ocppj.datetimes import parse_datetime

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_PART = re.compile(r"(\d+(?:\.\d+)?)([smhdw])")
_DURATION = re.compile(r"(?:\d+(?:\.\d+)?[smhdw])+")
_CLOCK = re.compile(r"(\d{1,2}):(\d{2})(?::(\d{2}))?z?")


def parse_duration(text: str) -> timedelta:
    """Read a duration such as ``30s``, ``15m``, ``2h``, ``1d``, ``1h30m`` or plain seconds ``90``.

    Raises ``ValueError`` with a message meant for the operator when the text is not a
    non-negative duration.
    """
    s = text.strip().lower()
    try:
        seconds = float(s)
    except ValueError:
        if not _DURATION.fullmatch(s):
            raise ValueError(
                f"{shown(text)} is not a duration (examples: 90, 30s, 15m, 2h, 1d, 1h30m)"
            ) from None
        seconds = sum(float(n) * _UNITS[u] for n, u in _PART.findall(s))
    if not seconds >= 0 or seconds == float("inf"):
        raise ValueError(f"{shown(text)} is not a non-negative, finite duration")
    try:
        return timedelta(seconds=seconds)
    except OverflowError:
        raise ValueError(f"{shown(text)} is too long a duration") from None


def parse_time(text: str, *, now: datetime | None = None) -> datetime:
    """Read a point in time: ISO 8601, a time of day today (``16:00``, UTC), ``now``, or
    ``now`` plus or minus a duration (``+2h``).

    ``now`` defaults to the current time. A relative form is ``[now]+DURATION`` or
    ``[now]-DURATION`` with the duration syntax of :func:`parse_duration`. Raises ``ValueError``
    with a message meant for the operator.
    """
    base = now or datetime.now(UTC)
    s = text.strip()
    lowered = s.lower()
    if lowered == "now":
        return base
    rest = lowered.removeprefix("now")
    if rest[:1] in "+-" and rest[1:2].isdigit():
        try:
            delta = parse_duration(rest[1:])
        except ValueError:
            raise ValueError(_time_hint(text)) from None
        try:
            return base + delta if rest[0] == "+" else base - delta
        except OverflowError:
            raise ValueError(f"{shown(text)} is out of range") from None
    clock = _CLOCK.fullmatch(lowered)
    if clock:
        # A time of day alone (16:00, 16:00Z) is that time today, UTC.
        hour, minute, second = int(clock[1]), int(clock[2]), int(clock[3] or 0)
        if hour > 23 or minute > 59 or second > 59:
            raise ValueError(_time_hint(text))
        return base.astimezone(UTC).replace(hour=hour, minute=minute, second=second,
                                            microsecond=0)
    try:
        return parse_datetime(s).astimezone(UTC)  # the OCPP rule: no offset is UTC
    except OverflowError:
        raise ValueError(f"{shown(text)} is out of range") from None
    except ValueError:
        raise ValueError(_time_hint(text)) from None


def _time_hint(text: str) -> str:
    return (f"{shown(text)} is not a time (examples: 2026-11-05T16:00:00Z, 2026-11-05, 16:00, now, "
            "+2h, -30m)")


@overload
def time_option(option: str, text: str) -> datetime: ...
@overload
def time_option(option: str, text: None) -> None: ...
def time_option(option: str, text: str | None) -> datetime | None:
    """``text`` read by :func:`parse_time` (None stays None); a usage error naming ``option``."""
    if text is None:
        return None
    try:
        return parse_time(text)
    except ValueError as exc:
        raise usage(f"{option}: {exc}") from None


def duration_option(option: str, text: str) -> timedelta:
    """``text`` read by :func:`parse_duration`; a usage error naming ``option``."""
    try:
        return parse_duration(text)
    except ValueError as exc:
        raise usage(f"{option}: {exc}") from None


def timezone_option(option: str, name: str) -> str:
    """``name`` if it is a time zone this system knows; a usage error naming ``option``."""
    try:
        ZoneInfo(name)
    except (ValueError, KeyError, OSError):
        raise usage(f"{option}: unknown time zone {shown(name)}") from None
    return name

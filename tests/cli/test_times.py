"""Times and durations as operators type them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from csms.cli.times import parse_duration, parse_time

NOW = datetime(2026, 11, 5, 16, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("90", timedelta(seconds=90)),
        ("30s", timedelta(seconds=30)),
        ("15m", timedelta(minutes=15)),
        ("2h", timedelta(hours=2)),
        ("1d", timedelta(days=1)),
        ("1w", timedelta(weeks=1)),
        ("1h30m", timedelta(hours=1, minutes=30)),
        ("0.5s", timedelta(milliseconds=500)),
        (" 2H ", timedelta(hours=2)),
    ],
)
def test_durations(text: str, expected: timedelta) -> None:
    assert parse_duration(text) == expected


@pytest.mark.parametrize("text", ["", "h", "2x", "-5m", "1h-30m", "nan", "inf", "1e400", "2 h"])
def test_bad_durations(text: str) -> None:
    with pytest.raises(ValueError, match="duration"):
        parse_duration(text)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("now", NOW),
        ("NOW", NOW),
        ("+2h", NOW + timedelta(hours=2)),
        ("-30m", NOW - timedelta(minutes=30)),
        ("now+1d", NOW + timedelta(days=1)),
        ("now-90", NOW - timedelta(seconds=90)),
        ("2026-11-05T18:00:00Z", datetime(2026, 11, 5, 18, tzinfo=UTC)),
        ("2026-11-05T18:00:00", datetime(2026, 11, 5, 18, tzinfo=UTC)),
        ("2026-11-05", datetime(2026, 11, 5, tzinfo=UTC)),
        ("2026-11-05T10:00:00-08:00", datetime(2026, 11, 5, 18, tzinfo=UTC)),
    ],
)
def test_times(text: str, expected: datetime) -> None:
    parsed = parse_time(text, now=NOW)
    assert parsed == expected
    assert parsed.tzinfo is not None and parsed.utcoffset() == timedelta(0)


@pytest.mark.parametrize("text", ["", "tomorrow", "+", "+x", "2026-13-01", "now+", "+-2h"])
def test_bad_times(text: str) -> None:
    with pytest.raises(ValueError, match="not a time"):
        parse_time(text, now=NOW)


def test_offsets_are_converted_to_utc() -> None:
    tz = timezone(timedelta(hours=2))
    assert parse_time("2026-11-05T18:00:00+02:00") == datetime(2026, 11, 5, 18, tzinfo=tz)


@given(st.text(max_size=30))
def test_parsers_fail_only_with_value_error(text: str) -> None:
    for parse in (parse_duration, parse_time):
        try:
            parse(text)
        except ValueError:
            pass


@given(st.integers(min_value=0, max_value=10**7))
def test_relative_time_round_trip(seconds: int) -> None:
    assert parse_time(f"+{seconds}s", now=NOW) - NOW == timedelta(seconds=seconds)
    assert NOW - parse_time(f"-{seconds}", now=NOW) == timedelta(seconds=seconds)


def test_time_of_day_is_today_utc() -> None:
    from datetime import UTC, datetime

    from csms.cli.times import parse_time

    base = datetime(2026, 7, 15, 9, 30, tzinfo=UTC)
    assert parse_time("16:00", now=base) == datetime(2026, 7, 15, 16, 0, tzinfo=UTC)
    assert parse_time("16:00:30Z", now=base) == datetime(2026, 7, 15, 16, 0, 30, tzinfo=UTC)
    for bad in ("24:00", "16:60", "1600"):
        with pytest.raises(ValueError, match=bad):
            parse_time(bad, now=base)

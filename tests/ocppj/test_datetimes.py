"""One date-time parser: RFC 3339 with its offset kept; a time without an offset is UTC."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from csms.ocppj.datetimes import parse_datetime

NOON = datetime(2026, 6, 1, 12, tzinfo=UTC)


@pytest.mark.parametrize("text", ["2026-06-01T12:00:00Z", "2026-06-01T12:00:00z",
                                  "2026-06-01T14:00:00+02:00", "2026-06-01T12:00:00.000Z",
                                  "2026-06-01T12:00:00"])
def test_every_spelling_of_one_instant_is_that_instant(text):
    parsed = parse_datetime(text)
    assert parsed == NOON
    assert parsed.utcoffset().total_seconds() == (7200 if "+02:00" in text else 0)


@pytest.mark.parametrize("text", ["", "noon", "2026-13-01T00:00:00Z", 1767225600])
def test_anything_else_is_a_value_error(text):
    with pytest.raises(ValueError):
        parse_datetime(text)

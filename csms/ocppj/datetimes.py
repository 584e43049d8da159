"""OCPP date-times: the one parser every layer uses, with one rule for a time without offset."""

from __future__ import annotations

from datetime import UTC, datetime


def parse_datetime(text: str) -> datetime:
    """An RFC 3339 date-time (``2026-06-01T16:00:00Z``, ``...+02:00``) as an aware datetime,
    with the offset it was written with. A time without an offset is taken as UTC, the zone
    OCPP requires stations to use (docs/interop.md). Raises ValueError for anything that is not
    a date-time."""
    if not isinstance(text, str):
        raise ValueError(f"expected a date-time string, got {type(text).__name__}")
    parsed = datetime.fromisoformat(text[:-1] + "+00:00" if text.endswith(("Z", "z")) else text)
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed

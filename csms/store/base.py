"""Helpers shared by the query modules: JSON-ready conversion and timestamp parsing."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterable, Mapping
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from enum import Enum
from typing import Any
from uuid import UUID

from csms.ocppj.datetimes import parse_datetime


class StoreError(Exception):
    """Base class of the store's own errors (not database failures)."""


class StationExists(StoreError):
    """A station with that identity is already registered."""


class StationNotFound(StoreError):
    """No station with that identity is registered."""


def jsonable(value: Any) -> Any:
    """Return ``value`` as plain JSON values, ready for ``json.dumps``.

    Dataclasses, mappings and database records become dicts; datetimes, dates and times
    ISO 8601 strings; durations seconds; enums their value; decimals numbers; UUIDs strings;
    other iterables lists; a non-finite float (no JSON form) becomes None.
    """
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, Mapping) or (hasattr(value, "items") and hasattr(value, "keys")):
        # asyncpg's Record is mapping-like without being a Mapping
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, Enum):
        return jsonable(value.value)
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    if isinstance(value, timedelta):
        return value.total_seconds()
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, UUID):
        return str(value)
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, str | int | bool) or value is None:
        return value
    if isinstance(value, Iterable):
        return [jsonable(v) for v in value]
    return str(value)


def parse_time(text: str) -> datetime:
    """Parse an OCPP date-time (:func:`csms.ocppj.datetimes.parse_datetime`: RFC 3339, a time
    without offset taken as UTC). Raises ValueError for text that is not a date-time."""
    return parse_datetime(text)


def utcnow() -> datetime:
    """The current time, timezone-aware, in UTC."""
    return datetime.now(UTC)

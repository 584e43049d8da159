"""Helpers shared by the query modules: JSON-ready conversion and timestamp parsing."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from typing import Any


class StoreError(Exception):
    """Base class of the store's own errors (not database failures)."""


class StationExists(StoreError):
    """A station with that identity is already registered."""


class StationNotFound(StoreError):
    """No station with that identity is registered."""


def jsonable(value: Any) -> Any:
    """Return ``value`` with dataclasses turned into dicts and datetimes into ISO 8601 strings.

    The result can be passed straight to ``json.dumps``.
    """
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, dict):
        return {k: jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    return value


def parse_time(text: str) -> datetime:
    """Parse an OCPP date-time (RFC 3339); a time without offset is taken as UTC.

    Raises ValueError for text that is not a date-time.
    """
    parsed = datetime.fromisoformat(text)
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed


def utcnow() -> datetime:
    """The current time, timezone-aware, in UTC."""
    return datetime.now(UTC)

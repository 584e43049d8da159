"""Small helpers for reading and writing OCPP wire values (camelCase JSON dicts).

Shared by the profile model and the composite-schedule code. Everything here is pure: no I/O.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, Literal

from csms.ocppj.datetimes import parse_datetime as parse_ocpp_datetime
from csms.ocppj.validation import VERSIONS

Version = Literal["2.0.1", "2.1"]

BOTH: frozenset[str] = frozenset(VERSIONS)
V21: frozenset[str] = frozenset({"2.1"})


class ProfileFormatError(ValueError):
    """A wire payload (or a model value) that does not fit the OCPP data types.

    ``field`` is the JSON path of the offending field, e.g.
    ``chargingSchedule[0].chargingSchedulePeriod[1].limit``.
    """

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


def check_version(version: str) -> Version:
    """Return ``version`` if it is "2.0.1" or "2.1"; raise ValueError otherwise."""
    if version not in VERSIONS:
        raise ValueError(f"unknown OCPP version {version}; expected one of {', '.join(VERSIONS)}")
    return version  # type: ignore[return-value]


def as_json(value: Any) -> str:
    """A received value as it looked on the wire (JSON), for error messages."""
    return json.dumps(value, ensure_ascii=False, default=str)


def join(path: str, name: str) -> str:
    """JSON path of ``name`` inside the object at ``path``."""
    return f"{path}.{name}" if path else name


def parse_datetime(value: Any, field: str) -> datetime:
    """Parse an RFC 3339 timestamp into an aware UTC datetime (a time without offset is UTC:
    :func:`csms.ocppj.datetimes.parse_datetime`)."""
    if not isinstance(value, str):
        raise ProfileFormatError(field, f"expected a date-time string, got {type(value).__name__}")
    try:
        return parse_ocpp_datetime(value).astimezone(UTC)
    except ValueError:
        raise ProfileFormatError(field, f"not an RFC 3339 date-time: {as_json(value)}") from None


def format_datetime(value: datetime) -> str:
    """Format an aware datetime as RFC 3339 in UTC with a ``Z`` suffix.

    Whole seconds are written without a fraction, others with milliseconds (truncated).
    """
    if value.tzinfo is None:
        raise ValueError("naive datetime: OCPP timestamps need a time zone")
    utc = value.astimezone(UTC)
    utc = utc.replace(microsecond=utc.microsecond // 1000 * 1000)
    spec = "milliseconds" if utc.microsecond else "seconds"
    return utc.replace(tzinfo=None).isoformat(timespec=spec) + "Z"


def require_aware(value: datetime, name: str) -> datetime:
    """Return ``value`` in UTC; raise ValueError for a naive datetime."""
    if value.tzinfo is None:
        raise ValueError(f"{name} must be timezone-aware")
    return value.astimezone(UTC)


def read_int(value: Any, field: str) -> int:
    """A JSON integer (booleans are not integers)."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise ProfileFormatError(field, f"expected an integer, got {as_json(value)}")
    return value


def read_number(value: Any, field: str) -> float:
    """A JSON number; an integer stays an int so that it is written back unchanged."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ProfileFormatError(field, f"expected a number, got {as_json(value)}")
    return value


def read_bool(value: Any, field: str) -> bool:
    """A JSON boolean."""
    if not isinstance(value, bool):
        raise ProfileFormatError(field, f"expected true or false, got {as_json(value)}")
    return value


def read_str(value: Any, field: str, max_length: int | None = None) -> str:
    """A JSON string, optionally limited in length."""
    if not isinstance(value, str):
        raise ProfileFormatError(field, f"expected a string, got {as_json(value)}")
    if max_length is not None and len(value) > max_length:
        raise ProfileFormatError(field, f"longer than {max_length} characters")
    return value


def read_enum(value: Any, field: str, allowed: tuple[str, ...]) -> str:
    """A string that must be one of ``allowed``."""
    if value not in allowed:
        raise ProfileFormatError(field, f"{as_json(value)} is not one of {', '.join(allowed)}")
    return value


def read_object(value: Any, field: str) -> Mapping[str, Any]:
    """A JSON object."""
    if not isinstance(value, Mapping):
        raise ProfileFormatError(field, f"expected an object, got {type(value).__name__}")
    return value


def read_list(value: Any, field: str, min_items: int, max_items: int | None) -> list[Any]:
    """A JSON array with a bounded number of items."""
    if not isinstance(value, list | tuple):
        raise ProfileFormatError(field, f"expected an array, got {type(value).__name__}")
    if len(value) < min_items:
        raise ProfileFormatError(field, f"needs at least {min_items} item(s)")
    if max_items is not None and len(value) > max_items:
        raise ProfileFormatError(field, f"allows at most {max_items} items, got {len(value)}")
    return list(value)


def split_extras(
    obj: Mapping[str, Any],
    known: set[str],
    extras: Mapping[str, frozenset[str]],
    version: str,
    path: str,
) -> dict[str, Any]:
    """Keys of ``obj`` outside ``known``, kept verbatim when the version allows them.

    A key that the version does not define is a :class:`ProfileFormatError`.
    """
    kept: dict[str, Any] = {}
    for key, value in obj.items():
        if key in known:
            continue
        if version not in extras.get(key, frozenset()):
            raise ProfileFormatError(join(path, key), f"not a field of OCPP {version}")
        kept[key] = value
    return kept


def write_extras(
    out: dict[str, Any],
    extra: Mapping[str, Any],
    extras: Mapping[str, frozenset[str]],
    version: str,
    path: str,
) -> None:
    """Copy pass-through fields into ``out``, refusing those the version does not define."""
    for key, value in extra.items():
        if version not in extras.get(key, frozenset()):
            raise ProfileFormatError(join(path, key), f"not a field of OCPP {version}")
        if value is not None:
            out[key] = value

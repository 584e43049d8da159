"""Small conversions between OCPP wire payloads (camelCase dicts) and stored values."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from csms.ocppj import OCPPError
from csms.store.base import parse_time


def now_iso() -> str:
    """The current UTC time as an OCPP date-time (millisecond precision, ``Z`` suffix)."""
    return iso(datetime.now(UTC))


def iso(value: datetime) -> str:
    """``value`` as an OCPP date-time in UTC with a ``Z`` suffix."""
    return value.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def time_field(value: str, name: str) -> datetime:
    """Parse the date-time field ``name``; a value that is not one is a
    PropertyConstraintViolation naming the field (as the schema validator reports it)."""
    try:
        return parse_time(value)
    except (TypeError, ValueError):
        raise OCPPError(
            "PropertyConstraintViolation", f"{name}: {value!r} is not a date-time", {"field": name}
        ) from None


def optional_time(value: str | None, name: str) -> datetime | None:
    """Like :func:`time_field`, for an optional field."""
    return None if value is None else time_field(value, name)


def component_fields(component: dict[str, Any], variable: dict[str, Any]) -> dict[str, Any]:
    """Flatten a ComponentType and VariableType into the store's column names."""
    evse = component.get("evse") or {}
    return {
        "component_name": component["name"],
        "component_instance": component.get("instance"),
        "evse_id": evse.get("id"),
        "connector_id": evse.get("connectorId"),
        "variable_name": variable["name"],
        "variable_instance": variable.get("instance"),
    }


def status_info(reason_code: str, additional_info: str) -> dict[str, str]:
    """A StatusInfoType (reasonCode at most 20 characters, additionalInfo at most 512)."""
    return {"reasonCode": reason_code[:20], "additionalInfo": additional_info[:512]}

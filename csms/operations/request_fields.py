"""Fields that several CSMS -> station requests write the same way."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any


def iso_seconds(value: datetime) -> str:
    """``value`` as an OCPP date-time in UTC to the whole second, with a ``Z`` suffix."""
    return value.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def add_retries(payload: dict[str, Any], retries: int | None,
                retry_interval: int | None) -> dict[str, Any]:
    """``payload`` with the optional ``retries`` and ``retryInterval`` of an upload or
    download request (UpdateFirmware, GetLog) set where given; returns it."""
    if retries is not None:
        payload["retries"] = retries
    if retry_interval is not None:
        payload["retryInterval"] = retry_interval
    return payload

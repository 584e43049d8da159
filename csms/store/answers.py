"""How the request tables of the diagnostics and firmware blocks record the end of a call."""

from __future__ import annotations

from typing import Any


def command_answer(status: str, response: dict[str, Any] | None, error_code: str | None,
                   error_description: str | None) -> tuple[str, str | None]:
    """(answer, reason) of a finished command: the station's status word and its statusInfo
    when it answered, else what stopped the call (callerror, expired, offline, ...)."""
    if status == "answered":
        response = response or {}
        info = response.get("statusInfo") or {}
        reason = ": ".join(str(info[k]) for k in ("reasonCode", "additionalInfo") if k in info)
        return str(response.get("status", "Accepted")), reason or None
    if status == "error":
        return "callerror", ": ".join(x for x in (error_code, error_description) if x) or None
    return status, error_description

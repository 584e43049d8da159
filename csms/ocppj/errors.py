"""Errors of the OCPP-J RPC framework (OCPP-J Part 4, section 4.3)."""

from __future__ import annotations

from typing import Any

#: Every error code Part 4 allows in a CALLERROR / CALLRESULTERROR.
ERROR_CODES = frozenset(
    {
        "FormatViolation",
        "GenericError",
        "InternalError",
        "MessageTypeNotSupported",
        "NotImplemented",
        "NotSupported",
        "OccurrenceConstraintViolation",
        "PropertyConstraintViolation",
        "ProtocolError",
        "RpcFrameworkError",
        "SecurityError",
        "TypeConstraintViolation",
    }
)

#: Part 4 limits errorDescription to 255 characters.
MAX_DESCRIPTION = 255


class OCPPError(Exception):
    """An error to be answered to the peer as a CALLERROR with an OCPP-J error code.

    Raise it from a handler to answer a specific code; the validator raises it for schema
    violations, with a description that names the offending field.
    """

    def __init__(self, code: str, description: str = "", details: dict[str, Any] | None = None):
        if code not in ERROR_CODES:
            raise ValueError(f"not an OCPP-J error code: {code!r}")
        super().__init__(f"{code}: {description}" if description else code)
        self.code = code
        self.description = description[:MAX_DESCRIPTION]
        self.details = details or {}


class CallError(Exception):
    """The peer answered our CALL with a CALLERROR (or a 2.1 CALLRESULTERROR)."""

    def __init__(
        self, action: str, code: str, description: str = "", details: dict[str, Any] | None = None
    ):
        super().__init__(f"{action}: {code}" + (f": {description}" if description else ""))
        self.action = action
        self.code = code
        self.description = description
        self.details = details or {}


class CallTimeout(TimeoutError):
    """The peer did not answer our CALL within the call timeout."""

    def __init__(self, action: str, timeout: float):
        super().__init__(f"{action}: no response within {timeout:g} s")
        self.action = action
        self.timeout = timeout

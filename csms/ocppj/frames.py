"""OCPP-J frames: parsing text into typed frames and serialising frames to text (Part 4, 4.2).

``parse`` never raises anything but :class:`FrameError`, which carries the CALLERROR to answer
(with the message id "-1" when the id cannot be read, 4.2.3) or says that nothing may be answered.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from enum import IntEnum
from typing import Any

import orjson

from csms.ocppj.errors import MAX_DESCRIPTION, OCPPError

MAX_MESSAGE_ID = 36
UNKNOWN_ID = "-1"


class MessageType(IntEnum):
    """Message type numbers; CALLRESULTERROR and SEND exist from OCPP 2.1 on."""

    CALL = 2
    CALLRESULT = 3
    CALLERROR = 4
    CALLRESULTERROR = 5
    SEND = 6


@dataclass(slots=True)
class Call:
    message_id: str
    action: str
    payload: dict[str, Any]


@dataclass(slots=True)
class Send:
    message_id: str
    action: str
    payload: dict[str, Any]


@dataclass(slots=True)
class CallResult:
    message_id: str
    payload: dict[str, Any]


@dataclass(slots=True)
class CallErrorFrame:
    """A CALLERROR, or with ``result_error`` a 2.1 CALLRESULTERROR."""

    message_id: str
    code: str
    description: str
    details: dict[str, Any] = field(default_factory=dict)
    result_error: bool = False


Frame = Call | Send | CallResult | CallErrorFrame


class FrameError(Exception):
    """A frame that cannot be processed.

    ``error`` is the CALLERROR to answer with ``message_id``; ``error`` is None when the frame
    must be dropped without an answer (a broken response or error frame: answering it could
    start an endless exchange).
    """

    def __init__(self, message_id: str, error: OCPPError | None, reason: str):
        super().__init__(reason)
        self.message_id = message_id
        self.error = error
        self.reason = reason


_KNOWN_V201 = frozenset((2, 3, 4))
_KNOWN_V21 = frozenset((2, 3, 4, 5, 6))
_LEADING_ID = re.compile(r'^\s*\[\s*(\d+)\s*,\s*"([^"\\]{1,36})"')


def _dumps(value: Any) -> str:
    return orjson.dumps(value).decode()


def parse(text: str | bytes, *, allow_v21: bool) -> Frame:
    """Parse one websocket message into a frame, or raise :class:`FrameError`."""
    try:
        message = orjson.loads(text)
    except orjson.JSONDecodeError:
        if isinstance(text, bytes):
            text = text.decode("utf-8", "replace")
        match = _LEADING_ID.match(text)
        if match and int(match.group(1)) == MessageType.CALL:
            raise FrameError(
                match.group(2), OCPPError("FormatViolation", "message is not valid JSON"), "json"
            ) from None
        raise FrameError(
            UNKNOWN_ID, OCPPError("RpcFrameworkError", "message is not valid JSON"), "json"
        ) from None
    if not isinstance(message, list) or len(message) < 3:
        raise FrameError(
            UNKNOWN_ID,
            OCPPError("RpcFrameworkError", "message is not a JSON array of at least 3 elements"),
            "structure",
        )
    kind, message_id = message[0], message[1]
    if type(message_id) is not str or not 0 < len(message_id) <= MAX_MESSAGE_ID:
        raise FrameError(
            UNKNOWN_ID,
            OCPPError("RpcFrameworkError", "MessageId must be a string of 1 to 36 characters"),
            "message-id",
        )
    if type(kind) is not int:
        raise FrameError(
            message_id, OCPPError("RpcFrameworkError", "MessageTypeId must be an integer"), "type"
        )
    if kind not in (_KNOWN_V21 if allow_v21 else _KNOWN_V201):
        raise FrameError(
            message_id,
            OCPPError("MessageTypeNotSupported", f"message type {kind} is not supported"),
            "message-type",
        )
    if kind == 2 or kind == 6:
        return _parse_call(message, message_id, kind)
    if kind == MessageType.CALLRESULT:
        if len(message) != 3 or not isinstance(message[2], dict):
            raise FrameError(message_id, None, "CALLRESULT is not [3, id, {payload}]")
        return CallResult(message_id, message[2])
    if len(message) != 5 or not isinstance(message[2], str):
        raise FrameError(message_id, None, "CALLERROR is not [4, id, code, description, details]")
    details = message[4] if isinstance(message[4], dict) else {}
    description = message[3] if isinstance(message[3], str) else ""
    return CallErrorFrame(
        message_id, message[2], description, details, kind == MessageType.CALLRESULTERROR
    )


def _call_error(message_id: str, kind: int, reason: str) -> FrameError:
    # A SEND is never answered (2.1 Part 4, 4.2.4), so its errors are reported without a reply.
    error = OCPPError("ProtocolError", reason) if kind == MessageType.CALL else None
    return FrameError(message_id, error, reason)


def _parse_call(message: list[Any], message_id: str, kind: int) -> Frame:
    if len(message) != 4:
        raise _call_error(message_id, kind,
                          "CALL must have exactly 4 elements: [2, id, action, {payload}]")
    action, payload = message[2], message[3]
    if type(action) is not str or not action:
        raise _call_error(message_id, kind, "Action must be a non-empty string")
    if type(payload) is not dict:
        raise _call_error(message_id, kind, "payload must be a JSON object")
    if kind == MessageType.CALL:
        return Call(message_id, action, payload)
    return Send(message_id, action, payload)


def encode_call(message_id: str, action: str, payload: dict[str, Any]) -> str:
    """``[2, id, action, payload]``."""
    return _dumps([MessageType.CALL, message_id, action, payload])


def encode_send(message_id: str, action: str, payload: dict[str, Any]) -> str:
    """``[6, id, action, payload]`` (2.1)."""
    return _dumps([MessageType.SEND, message_id, action, payload])


def encode_result(message_id: str, payload: dict[str, Any]) -> str:
    """``[3, id, payload]``."""
    return _dumps([MessageType.CALLRESULT, message_id, payload])


def encode_error(message_id: str, error: OCPPError, *, result_error: bool = False) -> str:
    """``[4, id, code, description, details]`` or the 2.1 CALLRESULTERROR ``[5, ...]``."""
    kind = MessageType.CALLRESULTERROR if result_error else MessageType.CALLERROR
    return _dumps([kind, message_id, error.code, error.description[:MAX_DESCRIPTION],
                   error.details or {}])

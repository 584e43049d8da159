"""The OCPP-J RPC state machine, without I/O.

Text frames go in through :meth:`RpcProtocol.receive`, which returns events; frames to send come
out of :meth:`start_call`, :meth:`result` and :meth:`error`, and of the :class:`Reply` events for
frames that must be answered with a CALLERROR. The asyncio adapter
(:mod:`csms.ocppj.connection`) moves bytes; every protocol decision is made here.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from csms.ocppj import frames
from csms.ocppj.errors import ERROR_CODES, OCPPError
from csms.ocppj.validation import Validator

#: A valid CALL from the peer, to be answered with :meth:`RpcProtocol.result` or ``error``.
IncomingCall = frames.Call

#: A valid 2.1 SEND from the peer; it is never answered.
IncomingSend = frames.Send


@dataclass(frozen=True, slots=True)
class CallCompleted:
    """The peer answered our pending CALL: ``payload`` is valid, or ``error`` says why not."""

    message_id: str
    action: str
    payload: dict[str, Any] | None
    error: OCPPError | None
    #: True when the peer itself answered CALLERROR / CALLRESULTERROR.
    from_peer: bool = False


@dataclass(frozen=True, slots=True)
class Reply:
    """A frame this side must send because of what it received (a CALLERROR)."""

    message_id: str
    text: str
    error: OCPPError


@dataclass(frozen=True, slots=True)
class Dropped:
    """A frame that was ignored, with the reason (for the log)."""

    message_id: str
    reason: str


Event = frames.Call | frames.Send | CallCompleted | Reply | Dropped


class RpcProtocol:
    """One side of an OCPP-J connection: framing, validation and call correlation.

    ``supported`` limits which known actions this side handles: a known action outside it is
    answered NotSupported, an action the version does not define NotImplemented.
    """

    def __init__(self, validator: Validator, supported: frozenset[str] | set[str]):
        self.validator = validator
        self.version = validator.version
        self.supported = frozenset(supported)
        self._v21 = validator.version != "2.0.1"
        self._pending: tuple[str, str] | None = None

    def start_call(self, action: str, payload: dict[str, Any]) -> tuple[str, str]:
        """Validate and frame a CALL; returns ``(message_id, text)``.

        Raises :class:`OCPPError` for an invalid payload and :class:`RuntimeError` while another
        CALL is outstanding (one outstanding CALL per direction, Part 4).
        """
        if self._pending is not None:
            raise RuntimeError(f"a CALL is already outstanding: {self._pending[1]}")
        self.validator.validate_request(action, payload)
        message_id = str(uuid.uuid4())
        self._pending = (message_id, action)
        return message_id, frames.encode_call(message_id, action, payload)

    def abandon_call(self, message_id: str) -> None:
        """Forget our pending CALL (timed out or cancelled); a late answer is then dropped."""
        if self._pending is not None and self._pending[0] == message_id:
            self._pending = None

    def send(self, action: str, payload: dict[str, Any]) -> str:
        """Validate and frame a 2.1 SEND (never answered)."""
        if not self._v21:
            raise RuntimeError("SEND exists from OCPP 2.1 on")
        self.validator.validate_request(action, payload)
        return frames.encode_send(str(uuid.uuid4()), action, payload)

    def result(self, call: IncomingCall, payload: dict[str, Any]) -> str:
        """Frame the answer to ``call``; raises :class:`OCPPError` if it breaks the schema."""
        self.validator.validate_response(call.action, payload)
        return frames.encode_result(call.message_id, payload)

    def error(self, message_id: str, error: OCPPError) -> str:
        """Frame a CALLERROR for ``message_id``."""
        return frames.encode_error(message_id, error)

    def receive(self, text: str | bytes) -> list[Event]:
        """Process one websocket message and return what happened."""
        try:
            frame = frames.parse(text, allow_v21=self._v21)
        except frames.FrameError as exc:
            if exc.error is None:
                return [Dropped(exc.message_id, exc.reason)]
            return [Reply(exc.message_id, frames.encode_error(exc.message_id, exc.error),
                          exc.error)]
        if isinstance(frame, frames.Call):
            return [self._on_call(frame)]
        if isinstance(frame, frames.Send):
            return [self._on_send(frame)]
        return self._on_answer(frame)

    def _on_call(self, frame: frames.Call) -> Event:
        action = frame.action
        try:
            if action not in self.supported:
                if not self.validator.is_known(action):
                    raise OCPPError(
                        "NotImplemented", f"{action} is not an OCPP {self.version} action"
                    )
                raise OCPPError("NotSupported", f"{action} is not supported here")
            self.validator.validate_request(action, frame.payload)
        except OCPPError as error:
            return Reply(frame.message_id, frames.encode_error(frame.message_id, error), error)
        return frame

    def _on_send(self, frame: frames.Send) -> Event:
        if frame.action not in self.supported:
            return Dropped(frame.message_id, f"SEND of unsupported action {frame.action}")
        try:
            self.validator.validate_request(frame.action, frame.payload)
        except OCPPError as error:
            return Dropped(frame.message_id, f"invalid SEND {frame.action}: {error}")
        return frame

    def _on_answer(self, frame: frames.CallResult | frames.CallErrorFrame) -> list[Event]:
        pending = self._pending
        if pending is None or pending[0] != frame.message_id:
            return [Dropped(frame.message_id, "answer to no outstanding CALL")]
        message_id, action = pending
        self._pending = None
        if isinstance(frame, frames.CallErrorFrame):
            code = frame.code if frame.code in ERROR_CODES else "GenericError"
            error = OCPPError(code, frame.description, frame.details)
            return [CallCompleted(message_id, action, None, error, from_peer=True)]
        try:
            self.validator.validate_response(action, frame.payload)
        except OCPPError as error:
            events: list[Event] = [CallCompleted(message_id, action, None, error)]
            if self._v21:
                # 2.1 Part 4, 4.2.3: tell the sender its CALLRESULT could not be processed.
                text = frames.encode_error(message_id, error, result_error=True)
                events.append(Reply(message_id, text, error))
            return events
        return [CallCompleted(message_id, action, frame.payload, None)]


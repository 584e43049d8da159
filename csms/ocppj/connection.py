"""The asyncio adapter: runs an :class:`~csms.ocppj.protocol.RpcProtocol` over a websocket.

The reader loop never waits for a handler: incoming CALLs go to a queue served by one worker
task (so they are answered one at a time, in order), while answers to our own CALLs are delivered
the moment they arrive. A handler may therefore await :meth:`RpcConnection.call` itself.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import structlog
from websockets.exceptions import ConnectionClosed

from csms.ocppj.errors import CallError, CallTimeout, OCPPError
from csms.ocppj.protocol import (
    CallCompleted,
    Dropped,
    IncomingCall,
    IncomingSend,
    Reply,
    RpcProtocol,
)
from csms.ocppj.validation import get_validator

Handler = Callable[[dict[str, Any]], Awaitable[dict[str, Any] | None]]

# One frozenset per distinct set of supported actions, shared by every connection that has it
# (a server holds thousands of connections with the same few sets).
_ACTION_SETS: dict[frozenset[str], frozenset[str]] = {}


def _shared(actions: frozenset[str]) -> frozenset[str]:
    return _ACTION_SETS.setdefault(actions, actions)


class RpcConnection:
    """OCPP-J over one websocket, for either side (CSMS or charging station).

    ``handlers`` maps actions to coroutines taking the request payload and returning the
    response payload (for a SEND the result is ignored).
    """

    def __init__(
        self,
        websocket: Any,
        version: str,
        handlers: Mapping[str, Handler],
        *,
        call_timeout: float = 30.0,
        log: Any = None,
    ):
        self.websocket = websocket
        self.version = version
        # Kept as given (not copied): a server may pass a mapping that binds on lookup.
        self.handlers = handlers
        self.call_timeout = call_timeout
        self.log = log if log is not None else structlog.get_logger("csms.ocppj")
        self.protocol = RpcProtocol(get_validator(version), _shared(frozenset(handlers)))
        self._calls: asyncio.Queue[IncomingCall | IncomingSend | None] = asyncio.Queue()
        self._call_lock = asyncio.Lock()
        self._waiter: tuple[str, asyncio.Future[CallCompleted]] | None = None
        self._closed = False

    async def run(self) -> None:
        """Serve the connection until the websocket closes."""
        worker = asyncio.create_task(self._serve_calls())
        try:
            async for message in self.websocket:
                await self._receive(message)
        except ConnectionClosed:
            pass
        finally:
            self._closed = True
            self._calls.put_nowait(None)
            if self._waiter is not None and not self._waiter[1].done():
                self._waiter[1].set_exception(ConnectionClosed(None, None))
            try:
                await asyncio.wait_for(worker, timeout=5)
            except (TimeoutError, asyncio.CancelledError):
                worker.cancel()

    async def call(
        self, action: str, payload: dict[str, Any], timeout: float | None = None
    ) -> dict[str, Any]:
        """Send a CALL and return the peer's response payload.

        Raises :class:`OCPPError` (invalid payload, before anything is sent),
        :class:`CallError`, :class:`CallTimeout`, or ``ConnectionClosed``. Calls from several
        tasks are sent one after the other: one outstanding CALL per direction.
        """
        timeout = self.call_timeout if timeout is None else timeout
        async with self._call_lock:
            if self._closed:
                raise ConnectionClosed(None, None)
            message_id, text = self.protocol.start_call(action, payload)
            future: asyncio.Future[CallCompleted] = asyncio.get_running_loop().create_future()
            self._waiter = (message_id, future)
            try:
                self.log.debug("ocpp.out", kind="call", message_id=message_id, action=action,
                               frame=text)
                await self.websocket.send(text)
                try:
                    done = await asyncio.wait_for(future, timeout)
                except TimeoutError:
                    raise CallTimeout(action, timeout) from None
            finally:
                self.protocol.abandon_call(message_id)
                self._waiter = None
        if done.error is not None:
            raise CallError(action, done.error.code, done.error.description, done.error.details)
        assert done.payload is not None
        return done.payload

    async def send(self, action: str, payload: dict[str, Any]) -> None:
        """Send a 2.1 SEND (an unconfirmed message)."""
        text = self.protocol.send(action, payload)
        self.log.debug("ocpp.out", kind="send", action=action, frame=text)
        await self.websocket.send(text)

    async def _receive(self, message: str | bytes) -> None:
        for event in self.protocol.receive(message):
            if isinstance(event, (IncomingCall, IncomingSend)):
                self.log.debug("ocpp.in", kind=type(event).__name__, message_id=event.message_id,
                               action=event.action, frame=message)
                self._calls.put_nowait(event)
            elif isinstance(event, CallCompleted):
                self.log.debug("ocpp.in", kind="answer", message_id=event.message_id,
                               action=event.action, frame=message)
                waiter = self._waiter
                if waiter is not None and waiter[0] == event.message_id and not waiter[1].done():
                    waiter[1].set_result(event)
            elif isinstance(event, Reply):
                self.log.info("ocpp.rejected", message_id=event.message_id,
                              code=event.error.code, reason=event.error.description)
                self.log.debug("ocpp.out", kind="error", message_id=event.message_id,
                               frame=event.text)
                await self._send_quietly(event.text)
            elif isinstance(event, Dropped):
                self.log.info("ocpp.dropped", message_id=event.message_id, reason=event.reason)

    async def _serve_calls(self) -> None:
        while True:
            event = await self._calls.get()
            if event is None:
                return
            handler = self.handlers[event.action]
            if isinstance(event, IncomingSend):
                try:
                    await handler(event.payload)
                except Exception:
                    self.log.exception("ocpp.send_handler_failed", action=event.action,
                                       message_id=event.message_id)
                continue
            text = await self._answer(event, handler)
            self.log.debug("ocpp.out", kind="answer", message_id=event.message_id,
                           action=event.action, frame=text)
            await self._send_quietly(text)

    async def _answer(self, call: IncomingCall, handler: Handler) -> str:
        try:
            response = await handler(call.payload)
        except OCPPError as error:
            return self.protocol.error(call.message_id, error)
        except Exception:
            self.log.exception("ocpp.handler_failed", action=call.action,
                               message_id=call.message_id)
            error = OCPPError("InternalError", f"{call.action} could not be processed")
            return self.protocol.error(call.message_id, error)
        try:
            return self.protocol.result(call, response or {})
        except OCPPError as invalid:
            # Our own answer breaks the schema: a defect on this side, never the peer's fault.
            self.log.error("ocpp.invalid_response", action=call.action,
                           message_id=call.message_id, error=str(invalid), response=response)
            error = OCPPError("InternalError", f"{call.action} response could not be built")
            return self.protocol.error(call.message_id, error)

    async def _send_quietly(self, text: str) -> None:
        with contextlib.suppress(ConnectionClosed):
            await self.websocket.send(text)

"""The asyncio adapter: runs an :class:`~csms.ocppj.protocol.RpcProtocol` over a websocket.

Receiving never waits for a handler: incoming CALLs go to an inbox served by one worker task
(so they are answered one at a time, in order; the task exists only while there is something
to answer), while answers to our own CALLs are delivered the moment they arrive. A handler may
therefore await :meth:`RpcConnection.call` itself.

Messages come either from a task iterating the websocket (any websockets connection: the
simulated stations' clients), or, on the CSMS, pushed by a
:class:`~csms.ocppj.push.PushConnection` from its protocol callback, with no task waiting while
the station is quiet.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
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
from csms.ocppj.push import PushConnection
from csms.ocppj.validation import get_validator

#: With a :class:`PushConnection`, reading stops while this many received calls wait for their
#: answer, and resumes when no more than ``INBOX_LOW`` wait.
INBOX_HIGH = 16
INBOX_LOW = 4

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
        self._push = websocket if isinstance(websocket, PushConnection) else None
        self._inbox: deque[IncomingCall | IncomingSend] = deque()
        self._worker: asyncio.Task[None] | None = None
        self._reading_paused = False
        self._call_lock = asyncio.Lock()
        self._waiter: tuple[str, asyncio.Future[CallCompleted]] | None = None
        self._closed = False

    async def run(self) -> None:
        """Serve the connection until the websocket closes."""
        if self._push is not None:
            await self._run_pushed(self._push)
            return
        try:
            async for message in self.websocket:
                for reply in self._feed(message):
                    await self._send_quietly(reply)
        except ConnectionClosed:
            pass
        finally:
            await self._closing()

    async def _run_pushed(self, push: PushConnection) -> None:
        # No task waits for messages: the connection hands each one to _on_message.
        push.attach(self._on_message)
        try:
            await push.wait_closed()
        finally:
            push.detach()
            await self._closing()

    async def _closing(self) -> None:
        self._closed = True
        if self._waiter is not None and not self._waiter[1].done():
            self._waiter[1].set_exception(ConnectionClosed(None, None))
        worker = self._worker
        if worker is not None:
            # Calls received before the close are still handled (and stored); their answers
            # are dropped.
            try:
                await asyncio.wait_for(asyncio.shield(worker), timeout=5)
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

    def _on_message(self, message: str | bytes) -> None:
        assert self._push is not None
        for reply in self._feed(message):
            self._push.send_now(reply)

    def _feed(self, message: str | bytes) -> list[str]:
        """Take one received message; returns the CALLERRORs to send back at once."""
        replies: list[str] = []
        for event in self.protocol.receive(message):
            if isinstance(event, (IncomingCall, IncomingSend)):
                self.log.debug("ocpp.in", kind=type(event).__name__, message_id=event.message_id,
                               action=event.action, frame=message)
                self._inbox.append(event)
                if self._worker is None:
                    self._worker = asyncio.get_running_loop().create_task(self._serve_calls())
                elif (self._push is not None and not self._reading_paused
                      and len(self._inbox) >= INBOX_HIGH):
                    # A peer flooding CALLs (against OCPP-J's one outstanding CALL): stop
                    # reading until the worker catches up.
                    self._reading_paused = True
                    self._push.pause_reading()
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
                replies.append(event.text)
            elif isinstance(event, Dropped):
                self.log.info("ocpp.dropped", message_id=event.message_id, reason=event.reason)
        return replies

    async def _serve_calls(self) -> None:
        """Answer the received calls one at a time, in order; ends when none is left."""
        try:
            while self._inbox:
                event = self._inbox.popleft()
                if self._reading_paused and len(self._inbox) <= INBOX_LOW:
                    self._reading_paused = False
                    assert self._push is not None
                    self._push.resume_reading()
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
        finally:
            self._worker = None

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
        push = self._push
        if push is None:
            with contextlib.suppress(ConnectionClosed):
                await self.websocket.send(text)
            return
        if push.send_now(text) and push.paused:
            # The peer reads slowly: wait for its socket buffer to drain.
            with contextlib.suppress(ConnectionClosed, OSError):
                await push.drain()

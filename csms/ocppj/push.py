"""A websockets server connection that pushes each received message to a callback.

websockets' own receive path is pull-based: a task iterates the connection, and while a
station is quiet (most of the time) that task, its async generator, the ``recv()`` coroutine
and the assembler's future wait for the next frame. Those few dozen objects are made anew for
every message, so with thousands of connections the garbage collector's young generation is
always full of them, and each young collection walks all of them (tens to hundreds of
milliseconds at 10,000 stations: the latency tail of docs/performance.md).

:class:`PushConnection` delivers each complete message from the protocol callback instead,
straight to the sink :class:`~csms.ocppj.connection.RpcConnection` attaches. A quiet connection
then holds no task and no coroutine at all for receiving, and a message costs no task switch
before it is parsed. Everything else (the opening handshake, TLS, close handshake, pings,
size limits, which websockets' sans-I/O protocol does before a frame reaches us) is websockets'
own; a text message that is not UTF-8 closes the connection with 1007 here, as websockets'
``recv()`` would.

Flow control: messages that arrive before a sink is attached (between the handshake and the
session's start) are kept, up to ``max_queue``, and reading pauses beyond that; the sink can
pause and resume reading too (:meth:`pause_reading`, :meth:`resume_reading`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from websockets.asyncio.server import ServerConnection
from websockets.frames import CloseCode, Frame, Opcode
from websockets.protocol import State

#: Receives each complete message: ``str`` for a text message, ``bytes`` for a binary one.
Sink = Callable[[str | bytes], None]


class PushConnection(ServerConnection):
    """See the module docstring. Use as ``serve(..., create_connection=PushConnection)``."""

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self._sink: Sink | None = None
        self._early: list[str | bytes] = []
        self._fragments: list[bytes] | None = None
        self._fragmented_text = False
        self._paused_by: set[str] = set()

    def attach(self, sink: Sink) -> None:
        """Deliver every message from now on (and those already received) to ``sink``."""
        early, self._early = self._early, []
        self._sink = sink
        self.resume_reading("early")
        for message in early:
            sink(message)

    @property
    def attached(self) -> bool:
        """True once a sink was attached (the connection became a session)."""
        return self._sink is not None

    def detach(self) -> None:
        """Stop delivering; later messages are dropped (the connection is ending)."""
        self._sink = _drop

    # -- flow control ----------------------------------------------------------------------

    def pause_reading(self, reason: str = "sink") -> None:
        """Stop reading from the socket until :meth:`resume_reading` with the same reason."""
        if not self._paused_by:
            self.transport.pause_reading()
        self._paused_by.add(reason)

    def resume_reading(self, reason: str = "sink") -> None:
        if reason in self._paused_by:
            self._paused_by.discard(reason)
            if not self._paused_by and not self.transport.is_closing():
                self.transport.resume_reading()

    # -- sending without a coroutine -------------------------------------------------------

    def send_now(self, text: str) -> bool:
        """Write a text message to the socket now; False when the connection is not open.

        The caller should ``await drain()`` when :attr:`paused` (the peer reads slowly).
        """
        if self.protocol.state is not State.OPEN:
            return False
        self.protocol.send_text(text.encode())
        try:
            self.send_data()
        except Exception as exc:  # OSError from the transport: the connection is lost
            self.set_connection_exc(exc)
            self.transport.abort()
            return False
        return True

    # -- websockets' callback --------------------------------------------------------------

    def process_event(self, event: Any) -> None:
        if not isinstance(event, Frame):  # the opening handshake's request
            super().process_event(event)
            return
        opcode = event.opcode
        if opcode is Opcode.TEXT or opcode is Opcode.BINARY:
            if event.fin:
                self._deliver(event.data, opcode is Opcode.TEXT)
            else:
                self._fragments = [bytes(event.data)]
                self._fragmented_text = opcode is Opcode.TEXT
        elif opcode is Opcode.CONT:
            # websockets' protocol guarantees a CONT follows an unfinished TEXT or BINARY,
            # and that the whole message stays within max_size.
            assert self._fragments is not None
            self._fragments.append(bytes(event.data))
            if event.fin:
                data, self._fragments = b"".join(self._fragments), None
                self._deliver(data, self._fragmented_text)
        elif opcode is Opcode.PONG:
            self.acknowledge_pings(bytes(event.data))

    def _deliver(self, data: bytes | bytearray | memoryview, text: bool) -> None:
        message: str | bytes
        if text:
            try:
                message = bytes(data).decode()
            except UnicodeDecodeError as exc:
                # RFC 6455 8.1: a text message that is not UTF-8 fails the connection (1007),
                # as websockets' own recv() does.
                self.set_connection_exc(exc)
                if self.protocol.state is State.OPEN:
                    self.protocol.fail(CloseCode.INVALID_DATA,
                                       f"{exc.reason} at position {exc.start}")
                    self.send_data()
                return
        else:
            message = bytes(data)
        if self._sink is not None:
            self._sink(message)
            return
        self._early.append(message)
        if self.max_queue_high is not None and len(self._early) >= self.max_queue_high:
            self.pause_reading("early")


def _drop(message: str | bytes) -> None:
    del message

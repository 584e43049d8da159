"""PushConnection: messages handed to the RpcConnection from the protocol callback, over a real
websocket on 127.0.0.1."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.asyncio.server import serve
from websockets.exceptions import ConnectionClosed

from csms.ocppj import RpcConnection
from csms.ocppj.connection import INBOX_HIGH
from csms.ocppj.push import PushConnection

HEARTBEAT_ANSWER = {"currentTime": "2026-01-01T00:00:00Z"}


def call(message_id: str, action: str = "Heartbeat", payload: Any = None) -> str:
    return json.dumps([2, message_id, action, {} if payload is None else payload])


async def serve_rpc(handlers: dict[str, Any], *, attach_after: float = 0.0,
                    seen: list[PushConnection] | None = None):
    async def handle(ws: PushConnection) -> None:
        assert isinstance(ws, PushConnection)
        if seen is not None:
            seen.append(ws)
        await asyncio.sleep(attach_after)  # a session's start-up work before it attaches
        await RpcConnection(ws, "2.0.1", handlers, call_timeout=2).run()

    return serve(handle, "127.0.0.1", 0, subprotocols=["ocpp2.0.1"],
                 create_connection=PushConnection, max_queue=8)


@contextlib.asynccontextmanager
async def station(handlers: dict[str, Any], **options: Any) -> AsyncIterator[ClientConnection]:
    """A client connected to :func:`serve_rpc` (``options`` go to it)."""
    async with await serve_rpc(handlers, **options) as server:
        port = server.sockets[0].getsockname()[1]
        async with connect(f"ws://127.0.0.1:{port}/x", subprotocols=["ocpp2.0.1"]) as ws:
            yield ws


async def heartbeat(payload: dict[str, Any]) -> dict[str, Any]:
    return HEARTBEAT_ANSWER


async def test_a_fragmented_message_is_reassembled() -> None:
    async with station({"Heartbeat": heartbeat}) as ws:
        text = call("frag-1")
        await ws.send([text[:5], text[5:12], text[12:]])  # three frames, one message
        assert json.loads(await ws.recv()) == [3, "frag-1", HEARTBEAT_ANSWER]
        await ws.send(call("whole-2"))  # and the next unfragmented one still works
        assert json.loads(await ws.recv()) == [3, "whole-2", HEARTBEAT_ANSWER]


async def test_messages_before_the_session_attaches_are_kept_in_order() -> None:
    """A station sends before the CSMS finished its connection bookkeeping: nothing is lost,
    even beyond max_queue (reading pauses instead)."""
    async with station({"Heartbeat": heartbeat}, attach_after=0.3) as ws:
        ids = [f"early-{i}" for i in range(20)]  # more than max_queue=8
        for message_id in ids:
            await ws.send(call(message_id))
        answers = [json.loads(await asyncio.wait_for(ws.recv(), 5)) for _ in ids]
        assert [a[1] for a in answers] == ids


async def test_a_flood_of_calls_pauses_reading_and_every_call_is_answered_in_order() -> None:
    """Against OCPP-J's one outstanding CALL, a peer sends many at once: the connection stops
    reading while the inbox is full, and every call is still answered, in order."""
    release = asyncio.Event()
    handled: list[str] = []
    seen: list[PushConnection] = []

    async def data_transfer(payload: dict[str, Any]) -> dict[str, Any]:
        await release.wait()
        handled.append(payload["messageId"])
        return {"status": "Accepted"}

    async with station({"DataTransfer": data_transfer}, seen=seen) as ws:
        count = INBOX_HIGH * 3
        for i in range(count):
            await ws.send(call(f"f{i}", "DataTransfer",
                               {"vendorId": "v", "messageId": str(i)}))
        await asyncio.sleep(0.3)
        connection = seen[0]
        assert not connection.transport.is_reading()  # paused: the inbox is full
        release.set()
        answers = [json.loads(await asyncio.wait_for(ws.recv(), 5)) for _ in range(count)]
        assert [a[1] for a in answers] == [f"f{i}" for i in range(count)]
        assert handled == [str(i) for i in range(count)]
        assert connection.transport.is_reading()  # resumed once drained


async def test_a_malformed_frame_is_answered_at_once_while_a_call_is_in_progress() -> None:
    release = asyncio.Event()

    async def data_transfer(payload: dict[str, Any]) -> dict[str, Any]:
        await release.wait()
        return {"status": "Accepted"}

    async with station({"DataTransfer": data_transfer}) as ws:
        await ws.send(call("slow", "DataTransfer", {"vendorId": "v"}))
        await ws.send('[2, "bad", "Heartbeat"')  # not JSON
        error = json.loads(await asyncio.wait_for(ws.recv(), 5))
        assert error[0] == 4 and error[2] == "FormatViolation"
        release.set()
        assert json.loads(await asyncio.wait_for(ws.recv(), 5))[1] == "slow"


async def test_a_text_message_that_is_not_utf8_closes_the_connection_with_1007() -> None:
    """RFC 6455 8.1, as websockets' own recv() does (found by test_fuzz_live_server.py)."""
    async with station({"Heartbeat": heartbeat}) as ws:
        await ws.send(b"\x80", text=True)
        with pytest.raises(ConnectionClosed) as closed:
            await asyncio.wait_for(ws.recv(), 5)
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 1007

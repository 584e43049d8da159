"""RpcConnection on both ends of a real websocket on 127.0.0.1."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import pytest
from websockets.asyncio.client import connect
from websockets.asyncio.server import serve
from websockets.exceptions import ConnectionClosed

from csms.ocppj import CallError, CallTimeout, OCPPError, RpcConnection
from csms.ocppj.push import PushConnection

#: The server side's websockets connection class in the current test (see ``server_kind``).
_SERVER_CONNECTION: list[type | None] = [None]


@pytest.fixture(autouse=True, params=["pulled", "pushed"])
def server_kind(request: pytest.FixtureRequest) -> None:
    """Every test runs with the server side reading by iteration (any websockets connection,
    as the simulators do) and with messages pushed by a PushConnection (as the CSMS does)."""
    _SERVER_CONNECTION[0] = PushConnection if request.param == "pushed" else None


@contextlib.asynccontextmanager
async def pair(server_handlers, client_handlers, version="2.0.1") -> AsyncIterator[tuple]:
    """Yield (server_side, client_side) RpcConnections joined by a websocket."""
    server_side: asyncio.Future[RpcConnection] = asyncio.get_running_loop().create_future()

    async def handle(ws) -> None:
        rpc = RpcConnection(ws, version, server_handlers(lambda: rpc), call_timeout=2)
        server_side.set_result(rpc)
        await rpc.run()

    async with serve(handle, "127.0.0.1", 0, subprotocols=[f"ocpp{version}"],
                     create_connection=_SERVER_CONNECTION[0]) as server:
        port = server.sockets[0].getsockname()[1]
        async with connect(f"ws://127.0.0.1:{port}/x", subprotocols=[f"ocpp{version}"]) as ws:
            client = RpcConnection(ws, version, client_handlers, call_timeout=2)
            runner = asyncio.create_task(client.run())
            try:
                yield await server_side, client
            finally:
                await ws.close()
                await runner


async def test_a_handler_may_call_the_peer_and_get_its_answer() -> None:
    """The reader keeps reading while a handler waits: no deadlock."""

    def server_handlers(rpc):
        async def boot(payload):
            status = await rpc().call("GetVariables", {"getVariableData": [
                {"component": {"name": "OCPPCommCtrlr"}, "variable": {"name": "HeartbeatInterval"}}
            ]})
            assert status["getVariableResult"][0]["attributeStatus"] == "Accepted"
            return {"currentTime": "2026-01-01T00:00:00Z", "interval": 60, "status": "Accepted"}
        return {"BootNotification": boot}

    async def get_variables(payload):
        return {"getVariableResult": [{
            "attributeStatus": "Accepted", "attributeValue": "60",
            "component": {"name": "OCPPCommCtrlr"}, "variable": {"name": "HeartbeatInterval"}}]}

    async with pair(server_handlers, {"GetVariables": get_variables}) as (_, station):
        answer = await station.call("BootNotification", {
            "reason": "PowerUp", "chargingStation": {"model": "m", "vendorName": "v"}})
        assert answer["status"] == "Accepted"


async def test_handler_ocpp_error_and_crash_become_callerrors() -> None:
    def server_handlers(rpc):
        async def heartbeat(payload):
            raise OCPPError("SecurityError", "not now")

        async def authorize(payload):
            raise RuntimeError("bug")
        return {"Heartbeat": heartbeat, "Authorize": authorize}

    async with pair(server_handlers, {}) as (_, station):
        with pytest.raises(CallError) as err:
            await station.call("Heartbeat", {})
        assert err.value.code == "SecurityError" and err.value.description == "not now"
        with pytest.raises(CallError) as err:
            await station.call("Authorize", {"idToken": {"idToken": "A", "type": "ISO14443"}})
        assert err.value.code == "InternalError"
        # An action this side has no handler for: NotSupported, and the link lives on.
        with pytest.raises(CallError) as err:
            await station.call("StatusNotification", {
                "timestamp": "2026-01-01T00:00:00Z", "connectorStatus": "Available",
                "evseId": 1, "connectorId": 1})
        assert err.value.code == "NotSupported"


async def test_invalid_handler_response_is_answered_as_internal_error() -> None:
    def server_handlers(rpc):
        async def heartbeat(payload):
            return {"currentTime": "not a time"}
        return {"Heartbeat": heartbeat}

    async with pair(server_handlers, {}) as (_, station):
        with pytest.raises(CallError) as err:
            await station.call("Heartbeat", {})
        assert err.value.code == "InternalError"


async def test_unanswered_call_times_out_and_a_late_answer_is_dropped() -> None:
    release = asyncio.Event()

    def server_handlers(rpc):
        async def heartbeat(payload):
            await release.wait()
            return {"currentTime": "2026-01-01T00:00:00Z"}
        return {"Heartbeat": heartbeat}

    async with pair(server_handlers, {}) as (_, station):
        with pytest.raises(CallTimeout):
            await station.call("Heartbeat", {}, timeout=0.2)
        release.set()
        # The late answer to the first call must not be taken for the second one's.
        answer = await station.call("Heartbeat", {}, timeout=2)
        assert answer == {"currentTime": "2026-01-01T00:00:00Z"}


async def test_calls_from_several_tasks_go_out_one_at_a_time() -> None:
    in_flight = 0
    peak = 0

    def server_handlers(rpc):
        async def heartbeat(payload):
            nonlocal in_flight, peak
            in_flight += 1
            peak = max(peak, in_flight)
            await asyncio.sleep(0.01)
            in_flight -= 1
            return {"currentTime": "2026-01-01T00:00:00Z"}
        return {"Heartbeat": heartbeat}

    async with pair(server_handlers, {}) as (_, station):
        results = await asyncio.gather(*(station.call("Heartbeat", {}) for _ in range(10)))
        assert len(results) == 10 and peak == 1


async def test_pending_call_fails_when_the_socket_closes() -> None:
    def server_handlers(rpc):
        async def heartbeat(payload):
            await rpc().websocket.close()
            return {"currentTime": "2026-01-01T00:00:00Z"}
        return {"Heartbeat": heartbeat}

    async with pair(server_handlers, {}) as (_, station):
        with pytest.raises(ConnectionClosed):
            await station.call("Heartbeat", {}, timeout=5)

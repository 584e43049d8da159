"""Connection limits against a live node: handshake timeout, message size, connection count,
failed-login limiting per address and per identity."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator

import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from csms.config import ServerConfig
from csms.server import CentralSystem
from csms.store import stations
from tests.server.conftest import basic, endpoint
from tests.server.helpers import until

#: Fault tests log many tracebacks: plain lines keep them cheap.
pytestmark = pytest.mark.usefixtures("plain_logs")

PASSWORD = "correct-horse-battery-9"


async def _open(node: CentralSystem, identity: str, password: str = PASSWORD,
                **kw: object) -> ClientConnection:
    return await connect(f"{endpoint(node)}/{identity}", subprotocols=["ocpp2.0.1"],
                         additional_headers=basic(identity, password), open_timeout=10,
                         **kw)  # type: ignore[arg-type]


async def _heartbeat(ws: ClientConnection, message_id: str = "hb") -> list[object]:
    await ws.send(json.dumps([2, message_id, "Heartbeat", {}]))
    return json.loads(await asyncio.wait_for(ws.recv(), 30))


async def _status(node: CentralSystem, identity: str, password: str = PASSWORD,
                  **kw: object) -> int:
    with pytest.raises(InvalidStatus) as refused:
        await _open(node, identity, password, **kw)
    return refused.value.response.status_code


@pytest.fixture
def server_config(server_config: ServerConfig) -> ServerConfig:
    """Small limits, so that tests reach them quickly."""
    server_config.handshake_timeout = 0.5
    server_config.max_message_size = 16 * 1024
    server_config.max_connections = 3
    server_config.max_auth_failures = 3
    return server_config


@pytest.fixture
async def bystander(csms: CentralSystem) -> AsyncIterator[ClientConnection]:
    """A station connected throughout the test; whatever others do must not disturb it."""
    assert csms.pool is not None
    for identity in ("CP-A", "CP-B", "CP-C", "CP-BY"):
        await stations.register_station(csms.pool, identity, PASSWORD)
    ws = await _open(csms, "CP-BY")
    yield ws
    assert (await _heartbeat(ws, "last"))[:2] == [3, "last"]
    await ws.close()


async def test_a_client_that_never_completes_the_upgrade_is_dropped(
        server_config: ServerConfig, bystander: ClientConnection,
        csms: CentralSystem) -> None:
    assert server_config.handshake_timeout == 0.5
    silent = await asyncio.open_connection("127.0.0.1", csms.port)
    slow = await asyncio.open_connection("127.0.0.1", csms.port)
    slow[1].write(b"GET /ocpp/CP-A HTTP/1.1\r\nHost: 127.0.0.1\r\n")  # never finished
    for reader, writer in (silent, slow):
        # The server closes the socket (EOF) once the handshake timeout has passed.
        assert await asyncio.wait_for(reader.read(), 30) == b""
        writer.close()
    assert (await _heartbeat(bystander))[0] == 3


@pytest.mark.parametrize("compression", [None, "deflate"])
async def test_a_message_over_the_size_limit_closes_only_that_socket_with_1009(
        csms: CentralSystem, bystander: ClientConnection, compression: str | None) -> None:
    ws = await _open(csms, "CP-A", compression=compression)
    # Compressed, 4 MB of one letter is a few kB on the wire: the limit is on the message.
    huge = json.dumps([2, "big", "Heartbeat", {"pad": "a" * 4_000_000}])
    await ws.send(huge)
    with pytest.raises(ConnectionClosed) as closed:
        await asyncio.wait_for(ws.recv(), 30)
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 1009
    assert (await _heartbeat(bystander))[0] == 3
    # The station may come straight back.
    async with await _open(csms, "CP-A") as again:
        assert (await _heartbeat(again))[0] == 3


async def test_connections_over_the_limit_get_503_but_a_reconnect_is_taken(
        csms: CentralSystem, bystander: ClientConnection) -> None:
    a = await _open(csms, "CP-A")
    b = await _open(csms, "CP-B")
    await until(lambda: len(csms.sessions) == 3, what="three sessions")
    assert await _status(csms, "CP-C") == 503
    # The same identity connecting again replaces its own socket; it is not a new station.
    again = await _open(csms, "CP-B")
    assert (await _heartbeat(again))[0] == 3
    with pytest.raises(ConnectionClosed):
        await asyncio.wait_for(b.recv(), 30)
    for ws in (a, again):
        await ws.close()
    await until(lambda: len(csms.sessions) == 1, what="sessions closed")
    async with await _open(csms, "CP-C") as c:
        assert (await _heartbeat(c))[0] == 3


async def test_failed_logins_are_limited_per_address(
        csms: CentralSystem, bystander: ClientConnection) -> None:
    # Guessing across identities from one address: the address is blocked, for any identity.
    assert [await _status(csms, f"GUESS-{n}", "wrong-password-00001") for n in range(3)] == [
        401, 401, 401]
    assert await _status(csms, "CP-A") == 429
    # Another address is not affected.
    async with await _open(csms, "CP-A", local_addr=("127.0.0.2", 0)) as ws:
        assert (await _heartbeat(ws))[0] == 3


async def test_failed_logins_are_limited_per_identity(
        csms: CentralSystem, bystander: ClientConnection) -> None:
    # Guessing one identity's password from many addresses: the identity is blocked.
    statuses = [await _status(csms, "CP-B", "wrong-password-00001",
                              local_addr=(f"127.0.0.{n}", 0)) for n in range(10, 13)]
    assert statuses == [401, 401, 401]
    assert await _status(csms, "CP-B", local_addr=("127.0.0.20", 0)) == 429
    async with await _open(csms, "CP-A", local_addr=("127.0.0.21", 0)) as ws:
        assert (await _heartbeat(ws))[0] == 3

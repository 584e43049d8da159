"""Graceful shutdown of ``csms serve`` (SIGTERM) and half-open station sockets (ping timeout)."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from pathlib import Path

import asyncpg
import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from csms.config import ServerConfig
from csms.server import CentralSystem
from csms.store import stations
from csms.store.db import open_pool
from tests.server.conftest import basic, endpoint
from tests.server.helpers import CsmsProcess, until

#: Fault tests log many tracebacks: plain lines keep them cheap.
pytestmark = pytest.mark.usefixtures("plain_logs")

PASSWORD = "correct-horse-battery-7"
BOOT = {"reason": "PowerUp", "chargingStation": {"model": "FE-20", "vendorName": "Fermata"}}


async def _open(url: str, identity: str, **kw: object) -> ClientConnection:
    return await connect(f"{url}/{identity}", subprotocols=["ocpp2.0.1"],
                         additional_headers=basic(identity, PASSWORD), open_timeout=10,
                         **kw)  # type: ignore[arg-type]


async def _call(ws: ClientConnection, message_id: str, action: str, payload: dict) -> list:
    await ws.send(json.dumps([2, message_id, action, payload]))
    return json.loads(await asyncio.wait_for(ws.recv(), 30))


def _started(transaction_id: str) -> dict:
    return {"eventType": "Started", "timestamp": datetime.now(UTC).isoformat(),
            "triggerReason": "CablePluggedIn", "seqNo": 0, "evse": {"id": 1, "connectorId": 1},
            "transactionInfo": {"transactionId": transaction_id}}


async def test_sigterm_stops_accepting_finishes_the_message_in_hand_and_closes_with_1001(
        database_url: str, tmp_path: Path) -> None:
    pool = await open_pool(database_url)
    await stations.register_station(pool, "CP-T", PASSWORD)
    csms = CsmsProcess(database_url, tmp_path / "csms.log")
    blocker = await asyncpg.connect(database_url)
    try:
        await csms.start()
        ws = await _open(csms.url, "CP-T")
        assert (await _call(ws, "b", "BootNotification", BOOT))[2]["status"] == "Accepted"
        # Hold the transactions table so that the next TransactionEvent is being handled,
        # waiting on the database, when the signal arrives.
        tx = blocker.transaction()
        await tx.start()
        await blocker.execute("LOCK TABLE transactions IN EXCLUSIVE MODE")
        await ws.send(json.dumps([2, "in-hand", "TransactionEvent", _started("T-1")]))
        await until(lambda: pool.fetchval(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
            " AND wait_event_type = 'Lock'"), what="TransactionEvent waiting on the lock")
        assert csms.proc is not None
        csms.proc.terminate()
        await until(lambda: csms.events("shutting_down"), what="shutdown begun")
        # No new connections are accepted any more ...
        with pytest.raises(OSError):
            await _open(csms.url, "CP-T")
        await tx.commit()
        # ... the message in hand is answered, then the socket closes with 1001 (going away).
        answer = json.loads(await asyncio.wait_for(ws.recv(), 30))
        assert answer[:2] == [3, "in-hand"]
        with pytest.raises(ConnectionClosed) as closed:
            await asyncio.wait_for(ws.recv(), 30)
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 1001
        assert await asyncio.wait_for(csms.proc.wait(), 60) == 0
        assert await pool.fetchval(
            "SELECT count(*) FROM transaction_events WHERE transaction_id = 'T-1'") == 1
        detail = await stations.get_station(pool, "CP-T")
        assert detail is not None and not detail.connected
    finally:
        await csms.stop()
        await blocker.close()
        await pool.close()


@pytest.fixture
def server_config(server_config: ServerConfig) -> ServerConfig:
    """Pings every half second, a half second to answer, a half second to close."""
    server_config.ping_interval = 0.5
    server_config.ping_timeout = 0.5
    server_config.close_timeout = 0.5
    return server_config


async def _connected(csms: CentralSystem, identity: str) -> bool:
    assert csms.pool is not None
    detail = await stations.get_station(csms.pool, identity)
    return detail is not None and detail.connected


async def _offline(csms: CentralSystem, identity: str) -> bool:
    return not await _connected(csms, identity)


async def test_half_open_station_is_found_by_ping_timeout_and_may_reconnect(
        csms: CentralSystem) -> None:
    assert csms.pool is not None
    await stations.register_station(csms.pool, "CP-H", PASSWORD)
    ws = await _open(endpoint(csms), "CP-H", ping_interval=None)
    assert (await _call(ws, "b", "BootNotification", BOOT))[2]["status"] == "Accepted"
    assert await _connected(csms, "CP-H")
    # The station stops reading and answering, without closing anything.
    ws.transport.pause_reading()
    await until(lambda: "CP-H" not in csms.sessions, what="ping timeout")
    await until(lambda: _offline(csms, "CP-H"), what="marked offline")
    async with await _open(endpoint(csms), "CP-H") as again:
        assert (await _call(again, "b2", "BootNotification", BOOT))[2]["status"] == "Accepted"
        assert await _connected(csms, "CP-H")
    ws.transport.abort()


async def test_reconnect_is_taken_at_once_while_the_old_socket_is_still_half_open(
        csms: CentralSystem) -> None:
    assert csms.pool is not None
    await stations.register_station(csms.pool, "CP-H2", PASSWORD)
    old = await _open(endpoint(csms), "CP-H2", ping_interval=None)
    assert (await _call(old, "b", "BootNotification", BOOT))[2]["status"] == "Accepted"
    old.transport.pause_reading()
    old_session = csms.sessions["CP-H2"]
    # The station comes back on a new socket before the CSMS has noticed the old one is dead.
    async with await _open(endpoint(csms), "CP-H2") as new:
        assert (await _call(new, "b2", "BootNotification", BOOT))[2]["status"] == "Accepted"
        assert csms.sessions["CP-H2"] is not old_session
        await until(lambda: old_session.websocket.state.name == "CLOSED", what="old closed")
        # The old socket's end does not mark the station offline: the new one holds it.
        assert await _connected(csms, "CP-H2")
        assert (await _call(new, "h", "Heartbeat", {}))[0] == 3
    old.transport.abort()

"""A live CSMS node on 127.0.0.1 (real sockets, real PostgreSQL) and helpers to reach it."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from websockets.asyncio.client import ClientConnection, connect

from csms.config import ServerConfig
from csms.server import CentralSystem
from csms.store import stations

PASSWORD = "correct-horse-battery"
BOOT = {"reason": "PowerUp", "chargingStation": {"model": "FE-20", "vendorName": "Fermata"}}


def basic(user: str, password: str) -> dict[str, str]:
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


@pytest.fixture
def server_config(database_url: str) -> ServerConfig:
    return ServerConfig(host="127.0.0.1", port=0, database_url=database_url,
                        heartbeat_interval=60, call_timeout=5.0, ping_interval=None,
                        ping_timeout=None)


@pytest.fixture
async def csms(server_config: ServerConfig):
    system = CentralSystem(server_config)
    await system.start()
    try:
        yield system
    finally:
        await system.stop()


@pytest.fixture
async def station_id(csms: CentralSystem) -> str:
    """A registered station (security profile 1) named CP-1."""
    await stations.register_station(csms.pool, "CP-1", PASSWORD)
    return "CP-1"


def url(system: CentralSystem, identity: str, prefix: str = "/ocpp/") -> str:
    return f"ws://127.0.0.1:{system.port}{prefix}{identity}"


async def open_station(
    system: CentralSystem,
    identity: str,
    password: str = PASSWORD,
    subprotocols: tuple[str, ...] = ("ocpp2.0.1",),
    username: str | None = None,
) -> ClientConnection:
    return await connect(url(system, identity), subprotocols=list(subprotocols),
                         additional_headers=basic(username or identity, password),
                         open_timeout=5)


async def exchange(ws: ClientConnection, frame: Any) -> list[Any]:
    """Send one frame (a list, or raw text) and return the decoded answer."""
    await ws.send(frame if isinstance(frame, str | bytes) else json.dumps(frame))
    return json.loads(await ws.recv())

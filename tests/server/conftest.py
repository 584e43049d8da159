"""Helpers to reach the live CSMS node of ``tests/conftest.py`` (real sockets, real PostgreSQL)."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from websockets.asyncio.client import ClientConnection, connect

from csms.server import CentralSystem
from csms.store import stations
from tests.conftest import PASSWORD

BOOT = {"reason": "PowerUp", "chargingStation": {"model": "FE-20", "vendorName": "Fermata"}}


def basic(user: str, password: str) -> dict[str, str]:
    """An HTTP Basic Authorization header."""
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


@pytest.fixture
async def station_id(csms: CentralSystem) -> str:
    """A registered station (security profile 1) named CP-1."""
    await stations.register_station(csms.pool, "CP-1", PASSWORD)
    return "CP-1"


def endpoint(node: CentralSystem) -> str:
    """The OCPP endpoint of a node; a station appends ``/<identity>``."""
    return f"ws://127.0.0.1:{node.port}/ocpp"


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

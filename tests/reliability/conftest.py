"""A live CSMS node in the test's event loop (real sockets, real PostgreSQL)."""

from __future__ import annotations

import asyncio
import tempfile
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from csms.config import ServerConfig
from csms.server import CentralSystem
from tests.reliability.cluster import Cluster
from tests.reliability.helpers import plain_logging


@pytest.fixture(autouse=True)
def _plain_logs() -> Iterator[None]:
    with plain_logging():
        yield


@pytest.fixture
def server_config(database_url: str) -> ServerConfig:
    """Settings for a node on a free port of 127.0.0.1; tests adjust them before starting."""
    return ServerConfig(host="127.0.0.1", port=0, database_url=database_url,
                        heartbeat_interval=60, call_timeout=5.0, ping_interval=None,
                        ping_timeout=None)


@pytest.fixture
async def system(server_config: ServerConfig) -> AsyncIterator[CentralSystem]:
    """A started node; stopped when the test ends."""
    node = CentralSystem(server_config)
    await node.start()
    try:
        yield node
    finally:
        await node.stop()


def endpoint(node: CentralSystem) -> str:
    """The OCPP endpoint of a node; a station appends ``/<identity>``."""
    return f"ws://127.0.0.1:{node.port}/ocpp"


@pytest.fixture
async def cluster() -> AsyncIterator[Cluster]:
    """A PostgreSQL cluster of the test's own, which the test may stop and start."""
    directory = Path(tempfile.mkdtemp(prefix="csms-test-restart-"))
    own = await asyncio.to_thread(Cluster, directory)
    try:
        yield own
    finally:
        await asyncio.to_thread(own.remove)

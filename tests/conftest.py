"""Fixtures shared by every test: a real PostgreSQL and a fresh database per test, a live CSMS
node, and simulated stations connected to it.

The server is the embedded PostgreSQL in a temporary directory, or the one named by
``CSMS_DATABASE_URL``. Each test that asks for ``database_url`` gets a database of its own,
created empty and dropped afterwards; ``migrated_url`` and ``pool`` give one with the schema.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import os
import shutil
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import pytest

from csms.config import ServerConfig
from csms.logging import configure_logging
from csms.server import CentralSystem
from csms.store import charging, commands, stations
from csms.store.db import open_pool
from csms.store.embedded import start_embedded
from simulators.battery import LEAF_40, Battery
from simulators.charger import ChargerSpec
from simulators.evse import EVVisit
from simulators.station import Station, StationConfig
from tests.server.cluster import Cluster
from tests.server.helpers import plain_logging
from tests.store.fixtures import migrated_template, migrated_url

__all__ = ["migrated_template", "migrated_url"]

# Every frame at debug level would flood the captured output and slow the suite; tests that
# look at log lines configure what they need themselves.
configure_logging("info")


def _with_database(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, "/" + name, parts.query, parts.fragment))


@pytest.fixture(autouse=True)
def _logging_kept():
    """Put back the logging configuration after each test: a command run in the test process
    (the CLI tests) configures structlog on its captured output stream, which is closed once
    the command ends; later tests must not log to it."""
    import logging

    import structlog

    saved = structlog.get_config()
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    structlog.configure(**saved)
    root.handlers[:] = handlers
    root.setLevel(level)


@pytest.fixture(scope="session")
def pg_server_url() -> str:
    """URL of the PostgreSQL server the tests use (its maintenance database).

    The embedded cluster lives in a directory of its own rather than under pytest's temporary
    base, which pytest prunes when other test sessions start on the same machine.
    """
    url = os.environ.get("CSMS_DATABASE_URL")
    if url:
        return url
    directory = tempfile.mkdtemp(prefix="csms-test-pg-")
    # Registered before the server's own exit hook, so it runs after the server has stopped.
    atexit.register(shutil.rmtree, directory, True)
    return start_embedded(Path(directory), cleanup_mode="delete")


@contextlib.asynccontextmanager
async def new_database(pg_server_url: str) -> AsyncIterator[str]:
    """A fresh, empty database on the test server, dropped on leaving; yields its URL."""
    name = "t_" + uuid.uuid4().hex[:16]
    admin = await asyncpg.connect(pg_server_url)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    try:
        yield _with_database(pg_server_url, name)
    finally:
        admin = await asyncpg.connect(pg_server_url)
        try:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await admin.close()


@pytest.fixture
async def database_url(pg_server_url: str):
    """A fresh, empty database for one test; dropped when the test ends."""
    async with new_database(pg_server_url) as url:
        yield url


@pytest.fixture
async def pool(migrated_url: str):
    """A pool on a fresh, migrated database."""
    p = await open_pool(migrated_url, min_size=1, max_size=4)
    yield p
    await p.close()


@pytest.fixture
def plain_logs() -> Iterator[None]:
    """Plain key=value log lines for the test (fault tests log many tracebacks)."""
    with plain_logging():
        yield


@pytest.fixture
async def cluster() -> AsyncIterator[Cluster]:
    """A PostgreSQL cluster of the test's own (the embedded server's binaries), which the test
    may stop and start without disturbing any other test."""
    directory = Path(tempfile.mkdtemp(prefix="csms-test-restart-"))
    own = await asyncio.to_thread(Cluster, directory)
    try:
        yield own
    finally:
        await asyncio.to_thread(own.remove)


# -- a live node and simulated stations ------------------------------------------------------

#: The password of the stations the tests register.
PASSWORD = "correct-horse-battery"
QUICK = ChargerSpec(model="FE-20", vendor="Fermata Energy", max_charge_kw=20.0,
                    max_discharge_kw=20.0, latency_s=0.2, ramp_kw_per_s=40.0)
T = TypeVar("T")


@pytest.fixture
def server_config(database_url: str) -> ServerConfig:
    """Settings for a node on a free port of 127.0.0.1; tests adjust them before starting."""
    return ServerConfig(host="127.0.0.1", port=0, database_url=database_url,
                        heartbeat_interval=60, call_timeout=5.0, ping_interval=None,
                        ping_timeout=None)


@contextlib.asynccontextmanager
async def started(config: ServerConfig) -> AsyncIterator[CentralSystem]:
    """A node started with ``config``; stopped after the block."""
    system = CentralSystem(config)
    await system.start()
    try:
        yield system
    finally:
        await system.stop()


@pytest.fixture
async def csms(server_config: ServerConfig) -> AsyncIterator[CentralSystem]:
    """A started node; stopped when the test ends."""
    async with started(server_config) as system:
        yield system


def open_config(database_url: str, **settings: Any) -> ServerConfig:
    """Settings for a node on a free port of 127.0.0.1 admitting any station (auto-register),
    with ``settings`` (ServerConfig fields) over these defaults."""
    return ServerConfig(**{
        "host": "127.0.0.1", "port": 0, "database_url": database_url, "auto_register": True,
        "heartbeat_interval": 60, "call_timeout": 10.0, **settings})


@contextlib.asynccontextmanager
async def central_system(database_url: str, **settings: Any) -> AsyncIterator[CentralSystem]:
    """A running node of :func:`open_config` settings."""
    async with started(open_config(database_url, **settings)) as system:
        yield system


async def until(probe: Callable[[], Awaitable[T]], timeout: float = 15.0) -> T:
    """Poll ``probe`` until it returns something truthy; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = await probe()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout} s")
        await asyncio.sleep(0.05)


@dataclass
class Running:
    """A simulated station connected to the CSMS, and the transaction on its EVSE 1."""

    station: Station
    transaction_id: str | None

    @property
    def id(self) -> str:
        return self.station.id


StartStation = Callable[..., Awaitable[Running]]


@pytest.fixture
async def start_station(csms: CentralSystem) -> AsyncIterator[StartStation]:
    """Register and start a simulated station; with ``plugged`` an EV arrives at once and the
    call returns when the CSMS has its transaction."""
    tasks: list[tuple[Station, asyncio.Task[None]]] = []
    assert csms.pool is not None
    pool = csms.pool

    async def start(station_id: str = "SIM1", *, version: str = "2.0.1", plugged: bool = True,
                    **kw: Any) -> Running:
        await stations.register_station(pool, station_id, PASSWORD)
        config = StationConfig(station_id=station_id, url=f"ws://127.0.0.1:{csms.port}/ocpp",
                               password=PASSWORD, version=version, charger=QUICK,
                               meter_interval_s=60, control_interval_s=0.1, backoff_min_s=0.1,
                               backoff_random_s=0.1, report_grace_s=0.2, **kw)
        if plugged:
            battery = Battery(LEAF_40, soc=0.6, floor_soc=0.2)
            config.arrivals.append((0.0, EVVisit(battery, departure_at=time.time() + 7200,
                                                 token_type="NoAuthorization")))
        station = Station(config)
        tasks.append((station, asyncio.create_task(station.run())))
        await until(lambda: commands.station_online(pool, station_id))
        tx = None
        if plugged:
            active = await until(lambda: charging.active_transaction(pool, station_id, 1))
            tx = active[0]
        return Running(station, tx)

    yield start
    for station, _ in tasks:
        station.stop()
    for _, task in tasks:
        with contextlib.suppress(asyncio.CancelledError, TimeoutError):
            await asyncio.wait_for(task, 5)

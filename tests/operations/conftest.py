"""End-to-end fixtures of the operations tests: the live node (``csms``) admits any station,
and fleets of simulated stations connect to it on 127.0.0.1."""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass

import asyncpg
import pytest

from csms.config import ServerConfig
from csms.operations import Operations
from csms.server import CentralSystem
from csms.store.stations import get_station
from simulators.scenario import Distribution, Scenario
from simulators.simulated_fleet import Fleet, FleetOptions, build_configs
from simulators.station import Station, StationConfig
from tests.conftest import open_config

FLEET_PASSWORD = "fleet-password-0001"


@pytest.fixture
def server_config(database_url: str) -> ServerConfig:
    """The end-to-end node (the ``csms`` fixture) admits any station: fleets connect without
    being registered one by one."""
    return open_config(database_url)


def fleet_configs(system: CentralSystem, count: int, prefix: str, *, ocpp: str = "2.0.1",
                  seed: int = 1, scenario: Scenario | None = None,
                  meter_interval_s: int = 2) -> list[StationConfig]:
    options = FleetOptions(url=f"ws://127.0.0.1:{system.port}/ocpp", stations=count,
                           id_prefix=prefix, password=FLEET_PASSWORD, ocpp=ocpp, seed=seed,
                           control_interval_s=0.5)
    configs = build_configs(options, scenario or Scenario(meter_interval_s=meter_interval_s))
    for config in configs:
        config.meter_interval_s = meter_interval_s
    return configs


@contextlib.asynccontextmanager
async def running(fleet: Fleet, *, stop_within: float | None = None) -> AsyncIterator[Fleet]:
    """``fleet`` running in a task for the block, cancelled after it (Fleet.run without a
    duration runs until cancelled and stops its stations on the way out). With
    ``stop_within``, waiting for that takes at most so many seconds and an error on the way
    out is ignored (the test has its results by then)."""
    task = asyncio.create_task(fleet.run())
    try:
        yield fleet
    finally:
        task.cancel()
        if stop_within is None:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        else:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await asyncio.wait_for(task, stop_within)


async def wait_for(predicate, timeout: float, interval: float = 0.25):
    """Poll an async predicate until it returns something truthy; fail after ``timeout``."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        value = await predicate()
        if value:
            return value
        if loop.time() > deadline:
            raise AssertionError(f"condition not met within {timeout} s")
        await asyncio.sleep(interval)


async def run_cli(*args: str, timeout: float = 60) -> tuple[int, str, str]:
    """Run the ``csms`` command line in its own process."""
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "csms", *args,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        env={**os.environ, "CSMS_DATABASE_URL": ""},
    )
    out, err = await asyncio.wait_for(process.communicate(), timeout)
    return process.returncode, out.decode(), err.decode()


@contextlib.asynccontextmanager
async def idle_station(system: CentralSystem, prefix: str, *,
                       ocpp: str = "2.0.1") -> AsyncIterator[Station]:
    """One simulated station ``<prefix>1`` with no car due, connected, booted, and its
    connector's status reported to ``system``."""
    configs = fleet_configs(system, 1, prefix, ocpp=ocpp,
                            scenario=Scenario(arrival_s=Distribution("fixed", 86_400.0)))
    fleet = Fleet(configs)
    station = fleet.stations[0]
    async with running(fleet):
        async def reported() -> bool:
            row = await get_station(system.pool, station.id)
            return bool(row and row.connected and row.connectors and station.online)

        await wait_for(reported, 30)
        yield station


@dataclass
class StationSite:
    """A node's pool and an Operations on it, with one simulated station it holds."""

    pool: asyncpg.Pool
    ops: Operations
    station: Station
    database_url: str

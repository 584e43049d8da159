"""A real CSMS node on 127.0.0.1 and simulated stations connected to it over real sockets."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import pytest

from csms.config import ServerConfig
from csms.server import CentralSystem
from csms.store import charging, commands, stations
from simulators.battery import LEAF_40, Battery
from simulators.charger import ChargerSpec
from simulators.evse import EVVisit
from simulators.station import Station, StationConfig

PASSWORD = "correct-horse-battery"
QUICK = ChargerSpec(model="FE-20", vendor="Fermata Energy", max_charge_kw=20.0,
                    max_discharge_kw=20.0, latency_s=0.2, ramp_kw_per_s=40.0)
T = TypeVar("T")


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


@pytest.fixture
async def csms(database_url: str) -> AsyncIterator[CentralSystem]:
    config = ServerConfig(host="127.0.0.1", port=0, database_url=database_url,
                          heartbeat_interval=60, call_timeout=5.0, ping_interval=None,
                          ping_timeout=None)
    system = CentralSystem(config)
    await system.start()
    try:
        yield system
    finally:
        await system.stop()


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

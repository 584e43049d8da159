"""A live CSMS node and simulated stations for the API tests that reach a station."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator

from csms.server import CentralSystem
from simulators.battery import LEAF_40, Battery
from simulators.charger import ChargerSpec
from simulators.evse import EVVisit
from simulators.station import Station, StationConfig
from tests.conftest import central_system

PASSWORD = "station-password-0001"
QUICK = ChargerSpec(model="FE-20", vendor="Fermata Energy", max_charge_kw=20.0,
                    max_discharge_kw=20.0, latency_s=0.2, ramp_kw_per_s=40.0)


def node(database_url: str) -> contextlib.AbstractAsyncContextManager[CentralSystem]:
    """A CSMS node admitting any station (auto-register), without WebSocket pings."""
    return central_system(database_url, ping_interval=None, ping_timeout=None)


@contextlib.asynccontextmanager
async def station(system: CentralSystem, station_id: str, *, car: bool = False,
                  version: str = "2.0.1") -> AsyncIterator[Station]:
    """A simulated station connected to ``system`` (with a car plugged in, if ``car``)."""
    config = StationConfig(station_id=station_id, url=f"ws://127.0.0.1:{system.port}/ocpp",
                           password=PASSWORD, version=version, charger=QUICK,
                           meter_interval_s=1, control_interval_s=0.1, backoff_min_s=0.1,
                           backoff_random_s=0.1, report_grace_s=0.5, ping_interval_s=None)
    if car:
        config.arrivals.append((0.0, EVVisit(Battery(LEAF_40, soc=0.6, floor_soc=0.2),
                                             departure_at=time.time() + 3600)))
    sim = Station(config)
    task = asyncio.create_task(sim.run())
    try:
        yield sim
    finally:
        sim.stop()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await asyncio.wait_for(task, 10)


async def until(predicate, timeout: float = 20.0, interval: float = 0.05):
    """Poll an async predicate until it is truthy; fail after ``timeout``."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        value = await predicate()
        if value:
            return value
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"not within {timeout} s")
        await asyncio.sleep(interval)

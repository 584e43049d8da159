"""Fixtures for the simulator tests: a minimal CSMS and stations that run in the test's loop."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Callable

import pytest

from simulators.battery import LEAF_40, Battery
from simulators.charger import ChargerSpec
from simulators.evse import EVVisit
from simulators.station import Station, StationConfig
from tests.simulators.minicsms import MiniCsms

# Fast dynamics so that tests see a setpoint followed within a second or two.
QUICK_FE20 = ChargerSpec(model="FE-20", vendor="Fermata Energy", max_charge_kw=20.0,
                         max_discharge_kw=20.0, latency_s=0.3, ramp_kw_per_s=40.0)


@pytest.fixture
async def csms() -> AsyncIterator[MiniCsms]:
    server = MiniCsms()
    await server.start()
    yield server
    await server.stop()


def leaf_visit(soc: float = 0.6, floor: float = 0.2, stay_s: float = 3600.0) -> EVVisit:
    """A LEAF 40 plugged in now, leaving after ``stay_s``."""
    return EVVisit(Battery(LEAF_40, soc=soc, floor_soc=floor), departure_at=time.time() + stay_s)


StationFactory = Callable[..., Station]


@pytest.fixture
async def run_station(csms: MiniCsms) -> AsyncIterator[StationFactory]:
    """Start stations against the test CSMS; all stopped when the test ends."""
    tasks: list[tuple[Station, asyncio.Task[None]]] = []

    def start(station_id: str = "SIM1", *, visit: EVVisit | None = None, **kw: object) -> Station:
        kw.setdefault("charger", QUICK_FE20)
        kw.setdefault("meter_interval_s", 1)
        kw.setdefault("control_interval_s", 0.1)
        kw.setdefault("backoff_min_s", 0.1)
        kw.setdefault("backoff_random_s", 0.2)
        kw.setdefault("backoff_repeat_times", 2)
        kw.setdefault("report_grace_s", 0.5)
        config = StationConfig(station_id=station_id, url=csms.url, **kw)  # type: ignore[arg-type]
        if visit is not None:
            config.arrivals.append((0.0, visit))
        station = Station(config)
        tasks.append((station, asyncio.create_task(station.run())))
        return station

    yield start
    for station, _task in tasks:
        station.stop()
    for _, task in tasks:
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.wait_for(task, 5)

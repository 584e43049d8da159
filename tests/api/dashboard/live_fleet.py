"""A CSMS node, ``csms api`` and a small simulated fleet with a grid event, all in one thread
of their own (its own event loop), so that a synchronous browser driver can look at the
dashboard while the fleet runs."""

from __future__ import annotations

import asyncio
import contextlib
import threading
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

from csms.api.app import create_app
from csms.api.auth import hash_key, new_key, shown_prefix
from csms.api.context import ApiSettings
from csms.api.server import in_loop
from csms.config import ServerConfig
from csms.grid.service import create_event
from csms.server import CentralSystem
from csms.store import api_keys
from csms.store.grid import events as grid_events
from csms.store.grid import fleet as grid_fleet
from csms.store.grid.records import Program
from simulators.scenario import load_scenario
from simulators.simulated_fleet import Fleet, FleetOptions, build_configs
from tests.conftest import new_database
from tests.grid.harness import SCENARIO


@dataclass(frozen=True)
class FleetPlan:
    """The fleet and its event: stations (station 5 of the scenario is stuck at zero, so it
    is set aside), when the event starts after the fleet is ready, how long it runs."""

    stations: int = 6
    lead_s: float = 6.0
    event_s: float = 36.0
    target_kw: float = 30.0
    meter_interval_s: int = 2


@dataclass
class Running:
    """What the tests use: the API's URL, a read key, the event and the database URL."""

    url: str
    key: str
    event_id: int
    event_start: datetime
    event_end: datetime
    database_url: str
    station_ids: list[str]


class LiveFleet:
    """Starts everything in a thread; :meth:`stop` ends it all."""

    def __init__(self, pg_server_url: str, plan: FleetPlan) -> None:
        self.pg_server_url = pg_server_url
        self.plan = plan
        self.running: Running | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._loop = asyncio.new_event_loop()
        self._stop: asyncio.Event | None = None
        self._fleet: Fleet
        self._thread = threading.Thread(target=self._run, daemon=True, name="live-fleet")

    def start(self, timeout: float = 90.0) -> Running:
        self._thread.start()
        if not self._ready.wait(timeout):
            raise RuntimeError("the fleet did not get ready in time")
        if self._error is not None:
            raise RuntimeError(f"the fleet failed to start: {self._error!r}") from self._error
        assert self.running is not None
        return self.running

    def disconnect(self, station_id: str) -> None:
        """Stop one simulated station (its socket closes)."""
        def stop() -> None:
            for station in self._fleet.stations:
                if station.config.station_id == station_id:
                    station.stop()

        self._loop.call_soon_threadsafe(stop)

    def stop(self) -> None:
        if self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(60)

    def _run(self) -> None:
        try:
            self._loop.run_until_complete(self._main())
        except BaseException as exc:  # reported to start(); the thread ends
            self._error = exc
        finally:
            self._ready.set()
            self._loop.close()

    async def _main(self) -> None:
        self._stop = asyncio.Event()
        plan = self.plan
        async with contextlib.AsyncExitStack() as stack:
            database_url = await stack.enter_async_context(new_database(self.pg_server_url))
            system = CentralSystem(ServerConfig(
                host="127.0.0.1", port=0, database_url=database_url, auto_register=True,
                heartbeat_interval=300, call_timeout=10.0))
            await system.start()
            stack.push_async_callback(system.stop)
            assert system.pool is not None
            pool = system.pool
            configs = build_configs(FleetOptions(
                url=f"ws://127.0.0.1:{system.port}/ocpp", stations=plan.stations,
                password="dashboard-fleet-pw-01", seed=3, control_interval_s=0.5),
                load_scenario(SCENARIO))
            configs = [replace(c, meter_interval_s=plan.meter_interval_s) for c in configs]
            fleet = self._fleet = Fleet(configs)
            task = asyncio.create_task(fleet.run())

            async def end_fleet() -> None:
                task.cancel()  # the fleet runs until cancelled; it stops its stations then
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await asyncio.wait_for(task, 30)

            stack.push_async_callback(end_fleet)
            key = new_key()
            await api_keys.add_key(pool, "dashboard-test", "read", shown_prefix(key),
                                   hash_key(key))
            app = create_app(ApiSettings(database_url=database_url, webhooks=False))
            port = await stack.enter_async_context(in_loop(app, "127.0.0.1", 0))
            deadline = asyncio.get_running_loop().time() + 60
            while True:
                rows = await grid_fleet.plugged_in(pool)
                if len(rows) >= plan.stations - 1 and all(
                        r.soc_percent is not None and r.charging_needs for r in rows):
                    break
                if asyncio.get_running_loop().time() > deadline:
                    raise RuntimeError(f"only {len(rows)} EVs plugged in")
                await asyncio.sleep(0.3)
            program = Program("dashboard-test", compensation="per-kwh", rate_per_kwh=0.5,
                              control_interval_s=4, settle_s=3,
                              event_meter_interval_s=1, retry_s=600)
            await grid_events.save_program(pool, program, replace=True)
            start = datetime.now(UTC) + timedelta(seconds=plan.lead_s)
            end = start + timedelta(seconds=plan.event_s)
            created = await create_event(pool, program.name, start, end, plan.target_kw)
            self.running = Running(f"http://127.0.0.1:{port}", key, created.event_id, start,
                                   end, database_url, [c.station_id for c in configs])
            self._ready.set()
            await self._stop.wait()

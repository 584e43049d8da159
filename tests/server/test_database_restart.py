"""The database restarts under load: station sockets stay open, nothing is acknowledged that was
not stored (stations retry), the pool and the LISTEN connection recover, the CSMS catches up.

The test runs its own PostgreSQL cluster (the embedded server's binaries), so that stopping it
disturbs no other test.
"""

from __future__ import annotations

import asyncpg
import pytest

from csms.config import ServerConfig
from csms.operations import Operations, Status
from csms.server import CentralSystem
from csms.store.commands import submit_command
from csms.store.db import open_pool
from tests.server.cluster import Cluster
from tests.server.fleet import Running, each_has_events, end_and_verify, fleet, register
from tests.server.helpers import until

#: Fault tests log many tracebacks: plain lines keep them cheap.
pytestmark = pytest.mark.usefixtures("plain_logs")

STATIONS = 4


async def test_database_restart_under_load_keeps_sockets_and_loses_nothing(
        cluster: Cluster) -> None:
    admin = await asyncpg.connect(cluster.url("postgres"))
    await admin.execute("CREATE DATABASE csms")
    await admin.close()
    url = cluster.url("csms")
    system = CentralSystem(ServerConfig(host="127.0.0.1", port=0, database_url=url,
                                        heartbeat_interval=60, call_timeout=10.0,
                                        ping_interval=None, ping_timeout=None))
    await system.start()
    assert system.pool is not None
    stations = fleet(f"ws://127.0.0.1:{system.port}/ocpp", STATIONS, prefix="D")
    await register(system.pool, stations)
    running = Running.start(stations)
    try:
        await until(lambda: each_has_events(system.pool, stations, 3),
                    what="transactions under way")
        await cluster.stop()
        # The CSMS answers what it cannot store with a CALLERROR; the stations retry (E13).
        await until(lambda: all(s.stats.retries >= 2 for s in stations), what="retries")
        assert all(s.online and s.stats.connects == 1 for s in stations)
        assert len(system.sessions) == STATIONS
        await cluster.start()
        await until(lambda: all(not s.outbox for s in stations), what="caught up")
        # The LISTEN connection is back, and an operator command reaches a station through it.
        await until(lambda: system.pool.fetchval(
            "SELECT count(*) FROM pg_stat_activity WHERE query LIKE 'LISTEN %'"),
            what="LISTEN connection back")
        trigger = {"requestedMessage": "Heartbeat"}
        async with _pool(url) as db, Operations(db, url) as ops:
            command = await submit_command(db, "D1", "TriggerMessage", trigger)
            result = await ops.wait("TriggerMessage", trigger, [command], timeout=60)
        assert result.status is Status.ACCEPTED and result.response == {"status": "Accepted"}
        figures = await end_and_verify(system.pool, running, stations)
        # The sockets stayed open through the outage.
        assert all(s.stats.connects == 1 for s in stations)
        retried = sum(s.stats.retries for s in stations)
        print(f"\ndatabase restart: {figures.events} events stored, {retried} retried "
              f"after a CALLERROR, largest energy difference "
              f"{figures.largest_energy_error_wh:.4f} Wh")
    finally:
        await running.stop()
        await system.stop()


class _pool:
    """A short-lived pool on the restarted database (as the command line would open)."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.pool: asyncpg.Pool | None = None

    async def __aenter__(self) -> asyncpg.Pool:
        self.pool = await open_pool(self.url, min_size=1, max_size=1)
        return self.pool

    async def __aexit__(self, *exc: object) -> None:
        assert self.pool is not None
        await self.pool.close()

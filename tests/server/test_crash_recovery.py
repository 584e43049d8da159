"""``csms serve`` killed (SIGKILL) in the middle of a fleet's transactions, then restarted:
stations reconnect spread out, replay what they queued, and no transaction loses or doubles
anything."""

from __future__ import annotations

import asyncio
import statistics
from pathlib import Path

import pytest

from csms.store.db import open_pool
from tests.server.fleet import Running, each_has_events, end_and_verify, fleet, register
from tests.server.helpers import CsmsProcess, until

#: Fault tests log many tracebacks: plain lines keep them cheap.
pytestmark = pytest.mark.usefixtures("plain_logs")

STATIONS = 8


async def test_sigkill_mid_transactions_loses_nothing_and_counts_nothing_twice(
        database_url: str, tmp_path: Path) -> None:
    pool = await open_pool(database_url)
    csms = CsmsProcess(database_url, tmp_path / "csms.log")
    stations = fleet(csms.url, STATIONS)
    await register(pool, stations)
    running = Running.start(stations)
    try:
        await csms.start()
        # Every car charges and its meter values reach the CSMS.
        await until(lambda: each_has_events(pool, stations, 3), what="transactions under way")
        await csms.kill()
        await until(lambda: not any(s.online for s in stations), what="stations offline")
        # Meter values keep coming while the CSMS is down: they queue, flagged offline.
        await until(lambda: all(len(s.outbox) >= 2 for s in stations), what="events queued")
        killed_at = asyncio.get_running_loop().time()
        await csms.start()
        await until(lambda: all(s.stats.connects == 2 and s.online for s in stations),
                    what="every station back")
        back = sorted(s.stats.connected_at[1] - killed_at for s in stations)
        # Jitter: the stations did not come back in one burst.
        assert len({round(t, 1) for t in back}) > 1, back
        await until(lambda: all(not s.outbox for s in stations), what="queues replayed")
        replayed = await pool.fetchval(
            "SELECT count(*) FROM transaction_events WHERE offline")
        assert replayed >= 2 * STATIONS
        figures = await end_and_verify(pool, running, stations)
        print(f"\nSIGKILL: {figures.events} events, {replayed} replayed offline, reconnect "
              f"after {back[0]:.2f}..{back[-1]:.2f} s (median {statistics.median(back):.2f}),"
              f" largest energy difference {figures.largest_energy_error_wh:.4f} Wh")
    finally:
        await running.stop()
        await csms.stop()
        await pool.close()

"""Soak: a simulated fleet charges for minutes while the CSMS is killed and the database restarts.

``csms serve`` runs as a child process on a PostgreSQL cluster of the benchmark's own; the
stations run in this process so that their own meter registers can be compared with what the
CSMS stored. The faults, evenly spread over the run: SIGKILL of the CSMS (restarted after
``--outage`` seconds), a database stop/start (down ``--db-outage`` seconds), SIGKILL again.
Reproduce with::

    .venv/bin/python -m tests.benchmarks.bench_soak --stations 200 --duration 240

It prints, per fault, how the fleet came back (reconnect delays after the CSMS was listening
again, the busiest second, the replayed offline events; for the database, the CALLERRORs the
stations retried and the time to catch up), then the audit: events stored, anything lost or
doubled, the largest difference between a transaction's stored energy and the station's own
registers.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import shutil
import statistics
import tempfile
import time
from collections import Counter
from pathlib import Path

import asyncpg
import structlog

from csms.store.db import open_pool
from tests.server.cluster import Cluster
from tests.server.fleet import Running, all_ended, audit, fleet, register
from tests.server.helpers import CsmsProcess, plain_logging, until


def _quantiles(values: list[float]) -> str:
    values = sorted(values)
    p95 = values[min(len(values) - 1, int(0.95 * len(values)))]
    return (f"min {values[0]:.2f} s, median {statistics.median(values):.2f} s, "
            f"p95 {p95:.2f} s, max {values[-1]:.2f} s")


async def _kill(csms: CsmsProcess, running: Running, pool: asyncpg.Pool, outage: float) -> None:
    stations = running.stations
    before = [s.stats.connects for s in stations]
    replayed_before = await pool.fetchval("SELECT count(*) FROM transaction_events WHERE offline")
    killed = time.monotonic()
    await csms.kill()
    await until(lambda: not any(s.online for s in stations), 120, "fleet offline")
    offline = time.monotonic() - killed
    await asyncio.sleep(outage)
    await csms.start()
    ready = time.monotonic()
    await until(lambda: all(s.stats.connects > n and s.online
                            for s, n in zip(stations, before, strict=True)), 600, "fleet back")
    delays = [s.stats.connected_at[n] - ready for s, n in zip(stations, before, strict=True)]
    busiest = Counter(int(d) for d in delays).most_common(1)[0]
    await until(lambda: all(not s.outbox for s in stations), 600, "queues replayed")
    replayed = await pool.fetchval("SELECT count(*) FROM transaction_events WHERE offline")
    print(f"  SIGKILL: fleet offline {offline:.2f} s after the kill; CSMS listening again "
          f"{ready - killed:.1f} s after the kill")
    print(f"    reconnected after the CSMS was listening again: {_quantiles(delays)}")
    print(f"    busiest second: {busiest[1]} of {len(stations)} stations (second {busiest[0]});"
          f" offline events replayed: {replayed - replayed_before}")


async def _db_restart(cluster: Cluster, running: Running, outage: float) -> None:
    stations = running.stations
    connects = sum(s.stats.connects for s in stations)
    errors = sum(s.stats.call_errors for s in stations)
    retries = sum(s.stats.retries for s in stations)
    await cluster.stop()
    await asyncio.sleep(outage)
    await cluster.start()
    started = time.monotonic()
    await until(lambda: all(not s.outbox for s in stations), 600, "caught up")
    caught_up = time.monotonic() - started
    print(f"  database down {outage:.0f} s: {sum(s.stats.call_errors for s in stations) - errors}"
          f" CALLERRORs answered, {sum(s.stats.retries for s in stations) - retries} "
          f"TransactionEvents retried, {sum(s.stats.connects for s in stations) - connects} "
          f"reconnects; every queue empty {caught_up:.1f} s after the database was back")


async def soak(args: argparse.Namespace) -> None:
    directory = Path(tempfile.mkdtemp(prefix="csms-soak-"))
    cluster = await asyncio.to_thread(Cluster, directory)
    admin = await asyncpg.connect(cluster.url("postgres"))
    await admin.execute("CREATE DATABASE csms")
    await admin.close()
    url = cluster.url("csms")
    pool = await open_pool(url)
    csms = CsmsProcess(url, directory / "csms.log")
    stations = fleet(csms.url, args.stations, prefix="SOAK", meter_interval_s=args.meter_interval,
                     control_interval_s=1.0, backoff_min_s=1.0,
                     backoff_random_s=args.random_range, backoff_repeat_times=4,
                     message_attempts=50, message_attempt_interval_s=2)
    await register(pool, stations)
    running = Running.start(stations)
    started = time.monotonic()
    try:
        await csms.start()
        await until(lambda: all(s.online for s in stations), 600, "fleet online")
        print(f"stations={args.stations} meter_interval={args.meter_interval}s "
              f"random_range={args.random_range}s duration={args.duration:.0f}s; fleet online "
              f"{time.monotonic() - started:.1f} s after start")
        faults = ["kill", "db", "kill"]
        for index, fault in enumerate(faults, start=1):
            due = started + args.duration * index / (len(faults) + 1)
            await asyncio.sleep(max(0.0, due - time.monotonic()))
            if fault == "kill":
                await _kill(csms, running, pool, args.outage)
            else:
                await _db_restart(cluster, running, args.db_outage)
        await asyncio.sleep(max(0.0, started + args.duration - time.monotonic()))
        running.unplug_all()
        await until(lambda: all_ended(pool, stations), 600, "transactions ended")
        report = await audit(pool, stations)
        sent = sum(s.stats.sent for s in stations)
        print(f"  audit: {report.events} TransactionEvents stored, {sent} messages answered; "
              f"lost: {len(report.gaps)} transactions with a gap, doubled: {report.doubled} "
              f"values, discarded: {report.discarded}, still queued: {report.queued}")
        print(f"  energy: {report.energy_wh / 1000:.1f} kWh metered; largest difference "
              f"stored vs metered {report.largest_energy_error_wh * 1000:.2f} mWh; mismatches: "
              f"{len(report.energy_mismatches)}")
        print(f"  verdict: {'CLEAN' if report.clean else 'NOT CLEAN'}")
    finally:
        await running.stop()
        await csms.stop()
        await pool.close()
        await asyncio.to_thread(cluster.remove)
        shutil.rmtree(directory, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stations", type=int, default=200)
    parser.add_argument("--duration", type=float, default=240.0)
    parser.add_argument("--meter-interval", type=int, default=10)
    parser.add_argument("--random-range", type=float, default=10.0,
                        help="RetryBackOffRandomRange of every station (s)")
    parser.add_argument("--outage", type=float, default=5.0, help="CSMS down after a kill (s)")
    parser.add_argument("--db-outage", type=float, default=10.0, help="database down (s)")
    args = parser.parse_args()
    # The stations' own complaints during the outages are expected; print only the figures.
    logging.getLogger("asyncpg").setLevel(logging.CRITICAL)
    with plain_logging():
        structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.CRITICAL))
        asyncio.run(soak(args))


if __name__ == "__main__":
    main()

"""What the site controller's look at every site costs the leading node, each second.

    .venv/bin/python -m tests.benchmarks.bench_site_control [--sites 50] [--stations 20]

An embedded PostgreSQL holds ``--sites`` sites of ``--stations`` stations each, every station
with a car charging (a running transaction, its SoC and power samples) and the first station
of each site reporting the connection at its main meter, as a site's fleet would have stored
them. The stations are not connected (the controller counts them as they stand and sends
nothing): what is measured is the reading and planning the controller does every tick on the
leading node. Figures: the first tick (every site planned), a steady tick (nothing to re-plan)
and a tick that re-plans every site (limits changed), in ms, median of ``--repeat``.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import asyncpg

from csms.grid.site_control import SiteController
from csms.operations import Operations
from csms.store import stations, transactions
from csms.store.db import open_pool
from csms.store.embedded import start_embedded
from csms.store.grid import sites as site_store
from csms.store.metering import MeterSample, insert_meter_values
from csms.store.transactions import TxEvent


def sample(evse: int, tx: str | None, at: datetime, measurand: str, value: float,
           unit: str) -> MeterSample:
    return MeterSample(evse_id=evse, transaction_id=tx, timestamp=at, measurand=measurand,
                       value=value, unit=unit, phase=None, location="Outlet",
                       context="Sample.Periodic")


async def populate(pool: asyncpg.Pool, sites: int, per_site: int) -> None:
    now = datetime.now(UTC)
    for s in range(sites):
        ids = [f"S{s}C{n}" for n in range(per_site)]
        for station in ids:
            await stations.register_station(pool, station, "bench-site-password-1")
            tx = f"{station}-tx"
            await transactions.record_transaction_event(pool, station, TxEvent(
                transaction_id=tx, seq_no=0, event_type="Started",
                timestamp=now - timedelta(hours=1), trigger_reason="CablePluggedIn",
                evse_id=1, connector_id=1), [])
            await insert_meter_values(pool, station, [
                sample(1, tx, now - timedelta(seconds=k), "Power.Active.Import", 7000.0, "W")
                for k in (2, 4, 6, 8)] + [
                sample(1, tx, now - timedelta(seconds=10), "SoC", 50.0, "Percent")])
        await insert_meter_values(pool, ids[0], [
            sample(0, None, now - timedelta(seconds=k), "Power.Active.Import",
                   1000.0 * (8 + 7 * per_site), "W") for k in range(1, 9)])
        await site_store.add_site(pool, site_store.Site(f"site{s}", 7.0 * per_site, 0.0,
                                                        ids[0]))
        await site_store.assign(pool, f"site{s}", ids)
    await pool.execute("UPDATE stations SET subprotocol = 'ocpp2.0.1'")


async def timed(controller: SiteController) -> float:
    started = time.perf_counter()
    await controller.tick(datetime.now(UTC))
    return (time.perf_counter() - started) * 1000.0


async def run(url: str, args: argparse.Namespace) -> None:
    pool = await open_pool(url)
    try:
        await populate(pool, args.sites, args.stations)
        first, steady, replan = [], [], []
        for _ in range(args.repeat):
            controller = SiteController(Operations(pool, url), "bench")
            first.append(await timed(controller))
            steady.append(await timed(controller))
            await pool.execute("UPDATE grid_sites SET import_kw = import_kw + 1")
            replan.append(await timed(controller))
        print(f"sites {args.sites} x stations {args.stations} "
              f"({args.sites * args.stations} charging): tick ms (median of {args.repeat})")
        print(f"  first (plans every site)   {statistics.median(first):8.1f}")
        print(f"  steady (nothing to plan)   {statistics.median(steady):8.1f}")
        print(f"  every site re-planned      {statistics.median(replan):8.1f}")
    finally:
        await pool.close()


async def main(args: argparse.Namespace) -> None:
    server = start_embedded(Path(tempfile.mkdtemp(prefix="bench-site-")), cleanup_mode="delete")
    name = "bench_" + uuid.uuid4().hex[:8]
    admin = await asyncpg.connect(server)
    await admin.execute(f'CREATE DATABASE "{name}"')
    await admin.close()
    parts = urlsplit(server)
    await run(urlunsplit(parts._replace(path=f"/{name}")), args)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sites", type=int, default=50)
    parser.add_argument("--stations", type=int, default=20)
    parser.add_argument("--repeat", type=int, default=3)
    asyncio.run(main(parser.parse_args()))

"""Benchmark: the HTTP API's latency while the CSMS ingests a fleet's load, and CSV streaming
of a million meter values in bounded memory.

``csms serve`` and ``csms api`` run as processes of their own on one PostgreSQL (embedded unless
``--database-url``); the fleet (:mod:`tests.benchmarks.loadgen`) runs in a third process
(:mod:`tests.benchmarks.fleet_process`), so that the API client in this process measures only
the API. One run prints:

- latency: p50/p99 of ``GET /v1/stations/{id}`` and of ``POST /v1/stations/{id}/calls?wait``
  (a Reset the station answers), first with the fleet connected and idle, then while it sends
  ``--rate`` messages/s (MeterValues, TransactionEvents, Heartbeats), and the ratio of the two;
- CSV: ``GET /v1/meter-values`` with ``Accept: text/csv`` over ``--csv-rows`` stored values:
  rows/s, and the API process's resident memory before and at its peak while streaming.

Reproduce (figures in docs/performance.md)::

    python tests/benchmarks/bench_api.py --stations 1000 --rate 2000 --duration 30 \
        --csv-rows 1000000

Smoke size: ``--stations 20 --rate 100 --duration 3 --csv-rows 20000``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import sys
import tempfile
import time
import uuid
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import httpx
import psutil

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from csms.api.auth import hash_key, new_key, shown_prefix
from csms.store import api_keys
from csms.store.db import open_pool
from csms.store.passwords import GENERATED_LOG2_N
from tests.benchmarks.bench_csms import PASSWORD, free_port, register, start
from tests.benchmarks.loadgen import percentile

HERE = Path(__file__).resolve().parent
RESET = {"action": "Reset", "payload": {"type": "OnIdle"}}


class FleetProcess:
    """The load generator's fleet in a process of its own, driven over its stdin."""

    def __init__(self, process: asyncio.subprocess.Process):
        self.process = process

    @classmethod
    async def start(cls, port: int) -> FleetProcess:
        process = await asyncio.create_subprocess_exec(
            sys.executable, str(HERE / "fleet_process.py"), "--port", str(port),
            "--password", PASSWORD, stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE, limit=2**26)
        return cls(process)

    async def ask(self, request: dict) -> dict:
        assert self.process.stdin is not None and self.process.stdout is not None
        self.process.stdin.write((json.dumps(request) + "\n").encode())
        await self.process.stdin.drain()
        return json.loads(await self.process.stdout.readline())

    async def stop(self) -> None:
        if self.process.stdin is not None:
            self.process.stdin.close()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.process.wait(), 30)
        if self.process.returncode is None:
            self.process.kill()


async def hammer(http: httpx.AsyncClient, ids: list[str], seconds: float,
                 clients: int) -> dict[str, list[float]]:
    """``clients`` concurrent clients alternating a station read and a waited call, each on a
    random station, for ``seconds``; the latencies of each kind."""
    out: dict[str, list[float]] = {"get": [], "call": [], "errors": []}
    loop = asyncio.get_running_loop()
    end = loop.time() + seconds

    async def client(n: int) -> None:
        rng = random.Random(n)
        turn = n
        while loop.time() < end:
            station = rng.choice(ids)
            kind = "get" if turn % 2 == 0 else "call"
            turn += 1
            t0 = time.perf_counter()
            if kind == "get":
                response = await http.get(f"/v1/stations/{station}")
            else:
                response = await http.post(f"/v1/stations/{station}/calls",
                                           params={"wait": 10}, json=RESET)
            elapsed = time.perf_counter() - t0
            if response.status_code == 200:
                out[kind].append(elapsed)
            else:
                out["errors"].append(elapsed)

    await asyncio.gather(*(client(n) for n in range(clients)))
    return out


def summary(name: str, latencies: list[float]) -> dict:
    return {"phase": name, "requests": len(latencies),
            "p50_ms": 1000 * percentile(latencies, 0.5),
            "p99_ms": 1000 * percentile(latencies, 0.99)}


async def bench_latency(opts: argparse.Namespace, url: str, api: str, key: str) -> list[dict]:
    ids = await register(url, opts.stations, GENERATED_LOG2_N)
    port = free_port()
    server = await start(["-m", "csms", "serve", "--host", "127.0.0.1", "--port", str(port),
                          "--database-url", url, "--log-level", "warning"], port)
    fleet = await FleetProcess.start(port)
    rows = []
    try:
        storm = await fleet.ask({"op": "storm", "ids": ids})
        print(f"fleet: {len(ids)} stations connected in {storm['seconds']:.1f} s", flush=True)
        async with httpx.AsyncClient(base_url=api, timeout=30, headers={
                "Authorization": f"Bearer {key}"}) as http:
            await hammer(http, ids, 2.0, opts.clients)  # warm up
            idle = await hammer(http, ids, opts.duration, opts.clients)
            load = asyncio.create_task(fleet.ask({"op": "rate", "rate": opts.rate,
                                                  "seconds": opts.duration}))
            t0 = time.perf_counter()
            busy = await hammer(http, ids, opts.duration, opts.clients)
            ingest = await load
            seconds = time.perf_counter() - t0
        rate = ingest["answered"] / seconds
        for kind, label in (("get", "GET /v1/stations/{id}"),
                            ("call", "POST /v1/stations/{id}/calls?wait")):
            a, b = summary("idle", idle[kind]), summary(f"{rate:.0f} msg/s", busy[kind])
            rows.append({"route": label, "idle": a, "loaded": b,
                         "p99_ratio": b["p99_ms"] / a["p99_ms"] if a["p99_ms"] else None})
        rows.append({"ingest_rate": rate, "ingest_p99_ms": 1000 * percentile(
            ingest["latencies"], 0.99), "api_errors": len(idle["errors"]) + len(busy["errors"])})
    finally:
        await fleet.stop()
        await server.stop()
    return rows


async def seed_meter_values(url: str, rows: int) -> None:
    conn = await asyncpg.connect(url)
    try:
        await conn.execute(
            "INSERT INTO meter_values (station_id, evse_id, transaction_id, timestamp,"
            " measurand, phase, location, unit, context, value)"
            " SELECT 'CSV-' || (n % 100), 1, 'T' || (n % 100), '2025-06-01'::timestamptz"
            " + make_interval(secs => n / 4), 'M' || (n % 4), NULL, 'Outlet', 'Wh',"
            " 'Sample.Periodic', n * 1.5 FROM generate_series(0, $1 - 1) AS n", rows)
        await conn.execute("ANALYZE meter_values")
    finally:
        await conn.close()


async def bench_csv(opts: argparse.Namespace, url: str, api: str, key: str,
                    api_pid: int) -> dict:
    await seed_meter_values(url, opts.csv_rows)
    process = psutil.Process(api_pid)
    before = process.memory_info().rss
    peak = before
    stop = asyncio.Event()

    async def sample() -> None:
        nonlocal peak
        while not stop.is_set():
            peak = max(peak, process.memory_info().rss)
            await asyncio.sleep(0.05)

    sampler = asyncio.create_task(sample())
    lines = 0
    size = 0
    t0 = time.perf_counter()
    async with httpx.AsyncClient(base_url=api, timeout=None, headers={
            "Authorization": f"Bearer {key}", "Accept": "text/csv"}) as http, \
            http.stream("GET", "/v1/meter-values") as response:
        async for chunk in response.aiter_bytes():
            lines += chunk.count(b"\n")
            size += len(chunk)
    seconds = time.perf_counter() - t0
    stop.set()
    await sampler
    return {"rows": lines - 1, "seconds": seconds, "rows_per_s": (lines - 1) / seconds,
            "csv_mb": size / 2**20, "api_rss_before_mb": before / 2**20,
            "api_rss_peak_mb": peak / 2**20, "growth_mb": (peak - before) / 2**20,
            "growth_bytes_per_row": (peak - before) / max(1, lines - 1)}


async def run(opts: argparse.Namespace) -> dict:
    with tempfile.TemporaryDirectory(prefix="csms-bench-api-") as tmp:
        if opts.database_url:
            server_url = opts.database_url
        else:
            from csms.store.embedded import start_embedded
            server_url = start_embedded(Path(tmp), cleanup_mode="delete")
        name = f"bench_api_{uuid.uuid4().hex[:8]}"
        parts = urlsplit(server_url)
        url = urlunsplit((parts.scheme, parts.netloc, "/" + name, parts.query, parts.fragment))
        admin = await asyncpg.connect(server_url)
        await admin.execute(f"CREATE DATABASE {name}")
        await admin.close()
        try:
            pool = await open_pool(url, max_size=1)
            key = new_key()
            await api_keys.add_key(pool, "bench", "admin", shown_prefix(key), hash_key(key))
            await pool.close()
            api_port = free_port()
            api = await start(["-m", "csms", "api", "--port", str(api_port), "--database-url",
                               url, "--log-level", "warning"], api_port)
            base = f"http://127.0.0.1:{api_port}"
            out: dict = {}
            try:
                if opts.csv_rows:
                    out["csv"] = await bench_csv(opts, url, base, key, api.root.pid)
                if opts.rate:
                    out["latency"] = await bench_latency(opts, url, base, key)
            finally:
                await api.stop()
            return out
        finally:
            admin = await asyncpg.connect(server_url)
            await admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
            await admin.close()


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--stations", type=int, default=1000)
    p.add_argument("--rate", type=float, default=2000.0, help="fleet messages/s (0: skip)")
    p.add_argument("--duration", type=float, default=30.0, help="seconds per phase")
    p.add_argument("--clients", type=int, default=4, help="concurrent API clients")
    p.add_argument("--csv-rows", type=int, default=1_000_000, help="meter values (0: skip)")
    p.add_argument("--database-url", default="", help="PostgreSQL server (default: embedded)")
    opts = p.parse_args()
    out = asyncio.run(run(opts))
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    main()

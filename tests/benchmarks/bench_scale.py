"""Benchmark: the largest fleet on one machine, ``csms serve --workers N``, load generators in
processes of their own.

One process may hold only ``RLIMIT_NOFILE`` sockets, so the stations are spread over several
load generator processes (``fleet_process.py``, at most ``--per-process`` stations each) and the
server over ``--workers`` processes. One run prints:

- the file descriptor limits (soft and hard) that bound stations per process;
- boot storm: every station connects at once and sends BootNotification (each password checked
  with scrypt at the cost of a generated password, 2**10): seconds until all are Accepted;
- resident memory per connected station (the server's process tree), and with PostgreSQL's
  growth in the same time (its processes' proportional set size) when it is embedded;
- sustained load: ``--rate`` messages/s over all stations (MeterValues and TransactionEvents with
  4 sampled values, Heartbeats) for ``--duration`` s: answered messages/s, p50/p99 latency, CPU
  of the server and of PostgreSQL per 1,000 messages, cores the machine was busy;
- dispatch: a SetChargingProfile to every station through the command table, until every
  command is final.

Reproduce (figures in docs/performance.md)::

    python tests/benchmarks/bench_scale.py --stations 36000 --workers 2 --rate 4000 \\
        --duration 30 --import-verifiers
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import resource
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import psutil

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from csms.security.password_key import load_keys
from tests.benchmarks.bench_csms import (
    HERE,
    PASSWORD,
    Postgres,
    databases,
    dispatch,
    free_port,
    machine_busy,
    register,
    start,
)
from tests.benchmarks.loadgen import percentile


class FleetProcess:
    """One ``fleet_process.py`` holding a slice of the stations."""

    def __init__(self, process: asyncio.subprocess.Process, ids: list[str]):
        self.process = process
        self.ids = ids
        self.ps = psutil.Process(process.pid)

    @classmethod
    async def start(cls, port: int, ids: list[str], sources: int) -> FleetProcess:
        process = await asyncio.create_subprocess_exec(
            sys.executable, str(HERE / "fleet_process.py"), "--port", str(port),
            "--password", PASSWORD, "--sources", str(sources),
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, limit=2**28)
        return cls(process, ids)

    async def ask(self, request: dict[str, Any]) -> dict[str, Any]:
        assert self.process.stdin is not None and self.process.stdout is not None
        self.process.stdin.write(json.dumps(request).encode() + b"\n")
        await self.process.stdin.drain()
        line = await self.process.stdout.readline()
        if not line:
            raise RuntimeError("a fleet process exited")
        return json.loads(line)

    def cpu(self) -> float:
        t = self.ps.cpu_times()
        return t.user + t.system

    async def stop(self) -> None:
        if self.process.stdin is not None:
            self.process.stdin.close()
        try:
            await asyncio.wait_for(self.process.wait(), 60)
        except TimeoutError:
            self.process.kill()
            await self.process.wait()


async def bench(opts: argparse.Namespace, url: str, pg: Postgres, tmp: Path) -> dict[str, Any]:
    f: dict[str, Any] = {}
    f["nofile_soft"], f["nofile_hard"] = resource.getrlimit(resource.RLIMIT_NOFILE)
    key_file = tmp / "password-key"
    keys = load_keys(key_file, create=True) if opts.import_verifiers else None
    ids = await register(url, opts.stations, opts.hash_cost, keys)
    port = free_port()
    per_worker = math.ceil(opts.stations / opts.workers * 1.2) + 100
    server = await start(["-m", "csms", "serve", "--host", "127.0.0.1", "--port", str(port),
                          "--database-url", url, "--log-level", "warning",
                          "--workers", str(opts.workers), "--max-connections",
                          str(per_worker), "--password-key-file", str(key_file),
                          "--loop", opts.loop],
                         port)
    count = math.ceil(opts.stations / opts.per_process)
    slices = [ids[i::count] for i in range(count)]
    fleets = [await FleetProcess.start(port, s, opts.sources) for s in slices]
    try:
        await asyncio.sleep(3.0)  # every worker listening
        rss0, cpu0, db0 = server.rss(), server.cpu(), _pss(pg)
        t0 = time.perf_counter()
        storms = await asyncio.gather(*(
            p.ask({"op": "storm", "ids": p.ids, "deadline": opts.storm_deadline})
            for p in fleets))
        f["boot_storm_s"] = time.perf_counter() - t0
        f["boot_storm_cpu_s"] = server.cpu() - cpu0
        if all(s["seconds"] is not None for s in storms):
            f["boot_storm_retries"] = sum(s["retries"] for s in storms)
        else:  # not all in time: the rest of the run goes on with those that are in
            f["boot_storm_s"] = f"not all within {opts.storm_deadline:g} s"
            ids = [i for p, s in zip(fleets, storms, strict=True)
                   for i in (p.ids if s["seconds"] is not None else s["accepted"])]
        f["boot_storm_accepted"] = len(ids)
        await asyncio.sleep(3.0)
        rss = server.rss()
        f["rss_mb"] = rss / 2**20
        f["rss_per_station_kb"] = (rss - rss0) / 1024 / len(ids)
        db = _pss(pg)
        f["db_pss_mb"] = db / 2**20
        f["memory_per_station_kb"] = (rss - rss0 + db - db0) / 1024 / len(ids)
        f["stations_per_worker"] = [_connections(p, port) for p in server.tree()[1:]] or [
            _connections(server.root, port)]
        cpu, db, gen, busy = server.cpu(), pg.cpu(), sum(p.cpu() for p in fleets), machine_busy()
        t0 = time.perf_counter()
        answers = await asyncio.gather(*(
            p.ask({"op": "rate", "rate": opts.rate / count, "seconds": opts.duration})
            for p in fleets))
        seconds = time.perf_counter() - t0
        answered = sum(a["answered"] for a in answers)
        latencies = [x for a in answers for x in a["latencies"]]
        f["sustained_msgs"] = answered
        f["sustained_msg_s"] = answered / opts.duration
        f["sustained_errors"] = sum(a["errors"] for a in answers)
        f["sustained_p50_ms"] = 1000 * percentile(latencies, 0.5)
        f["sustained_p99_ms"] = 1000 * percentile(latencies, 0.99)
        f["sustained_cpu_s_per_1k"] = 1000 * (server.cpu() - cpu) / max(answered, 1)
        f["sustained_db_cpu_s_per_1k"] = 1000 * (pg.cpu() - db) / max(answered, 1)
        f["sustained_gen_cpu_s_per_1k"] = (1000 * (sum(p.cpu() for p in fleets) - gen)
                                           / max(answered, 1))
        f["sustained_busy_cores"] = (machine_busy() - busy) / seconds
        f["dispatch_s"], f["dispatch_answered"] = await dispatch(url, ids, timeout=300, poll=0.1)
        f["rss_after_mb"] = server.rss() / 2**20
    finally:
        for p in fleets:
            await p.stop()
        await server.stop()
    return f


def _pss(pg: Postgres) -> float:
    """PostgreSQL's memory: the proportional set size of its processes (shared buffers
    counted once, not once per backend as resident sizes would), NaN when not measured here."""
    if pg.proc is None:
        return float("nan")
    total = 0
    for process in pg.tree():
        try:
            total += process.memory_full_info().pss
        except psutil.Error:
            continue
    return float(total)


def _connections(process: psutil.Process, port: int) -> int:
    """Station sockets ``process`` holds (established on the CSMS's port)."""
    try:
        return sum(1 for c in process.net_connections("tcp") if c.status == "ESTABLISHED"
                   and c.laddr and c.laddr.port == port)
    except psutil.Error:
        return -1


async def run(opts: argparse.Namespace) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="csms-scale-") as tmp:
        name = f"bench_scale_{uuid.uuid4().hex[:8]}"
        async with databases(opts.database_url, Path(tmp), [name]) as ([url], pg):
            return await bench(opts, url, pg, Path(tmp))


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--stations", type=int, default=36000)
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--loop", choices=("uvloop", "asyncio"), default="uvloop",
                   help="the server's event loop (csms serve --loop)")
    p.add_argument("--rate", type=float, default=4000.0, help="sustained messages/s in all")
    p.add_argument("--duration", type=float, default=30.0)
    p.add_argument("--per-process", type=int, default=15000,
                   help="stations per load generator process (each under RLIMIT_NOFILE)")
    p.add_argument("--sources", type=int, default=4, help="source addresses 127.0.0.2..")
    p.add_argument("--hash-cost", type=int, default=10,
                   help="log2 of scrypt n (default: a generated password's cost)")
    p.add_argument("--import-verifiers", action="store_true",
                   help="store each station's password verifier at registration, as 'csms "
                   "stations import' does on the server's host (else the boot storm checks "
                   "every password with scrypt)")
    p.add_argument("--storm-deadline", type=float, default=600.0,
                   help="seconds the boot storm may take; past it the run goes on with the "
                   "stations that are in")
    p.add_argument("--database-url", default="")
    p.add_argument("--json", default="")
    opts = p.parse_args(argv)
    started = time.perf_counter()
    figures = asyncio.run(run(opts))
    print(f"stations={opts.stations} workers={opts.workers} rate={opts.rate:g}/s "
          f"duration={opts.duration:g}s cpus={os.cpu_count()} "
          f"run={time.perf_counter() - started:.0f}s")
    for key, value in figures.items():
        print(f"{key:28} {value:12.3f}" if isinstance(value, float) else f"{key:28} {value!s:>12}")
    if opts.json:
        Path(opts.json).write_text(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()

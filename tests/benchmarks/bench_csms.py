"""Benchmark: ``csms serve`` under a fleet, against a bare echo floor and the ``ocpp`` package.

Every server runs as a process of its own on 127.0.0.1, so its CPU time (read from /proc through
psutil, its worker processes included) is its own; the load generator
(:mod:`tests.benchmarks.loadgen`) runs in this process. One run prints:

- boot storm: all stations connect at once and send BootNotification (each password verified
  with scrypt), then the reconnect storm (every socket dropped and reopened);
- with ``--restart-storm``: the server killed (SIGKILL) with every station connected, started
  again, every station back and Accepted (passwords checked by their stored verifiers);
- resident memory per connected station;
- sustained ingest at ``--rate`` messages/s (MeterValues with 4 sampled values, TransactionEvents
  with 4 sampled values, Heartbeats): CPU seconds per 1,000 messages, latency p50/p99;
- saturation: messages/s with ``--saturate-stations`` stations each sending as soon as answered;
- dispatch: a SetChargingProfile to every connected station through the command table, until
  all are answered;
- the same sustained and saturated load against the echo floor and the ``ocpp`` baseline; the
  echo's sustained load alternates with the CSMS's in ``--rounds`` slices (both connected all
  along), so that both are measured in the same minutes, after both servers came to rest from
  their storms and their idle CPU was read (rounds of 30 s, the ping interval, hold one ping of
  every station for each server: ``--duration 120 --rounds 4``);
- every server on ``--loop`` (uvloop, as ``csms serve`` runs by default, or asyncio);
- with ``--scaling``: the saturated throughput of 1 and 2 workers, and with ``--worker-cores``
  each worker capped at a share of CPU of its own;
- every load row of the CSMS: the writes per group-commit transaction (from its /metrics).

``--instructions`` measures instead the instructions each server executes per message, the CSMS
and the echo floor both under valgrind's callgrind (:mod:`tests.benchmarks.callgrind`): the same
sustained load alternating between them in ``--rounds`` slices, each slice followed by an idle
window as long whose instructions (timers, pings, periodic tasks) are taken off. Unlike CPU
seconds, the count does not move with the machine's load; it leaves out the kernel's work.

Reproduce (figures in docs/performance.md)::

    python tests/benchmarks/bench_csms.py --stations 10000 --rate 2000 --duration 30 \
        --saturate-stations 1000 --scaling
    python tests/benchmarks/bench_csms.py --stations 10000 --rate 2000 --duration 120 \
        --rounds 4 --saturate-stations 1000 --skip-ocpp          # the CPU ratio of issue 18
    python tests/benchmarks/bench_csms.py --stations 2000 --scaling --worker-cores 0.5  # root
    python tests/benchmarks/bench_csms.py --stations 10000 --hash-cost 14 --restart-storm \
        --storms-only --import-verifiers
    python tests/benchmarks/bench_csms.py --instructions --stations 100 --rate 20 \
        --duration 45 --rounds 3

Smoke size: ``--stations 20 --rate 100 --duration 2 --saturate-stations 10``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import socket
import statistics
import sys
import tempfile
import time
import urllib.request
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import psutil
from prometheus_client.parser import text_string_to_metric_families

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from csms.security.password_key import PasswordKeys, load_keys
from csms.store.db import open_pool
from csms.store.passwords import CHOSEN_LOG2_N, GENERATED_LOG2_N, hash_password
from tests.benchmarks.loadgen import Fleet, percentile

#: The stations' password, as the CSMS generates them (csms.store.passwords.generate_password);
#: all stations share it so that the load generator needs only one.
PASSWORD = "k3W9q_ZpT0vYc7LmR2xNf8HsJd5Ub1Ae"
PROFILE = {"evseId": 1, "chargingProfile": {
    "id": 90, "stackLevel": 0, "chargingProfilePurpose": "TxDefaultProfile",
    "chargingProfileKind": "Relative", "chargingSchedule": [{
        "id": 1, "chargingRateUnit": "W",
        "chargingSchedulePeriod": [{"startPeriod": 0, "limit": -7000.0}]}]}}
HERE = Path(__file__).resolve().parent


class Measured:
    """A server process tree whose CPU time and memory we read."""

    def __init__(self, process: asyncio.subprocess.Process, metrics_port: int | None = None):
        self.process = process
        self.root = psutil.Process(process.pid)
        #: the port of its Prometheus /metrics (a ``csms serve``), or None
        self.metrics_port = metrics_port

    def scrape(self) -> dict[str, float]:
        """Counters from its /metrics, summed over labels: group-commit transactions
        (``batches``) and the writes in them (``writes``), garbage collections (``gcs``), their
        seconds (``gc_s``) and how many took 25 ms or less (``gcs_short``). NaN without."""
        names = {"csms_batch_size_count": "batches", "csms_batch_size_sum": "writes",
                 "csms_gc_pause_seconds_count": "gcs", "csms_gc_pause_seconds_sum": "gc_s"}
        found = dict.fromkeys([*names.values(), "gcs_short"], float("nan"))
        if self.metrics_port is None:
            return found
        try:
            with urllib.request.urlopen(
                    f"http://127.0.0.1:{self.metrics_port}/metrics", timeout=10) as answer:
                text = answer.read().decode()
        except OSError:
            return found
        found = dict.fromkeys(found, 0.0)
        for family in text_string_to_metric_families(text):
            for sample in family.samples:
                if sample.name in names:
                    found[names[sample.name]] += sample.value
                elif (sample.name == "csms_gc_pause_seconds_bucket"
                      and float(sample.labels["le"]) == 0.025):
                    found["gcs_short"] += sample.value
        return found

    def tree(self) -> list[psutil.Process]:
        with contextlib.suppress(psutil.Error):
            return [self.root, *self.root.children(recursive=True)]
        return []

    def cpu(self) -> float:
        """User + system CPU seconds of the tree (exited children included)."""
        total = 0.0
        for p in self.tree():
            with contextlib.suppress(psutil.Error):
                t = p.cpu_times()
                total += t.user + t.system + t.children_user + t.children_system
        return total

    def rss(self) -> int:
        total = 0
        for p in self.tree():
            with contextlib.suppress(psutil.Error):
                total += p.memory_info().rss
        return total

    async def kill(self) -> None:
        """SIGKILL the whole tree at once (a crash, an OOM kill, a pulled plug)."""
        for p in self.tree():
            with contextlib.suppress(psutil.Error):
                p.kill()
        await self.process.wait()

    async def stop(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            self.process.terminate()
        try:
            await asyncio.wait_for(self.process.wait(), 30)
        except TimeoutError:
            for p in reversed(self.tree()):
                with contextlib.suppress(psutil.Error):
                    p.kill()
            await self.process.wait()


class Postgres:
    """CPU time of the PostgreSQL server (postmaster, backends, reaped backends)."""

    def __init__(self, pid: int | None):
        self.proc = psutil.Process(pid) if pid else None

    def cpu(self) -> float:
        if self.proc is None:
            return float("nan")
        return Measured.cpu(self)  # type: ignore[arg-type]

    def tree(self) -> list[psutil.Process]:
        assert self.proc is not None
        with contextlib.suppress(psutil.Error):
            return [self.proc, *self.proc.children()]
        return []


@dataclass
class Load:
    """Figures of one load phase against one server."""

    messages: int = 0
    seconds: float = 0.0
    cpu: float = 0.0
    db_cpu: float = float("nan")
    #: CPU of the load generator (this process)
    gen_cpu: float = float("nan")
    #: cores busy on the whole machine (every process and the kernel), averaged over the phase
    busy_cores: float = float("nan")
    p50_ms: float = float("nan")
    p99_ms: float = float("nan")
    errors: int = 0
    #: group-commit transactions and the writes they held (csms only)
    commits: float = float("nan")
    commit_writes: float = float("nan")
    #: seconds the server spent in garbage collections, and how many took over 25 ms (csms)
    gc_s: float = float("nan")
    gc_long: float = float("nan")
    #: every answer's latency, seconds
    latencies: list[float] = field(default_factory=list, repr=False)

    @classmethod
    def combine(cls, parts: list[Load]) -> Load:
        """One load made of ``parts`` (slices of the same load at different times)."""
        seconds = sum(p.seconds for p in parts)
        latencies = [x for p in parts for x in p.latencies]
        return cls(messages=sum(p.messages for p in parts), seconds=seconds,
                   cpu=sum(p.cpu for p in parts), db_cpu=sum(p.db_cpu for p in parts),
                   gen_cpu=sum(p.gen_cpu for p in parts),
                   busy_cores=sum(p.busy_cores * p.seconds for p in parts) / seconds,
                   p50_ms=1000 * percentile(latencies, 0.5),
                   p99_ms=1000 * percentile(latencies, 0.99),
                   errors=sum(p.errors for p in parts), latencies=latencies,
                   commits=sum(p.commits for p in parts),
                   commit_writes=sum(p.commit_writes for p in parts),
                   gc_s=sum(p.gc_s for p in parts), gc_long=sum(p.gc_long for p in parts))

    @property
    def rate(self) -> float:
        return self.messages / self.seconds if self.seconds else 0.0

    @property
    def cpu_per_1000(self) -> float:
        return 1000 * self.cpu / self.messages if self.messages else float("nan")

    @property
    def per_commit(self) -> float:
        """Writes per group-commit transaction (NaN for the reference servers)."""
        return self.commit_writes / self.commits if self.commits else float("nan")


@dataclass
class Report:
    figures: dict[str, Any] = field(default_factory=dict)
    loads: dict[str, Load] = field(default_factory=dict)


class CpuCaps:
    """One cgroup per worker process, each capped at ``cores`` of CPU time (the Linux CFS
    quota; cgroup v2, or v1's ``cpu`` controller). Needs a writable cgroup file system (root).

    With ``--scaling --worker-cores F`` every worker gets its own share of the machine, as on a
    machine with a (slower) core for each worker, and PostgreSQL and the load generator keep
    the rest: what is left to measure is how the workers themselves scale.
    """

    PERIOD_US = 100_000

    def __init__(self, cores: float):
        self.cores = cores
        self.root = self._find_root()
        self.made: list[Path] = []

    @staticmethod
    def _find_root() -> tuple[Path, int]:
        v2 = Path("/sys/fs/cgroup")
        if (v2 / "cgroup.controllers").exists() and "cpu" in (
                v2 / "cgroup.subtree_control").read_text().split():
            return v2, 2
        v1 = Path("/sys/fs/cgroup/cpu")
        if (v1 / "cpu.cfs_quota_us").exists():
            return v1, 1
        raise SystemExit("--worker-cores: no cgroup cpu controller found (cgroup v2 with the cpu "
                         "controller enabled, or v1's /sys/fs/cgroup/cpu)")

    def cap(self, pid: int) -> None:
        """Put process ``pid`` into a cgroup of its own capped at ``cores``."""
        base, version = self.root
        group = base / f"csms-bench-{os.getpid()}-{len(self.made)}"
        try:
            group.mkdir()
            self.made.append(group)
            quota = int(self.cores * self.PERIOD_US)
            if version == 2:
                (group / "cpu.max").write_text(f"{quota} {self.PERIOD_US}")
            else:
                (group / "cpu.cfs_period_us").write_text(str(self.PERIOD_US))
                (group / "cpu.cfs_quota_us").write_text(str(quota))
            (group / "cgroup.procs").write_text(str(pid))
        except OSError as exc:
            raise SystemExit(f"--worker-cores: cannot set up {group}: {exc}") from exc

    def remove(self) -> None:
        """Remove the cgroups (their processes have exited)."""
        for group in self.made:
            with contextlib.suppress(OSError):
                group.rmdir()
        self.made.clear()


def worker_pids(server: Measured) -> list[int]:
    """The processes of ``server`` that serve stations: its spawned workers, else itself."""
    workers = []
    for p in server.tree()[1:]:
        with contextlib.suppress(psutil.Error):
            if "spawn_main" in " ".join(p.cmdline()):
                workers.append(p.pid)
    return workers or [server.root.pid]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def wait_listening(port: int, process: asyncio.subprocess.Process, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.returncode is not None:
            raise RuntimeError(f"server exited with {process.returncode}")
        try:
            _, writer = await asyncio.open_connection("127.0.0.1", port)
        except OSError:
            await asyncio.sleep(0.1)
            continue
        writer.close()
        return
    raise RuntimeError(f"nothing listens on port {port} after {timeout} s")


async def start(args: list[str], port: int, *, wait: bool = True, prefix: list[str] | None = None,
                timeout: float = 60) -> Measured:
    """Start ``python args`` (behind ``prefix``, a program that runs it, such as valgrind) and,
    with ``wait``, wait until it listens on ``port``."""
    process = await asyncio.create_subprocess_exec(
        *(prefix or []), sys.executable, *args, stdout=asyncio.subprocess.DEVNULL,
        stderr=None if os.environ.get("BENCH_VERBOSE") else asyncio.subprocess.DEVNULL)
    if wait:
        await wait_listening(port, process, timeout)
    return Measured(process)


class Counters:
    """CPU seconds of the server, PostgreSQL, the load generator and the whole machine at the
    start of a phase; :meth:`load` turns them into the phase's figures."""

    def __init__(self, server: Measured, pg: Postgres, gen: psutil.Process):
        self.server, self.pg, self.gen = server, pg, gen
        self.metrics = server.scrape()
        self.start = self._read()

    def _read(self) -> tuple[float, float, float, float, float]:
        return (self.server.cpu(), self.pg.cpu(), sum(self.gen.cpu_times()[:2]), machine_busy(),
                time.perf_counter())

    def load(self, answered: int, errors: int, latencies: list[float]) -> Load:
        cpu, db, gen, busy, seconds = (b - a for a, b in zip(self.start, self._read(),
                                                            strict=True))
        after = self.server.scrape()
        m = {key: after[key] - self.metrics[key] for key in after}
        return Load(messages=answered, seconds=seconds, cpu=cpu, db_cpu=db, gen_cpu=gen,
                    busy_cores=busy / seconds, p50_ms=1000 * percentile(latencies, 0.5),
                    p99_ms=1000 * percentile(latencies, 0.99), errors=errors,
                    latencies=latencies, commits=m["batches"], commit_writes=m["writes"],
                    gc_s=m["gc_s"], gc_long=m["gcs"] - m["gcs_short"])


async def measure(fleet: Fleet, server: Measured, pg: Postgres, run: Any) -> Load:
    """Run the load coroutine ``run`` and return what it cost ``server``."""
    fleet.stats.reset()
    counters = Counters(server, pg, psutil.Process())
    await run
    await asyncio.sleep(0.3)  # let the last answers in
    stats = fleet.stats
    return counters.load(stats.answered, stats.errors, list(stats.latencies))


def machine_busy() -> float:
    """CPU seconds the whole machine has spent busy (anything but idle and I/O wait)."""
    t = psutil.cpu_times()
    # on Linux guest time is counted in user time already
    skip = ("idle", "iowait", "guest", "guest_nice")
    return sum(v for k, v in t._asdict().items() if k not in skip)


async def register(url: str, n: int, cost: int, keys: PasswordKeys | None = None, *,
                   migrate: bool = True) -> list[str]:
    """Register stations BENCH-00000.. sharing one scrypt hash (computed once) of cost 2**cost;
    with ``keys``, each with its verifier, as ``csms stations import`` stores them on a host
    that has the node's password key. ``migrate``: bring the schema up to this checkout's
    first (off: another version's code migrated it, ``bench_ab.py``)."""
    ids = [f"BENCH-{i:05d}" for i in range(n)]
    hashed = hash_password(PASSWORD, log2_n=cost)
    pool = await open_pool(url, max_size=2, apply_migrations=migrate)
    try:
        await pool.copy_records_to_table(
            "stations", records=[
                (i, hashed, 1, keys.verifier(i, PASSWORD, hashed) if keys else None)
                for i in ids],
            columns=["id", "password_hash", "security_profile", "password_verifier"])
    finally:
        await pool.close()
    return ids


async def dispatch(url: str, ids: list[str], *, fleet: Fleet | None = None,
                   timeout: float = 120, poll: float = 0.05) -> tuple[float, int]:
    """SetChargingProfile to every station through the command table, polled every ``poll`` s
    until every command is final or ``timeout`` s have passed; (seconds, answered). A ``fleet``
    in this process has its counters reset at the start."""
    from csms.store.commands import submit_commands

    conn = await asyncpg.connect(url)
    try:
        if fleet is not None:
            fleet.stats.reset()
        t0 = time.perf_counter()
        command_ids = await submit_commands(conn, ids, "SetChargingProfile", PROFILE)
        while True:
            final = await conn.fetchval(
                "SELECT count(*) FROM commands WHERE id = ANY($1::bigint[])"
                " AND status NOT IN ('pending', 'sent')", command_ids)
            if final >= len(command_ids) or time.perf_counter() - t0 > timeout:
                break
            await asyncio.sleep(poll)
        seconds = time.perf_counter() - t0
        answered = await conn.fetchval(
            "SELECT count(*) FROM commands WHERE id = ANY($1::bigint[]) AND status = 'answered'",
            command_ids)
    finally:
        await conn.close()
    return seconds, answered


class Floor:
    """The echo floor measured beside the CSMS: the echo server, and its fleet in a process
    of its own (``fleet_process.py``), connected all along, loaded in alternating slices."""

    def __init__(self, server: Measured, fleet: asyncio.subprocess.Process):
        self.server = server
        self.fleet = fleet
        self.gen = psutil.Process(fleet.pid)

    @classmethod
    async def start(cls, opts: argparse.Namespace) -> Floor:
        port = free_port()
        server = await start([str(HERE / "bench_servers.py"), "echo", "--port", str(port),
                              "--loop", opts.loop], port)
        fleet = await asyncio.create_subprocess_exec(
            sys.executable, str(HERE / "fleet_process.py"), "--port", str(port),
            "--sources", str(opts.sources), *(["--deflate"] if opts.deflate else []),
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, limit=2**26)
        return cls(server, fleet)

    async def _ask(self, request: dict[str, Any]) -> dict[str, Any]:
        assert self.fleet.stdin is not None and self.fleet.stdout is not None
        self.fleet.stdin.write(json.dumps(request).encode() + b"\n")
        await self.fleet.stdin.drain()
        line = await self.fleet.stdout.readline()
        if not line:
            raise RuntimeError("the floor's fleet process exited")
        return json.loads(line)

    async def storm(self, ids: list[str]) -> None:
        await self._ask({"op": "storm", "ids": ids})

    async def measure(self, pg: Postgres, rate: float, seconds: float) -> Load:
        """``rate`` messages/s to the echo for ``seconds``: what it cost the echo."""
        counters = Counters(self.server, pg, self.gen)
        answer = await self._ask({"op": "rate", "rate": rate, "seconds": seconds})
        return counters.load(answer["answered"], answer["errors"], answer["latencies"])

    async def stop(self) -> None:
        if self.fleet.stdin is not None:
            self.fleet.stdin.close()
        try:
            await asyncio.wait_for(self.fleet.wait(), 30)
        except TimeoutError:
            self.fleet.kill()
        await self.server.stop()


def floor_ids(opts: argparse.Namespace) -> list[str]:
    return [f"REF-{i:05d}" for i in range(min(opts.stations, opts.floor_stations or opts.stations))]


async def sustained(opts: argparse.Namespace, fleet: Fleet, server: Measured, pg: Postgres,
                    report: Report) -> None:
    """The sustained load on the CSMS; with the echo floor, in ``--rounds`` slices, each
    followed by the same slice on the echo (the floor then is measured in the same minutes)."""
    if opts.skip_echo:
        report.loads["csms sustained"] = await measure(
            fleet, server, pg, fleet.run_rate(opts.rate, opts.duration))
        return
    floor = await Floor.start(opts)
    f = report.figures
    try:
        await floor.storm(floor_ids(opts))
        # What the storms left (verifiers, the collector's work, the fleets' first pings) is
        # not the messages' cost: both servers first come to rest, then their idle CPU is read.
        f["csms_settle_s"] = await settle(server, opts.settle_max)
        f["echo_settle_s"] = await settle(floor.server, opts.settle_max)
        f["csms_idle_cores"] = await idle_cores(server, opts.idle)
        f["echo_idle_cores"] = await idle_cores(floor.server, opts.idle)
        mine, echo = [], []
        for _ in range(opts.rounds):
            mine.append(await measure(
                fleet, server, pg, fleet.run_rate(opts.rate, opts.duration / opts.rounds)))
            echo.append(await floor.measure(pg, opts.rate, opts.duration / opts.rounds))
        report.loads["csms sustained"] = Load.combine(mine)
        report.loads["echo sustained"] = Load.combine(echo)
        # a round too short for the process clocks to see the echo's CPU has no ratio
        pairs = [(m, e) for m, e in zip(mine, echo, strict=True)
                 if m.messages and e.messages and e.cpu_per_1000 > 0]
        if pairs:
            rounds = [m.cpu_per_1000 / e.cpu_per_1000 for m, e in pairs]
            f["cpu_ratio_rounds"] = " ".join(f"{r:.2f}" for r in rounds)
            f["cpu_ratio_median"] = statistics.median(rounds)
            # the same without each server's idle CPU (timers, pings) over the slice: what
            # the messages themselves cost
            net = [(m.cpu - f["csms_idle_cores"] * m.seconds)
                   / max(e.cpu - f["echo_idle_cores"] * e.seconds, 1e-9) * e.messages
                   / m.messages for m, e in pairs]
            f["cpu_ratio_net_rounds"] = " ".join(f"{r:.2f}" for r in net)
            f["cpu_ratio_net_median"] = statistics.median(net)
    finally:
        await floor.stop()


async def settle(server: Measured, limit: float, *, window: float = 2.0,
                 cores: float = 0.05) -> float:
    """Wait until ``server`` uses at most ``cores`` over a ``window`` (or ``limit`` seconds
    have passed); returns the seconds waited."""
    t0 = time.perf_counter()
    while time.perf_counter() - t0 < limit:
        before = server.cpu()
        await asyncio.sleep(window)
        if (server.cpu() - before) / window <= cores:
            break
    return time.perf_counter() - t0


async def idle_cores(server: Measured, seconds: float) -> float:
    """The cores ``server`` uses with its fleet connected and quiet, over ``seconds``."""
    before, t0 = server.cpu(), time.perf_counter()
    await asyncio.sleep(seconds)
    return (server.cpu() - before) / (time.perf_counter() - t0)


def serve_args(opts: argparse.Namespace, url: str, port: int, workers: int,
               metrics_port: int) -> list[str]:
    """``csms serve`` as the benchmark runs it: its own password key file (made at the first
    start, kept across restarts), as an operator's node has, and its /metrics on
    ``metrics_port`` (the benchmark reads the group commits' sizes there)."""
    return ["-m", "csms", "serve", "--host", "127.0.0.1", "--port", str(port),
            "--database-url", url, "--log-level", "warning", "--workers", str(workers),
            "--password-key-file", str(opts.key_file), "--metrics-port", str(metrics_port),
            "--loop", opts.loop]


async def start_csms(opts: argparse.Namespace, url: str, port: int, workers: int, *,
                     wait: bool = True, prefix: list[str] | None = None,
                     timeout: float = 60) -> Measured:
    """``csms serve`` (see :func:`serve_args`) as a measured process."""
    metrics_port = free_port()
    server = await start(serve_args(opts, url, port, workers, metrics_port), port, wait=wait,
                         prefix=prefix, timeout=timeout)
    server.metrics_port = metrics_port
    return server


async def restart_storm(opts: argparse.Namespace, url: str, port: int, fleet: Fleet,
                        ids: list[str], server: Measured, report: Report) -> Measured:
    """Kill the server with every station connected, start it again at once: seconds from
    the new process's start until every station is back and Accepted; returns the new
    server."""
    f = report.figures
    conn = await asyncpg.connect(url)
    try:
        f["verifiers_stored"] = await conn.fetchval(
            "SELECT count(*) FROM stations WHERE password_verifier IS NOT NULL")
    finally:
        await conn.close()
    await server.kill()
    fleet.close_all()  # the kernel reset every socket; the stations notice and reconnect
    t0, busy0 = time.perf_counter(), machine_busy()
    server = await start_csms(opts, url, port, opts.workers, wait=False)
    _, f["restart_retries"] = await fleet.storm(ids)
    seconds = time.perf_counter() - t0
    f["restart_storm_s"] = seconds
    f["restart_storm_cpu_s"] = server.cpu()  # the new process's, from its start
    f["restart_storm_busy_cores"] = (machine_busy() - busy0) / seconds
    return server


async def bench_csms(opts: argparse.Namespace, url: str, pg: Postgres, report: Report) -> None:
    keys = load_keys(opts.key_file, create=True) if opts.import_verifiers else None
    ids = await register(url, opts.stations, opts.hash_cost, keys)
    port = free_port()
    server = await start_csms(opts, url, port, opts.workers)
    fleet = Fleet("127.0.0.1", port, password=PASSWORD, deflate=opts.deflate,
                  sources=opts.sources)
    f = report.figures
    try:
        await asyncio.sleep(1.0)
        rss0, cpu0 = server.rss(), server.cpu()
        f["boot_storm_s"], f["boot_storm_retries"] = await fleet.storm(ids)
        f["boot_storm_cpu_s"] = server.cpu() - cpu0
        await asyncio.sleep(2.0)
        f["rss_mb"] = server.rss() / 2**20
        f["rss_per_station_kb"] = (server.rss() - rss0) / 1024 / len(ids)
        if opts.restart_storm:
            await asyncio.sleep(3.0)  # the last verifiers written
            server = await restart_storm(opts, url, port, fleet, ids, server, report)
        if not opts.storms_only:
            await sustained(opts, fleet, server, pg, report)
            report.loads["csms saturated"] = await measure(
                fleet, server, pg, fleet.run_closed(opts.duration / 2, opts.saturate_stations))
            f["dispatch_s"], f["dispatch_answered"] = await dispatch(url, ids, fleet=fleet)
        fleet.close_all()
        await asyncio.sleep(3.0)
        f["reconnect_storm_s"], f["reconnect_retries"] = await fleet.storm(ids)
        f["rss_after_mb"] = server.rss() / 2**20
    finally:
        fleet.close_all()
        await server.stop()


async def bench_scaling(opts: argparse.Namespace, url: str, pg: Postgres, report: Report) -> None:
    """Saturated throughput of 1 and of 2 workers, each on a fresh server."""
    ids = [f"BENCH-{i:05d}" for i in range(min(opts.stations, opts.saturate_stations))]
    caps = CpuCaps(opts.worker_cores) if opts.worker_cores else None
    for workers in (1, 2):
        port = free_port()
        server = await start_csms(opts, url, port, workers)
        fleet = Fleet("127.0.0.1", port, password=PASSWORD, deflate=opts.deflate,
                      sources=opts.sources)
        try:
            await asyncio.sleep(2.0)  # every worker listening
            if caps is not None:
                for pid in worker_pids(server):
                    caps.cap(pid)
            await fleet.storm(ids)
            report.loads[f"csms {workers}w saturated"] = await measure(
                fleet, server, pg, fleet.run_closed(opts.duration / 2, len(ids)))
        finally:
            fleet.close_all()
            await server.stop()
            if caps is not None:
                caps.remove()
        await asyncio.sleep(1.0)


async def bench_reference(kind: str, opts: argparse.Namespace, url: str, pg: Postgres,
                          report: Report) -> None:
    port = free_port()
    server = await start([str(HERE / "bench_servers.py"), kind, "--port", str(port),
                          "--database-url", url, "--loop", opts.loop], port)
    fleet = Fleet("127.0.0.1", port, deflate=opts.deflate, sources=opts.sources)
    try:
        await fleet.storm(floor_ids(opts))
        if kind != "echo":  # the echo's sustained load ran beside the CSMS's
            report.loads[f"{kind} sustained"] = await measure(
                fleet, server, pg, fleet.run_rate(opts.rate, opts.duration))
        report.loads[f"{kind} saturated"] = await measure(
            fleet, server, pg, fleet.run_closed(opts.duration / 2, opts.saturate_stations))
    finally:
        fleet.close_all()
        await server.stop()


async def bench_instructions(opts: argparse.Namespace, url: str, tmp: Path,
                             report: Report) -> None:
    """Instructions per message of the CSMS and of the echo floor, each server under
    callgrind (:mod:`tests.benchmarks.callgrind`), the same sustained load in ``--rounds``
    alternating slices; a figure that the machine's load does not move."""
    from tests.benchmarks import callgrind

    if not callgrind.available():
        raise SystemExit("--instructions: valgrind (with callgrind_control) is not installed")
    out_dir = tmp / "callgrind"
    out_dir.mkdir()
    keys = load_keys(opts.key_file, create=True)  # verifiers: no scrypt under valgrind
    ids = await register(url, opts.stations, opts.hash_cost, keys)
    port, echo_port = free_port(), free_port()
    slow = 900  # seconds to start under valgrind (imports, validators)
    server = await start_csms(opts, url, port, 1, prefix=callgrind.command(out_dir, "csms"),
                              timeout=slow)
    echo = await start([str(HERE / "bench_servers.py"), "echo", "--port", str(echo_port),
                        "--loop", opts.loop], echo_port,
                       prefix=callgrind.command(out_dir, "echo"), timeout=slow)
    fleet = Fleet("127.0.0.1", port, password=PASSWORD, sources=opts.sources)
    floor = Fleet("127.0.0.1", echo_port, sources=opts.sources)
    counted = {"csms": callgrind.Callgrind(server.root.pid, out_dir, "csms"),
               "echo": callgrind.Callgrind(echo.root.pid, out_dir, "echo")}
    totals = {"csms": [0, 0, 0], "echo": [0, 0, 0]}  # instructions loaded, idle; messages
    f = report.figures
    try:
        await fleet.storm(ids)
        await floor.storm(floor_ids(opts))
        for counter in counted.values():
            await counter.start_counting()
        before = server.scrape()
        seconds = opts.duration / opts.rounds
        for _ in range(opts.rounds):
            for name, load in (("csms", fleet), ("echo", floor)):
                load.stats.reset()
                totals[name][0] += await counted[name].count(_paced(load, opts.rate, seconds))
                totals[name][2] += load.stats.answered
                f[f"{name}_errors"] = f.get(f"{name}_errors", 0) + load.stats.errors
                # what the server does without messages (timers, pings, its periodic tasks)
                # in a window as long, taken off: per message counts the messages' work only
                totals[name][1] += await counted[name].count(_paced(load, 0, seconds))
        after = server.scrape()
        f["csms_writes_per_commit"] = ((after["writes"] - before["writes"])
                                       / max(after["batches"] - before["batches"], 1))
    finally:
        fleet.close_all()
        floor.close_all()
        await server.stop()
        await echo.stop()
    for name, (loaded, idle, messages) in totals.items():
        f[f"{name}_messages"] = messages
        f[f"{name}_idle_instructions_per_s"] = idle / opts.duration
        f[f"{name}_instructions_per_msg"] = (loaded - idle) / max(messages, 1)
    f["instructions csms/echo"] = (f["csms_instructions_per_msg"]
                                   / f["echo_instructions_per_msg"])


async def _paced(fleet: Fleet, rate: float, seconds: float) -> None:
    """``rate`` messages/s for ``seconds`` (none at rate 0), and the last answers."""
    if rate:
        await fleet.run_rate(rate, seconds)
    else:
        await asyncio.sleep(seconds)
    await asyncio.sleep(1.0)


def print_report(opts: argparse.Namespace, report: Report) -> None:
    f = report.figures
    print(f"stations={opts.stations} rate={opts.rate:g}/s duration={opts.duration:g}s "
          f"workers={opts.workers} loop={opts.loop} deflate={opts.deflate} "
          f"hash_cost=2**{opts.hash_cost} "
          f"cpus={os.cpu_count()}"
          + (f" worker_cores={opts.worker_cores:g}" if opts.worker_cores else ""))
    for key, value in f.items():
        print(f"{key:24} {value:10.3f}" if isinstance(value, float) else f"{key:24} {value:>10}")
    print(f"{'load':18} {'msgs':>8} {'msg/s':>8} {'cpu_s/1k':>9} {'db_cpu/1k':>9} "
          f"{'gen_cpu/1k':>10} {'p50_ms':>8} {'p99_ms':>8} {'errors':>6} {'busy':>5} "
          f"{'per_commit':>10} {'gc_ms/s':>7} {'gc>25ms':>7}")
    for name, load in report.loads.items():
        print(f"{name:18} {load.messages:8d} {load.rate:8.0f} {load.cpu_per_1000:9.3f} "
              f"{1000 * load.db_cpu / max(load.messages, 1):9.3f} "
              f"{1000 * load.gen_cpu / max(load.messages, 1):10.3f} {load.p50_ms:8.1f} "
              f"{load.p99_ms:8.1f} {load.errors:6d} {load.busy_cores:5.2f} "
              f"{load.per_commit:10.1f} {1000 * load.gc_s / load.seconds:7.1f} "
              f"{load.gc_long:7.0f}")
    ratios = {}
    loads = report.loads
    for shape in ("sustained", "saturated"):
        csms = loads.get(f"csms {shape}")
        for ref in ("echo", "ocpp"):
            other = loads.get(f"{ref} {shape}")
            if csms and other and csms.messages and other.messages:
                ratios[f"cpu csms/{ref} {shape}"] = csms.cpu_per_1000 / other.cpu_per_1000
                ratios[f"rate csms/{ref} {shape}"] = csms.rate / other.rate
    one, two = loads.get("csms 1w saturated"), loads.get("csms 2w saturated")
    if one and two and one.messages:
        ratios["rate 2 workers/1 worker"] = two.rate / one.rate
    for key, value in ratios.items():
        print(f"{key:28} {value:8.2f}")
    if opts.json:
        out = {"figures": f, "ratios": ratios,
               "loads": {k: {**{n: x for n, x in vars(v).items() if n != "latencies"},
                             "rate": v.rate, "cpu_per_1000": v.cpu_per_1000,
                             "per_commit": v.per_commit}
                         for k, v in loads.items()}}
        Path(opts.json).write_text(json.dumps(out, indent=2, default=str))


async def run(opts: argparse.Namespace) -> Report:
    report = Report()
    with tempfile.TemporaryDirectory(prefix="csms-bench-") as tmp:
        opts.key_file = Path(tmp) / "password-key"
        suffix = uuid.uuid4().hex[:8]
        async with databases(opts.database_url, Path(tmp),
                             [f"bench_csms_{suffix}", f"bench_ocpp_{suffix}"]) as (urls, pg):
            csms_url, ocpp_url = urls
            if opts.instructions:
                await bench_instructions(opts, csms_url, Path(tmp), report)
                return report
            await bench_csms(opts, csms_url, pg, report)
            if opts.scaling:
                await bench_scaling(opts, csms_url, pg, report)
            if not opts.skip_echo:
                await bench_reference("echo", opts, "", pg, report)
            if not opts.skip_ocpp:
                (await open_pool(ocpp_url, max_size=1)).terminate()
                await bench_reference("ocpp", opts, ocpp_url, pg, report)
    return report


@contextlib.asynccontextmanager
async def databases(database_url: str, tmp: Path,
                    names: list[str]) -> AsyncIterator[tuple[list[str], Postgres]]:
    """A fresh database of each name for one run, dropped after it: on the server at
    ``database_url``, or on a PostgreSQL embedded in ``tmp`` (whose CPU is then measured).
    Yields the databases' URLs, in the order of ``names``, and the server's ``Postgres``."""
    if database_url:
        server_url, pid = database_url, None
    else:
        from csms.store.embedded import start_embedded
        server_url = start_embedded(tmp, cleanup_mode="delete")
        pid = int((tmp / "pgdata" / "postmaster.pid").read_text().split()[0])
    parts = urlsplit(server_url)
    urls = [urlunsplit((parts.scheme, parts.netloc, "/" + name, parts.query, parts.fragment))
            for name in names]
    await _admin(server_url, [f"CREATE DATABASE {name}" for name in names])
    try:
        yield urls, Postgres(pid)
    finally:
        await _admin(server_url, [f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"
                                  for name in names])


async def _admin(url: str, statements: list[str]) -> None:
    admin = await asyncpg.connect(url)
    try:
        for sql in statements:
            await admin.execute(sql)
    finally:
        await admin.close()


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--stations", type=int, default=2000)
    p.add_argument("--rate", type=float, default=2000.0, help="sustained messages/s")
    p.add_argument("--duration", type=float, default=20.0, help="seconds of sustained load")
    p.add_argument("--saturate-stations", type=int, default=500)
    p.add_argument("--floor-stations", type=int, default=0,
                   help="stations connected to the echo and ocpp servers (default: as many as "
                   "to the CSMS, the same load shape)")
    p.add_argument("--rounds", type=int, default=3,
                   help="slices of the sustained load, alternating between the CSMS and the "
                   "echo floor (both connected all along), so that both are measured in the "
                   "same minutes")
    p.add_argument("--settle-max", type=float, default=90.0,
                   help="before the sustained rounds, wait up to this long for each server to "
                   "come to rest after its storm (under 0.05 cores over 2 s)")
    p.add_argument("--idle", type=float, default=30.0,
                   help="seconds each server's idle CPU is read before the rounds "
                   "(cpu_ratio_net_* takes it off); the websocket ping interval (30 s) makes "
                   "every station's keepalive count once in each window")
    p.add_argument("--workers", type=int, default=1)
    p.add_argument("--loop", choices=("uvloop", "asyncio"), default="uvloop",
                   help="the event loop of every server measured (csms serve --loop): the "
                   "CSMS and its floor always run on the same one")
    p.add_argument("--hash-cost", type=int, default=GENERATED_LOG2_N,
                   help="log2 of scrypt n of the stored password hash (default: the cost of "
                   f"a generated password, {GENERATED_LOG2_N}; {CHOSEN_LOG2_N}: one a person "
                   "chose)")
    p.add_argument("--deflate", action="store_true", help="negotiate permessage-deflate")
    p.add_argument("--sources", type=int, default=4, help="source addresses 127.0.0.2..")
    p.add_argument("--scaling", action="store_true",
                   help="also compare the saturated throughput of 1 and 2 workers")
    p.add_argument("--worker-cores", type=float, default=0.0,
                   help="with --scaling: cap every worker at this many cores (a cgroup each; "
                   "needs root), so that the workers' scaling is measured apart from the "
                   "cores PostgreSQL and the load generator take")
    p.add_argument("--restart-storm", action="store_true",
                   help="after the boot storm, kill the server (SIGKILL) with every station "
                   "connected and start it again: seconds until all are back and Accepted")
    p.add_argument("--import-verifiers", action="store_true",
                   help="store each station's password verifier at registration, as "
                   "'csms stations import' does on a host with the node's password key "
                   "(without it the first boot storm checks every password with scrypt and "
                   "stores the verifiers then)")
    p.add_argument("--storms-only", action="store_true",
                   help="measure the storms and memory only (no load, dispatch or baselines)")
    p.add_argument("--instructions", action="store_true",
                   help="instead of the phases above: instructions per message of the CSMS "
                   "and the echo floor, each under valgrind's callgrind, the sustained load "
                   "alternating between them in --rounds slices (use a small fleet and rate: "
                   "callgrind runs a server 50 to 100 times slower)")
    p.add_argument("--skip-echo", action="store_true")
    p.add_argument("--skip-ocpp", action="store_true")
    p.add_argument("--database-url", default="", help="PostgreSQL server (default: embedded)")
    p.add_argument("--json", default="", help="also write the figures to this file")
    opts = p.parse_args(argv)
    if opts.storms_only:
        opts.skip_echo = opts.skip_ocpp = True
        opts.scaling = False
    if opts.rounds < 1:
        p.error("--rounds: must be at least 1")
    if opts.worker_cores < 0 or opts.worker_cores > (os.cpu_count() or 1):
        p.error(f"--worker-cores: must be between 0 and {os.cpu_count()}")
    return opts


def main(argv: list[str] | None = None) -> None:
    opts = parse(argv)
    report = asyncio.run(run(opts))
    print_report(opts, report)


if __name__ == "__main__":
    main()

"""Benchmark: two versions of the CSMS under the same load, in alternating rounds.

A change to the message path moves the CSMS's CPU per message by a few per cent; on a shared
machine the CPU per message of one server moves by more than that from one half-minute to the
next. Comparing two runs of ``bench_csms.py`` made minutes apart therefore says little. Here
both versions run at once, each a ``csms serve`` of its own with its own fleet and database on
one PostgreSQL, and the sustained load alternates between them in short rounds (the order
swapped every round): each round of the base has a round of the change beside it, and the
per-pair ratio of their CPU per message, and its median, is the figure. PostgreSQL's CPU per
message is read for each version's database (its backends' CPU time).

The base is a git revision, checked out in a temporary worktree and run from there
(``PYTHONPATH``); its database is migrated by its own code. The change is this checkout.

Reproduce (docs/performance.md)::

    python tests/benchmarks/bench_ab.py --base HEAD~1 --stations 5000 --rate 2000 \
        --round-s 10 --rounds 12
    python tests/benchmarks/bench_ab.py --base HEAD~1 --stations 1000 --saturate 1000 \
        --round-s 10 --rounds 6
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import psutil

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
sys.path.insert(0, str(ROOT))

from tests.benchmarks import bench_csms as bench  # noqa: E402
from tests.benchmarks.loadgen import Fleet  # noqa: E402

_MIGRATE = """
import asyncio, sys
import asyncpg
from csms.store.migrate import migrate
async def main():
    conn = await asyncpg.connect(sys.argv[1])
    try:
        await migrate(conn)
    finally:
        await conn.close()
asyncio.run(main())
"""


@contextlib.contextmanager
def worktree(revision: str) -> Iterator[Path]:
    """``revision`` checked out in a temporary directory (removed afterwards)."""
    with tempfile.TemporaryDirectory(prefix="csms-base-") as tmp:
        path = Path(tmp) / "tree"
        subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "--detach", "--quiet",
                        str(path), revision], check=True)
        try:
            yield path
        finally:
            subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force",
                            str(path)], check=False)


@contextlib.contextmanager
def code_of(tree: Path | None) -> Iterator[None]:
    """Processes started inside import ``csms`` from ``tree`` (None: this checkout): it is
    their working directory (``python -m`` puts that first on the path) and on PYTHONPATH."""
    if tree is None:
        yield
        return
    before, cwd = os.environ.get("PYTHONPATH"), Path.cwd()
    os.environ["PYTHONPATH"] = str(tree)
    os.chdir(tree)
    try:
        yield
    finally:
        os.chdir(cwd)
        if before is None:
            os.environ.pop("PYTHONPATH", None)
        else:
            os.environ["PYTHONPATH"] = before


async def package_of(tree: Path | None) -> Path:
    """Where a process started under :func:`code_of` finds the ``csms`` package."""
    with code_of(tree):
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-c", "import csms; print(csms.__file__)",
            stdout=asyncio.subprocess.PIPE)
        out, _ = await process.communicate()
    return Path(out.decode().strip()).parent


async def migrate_with(tree: Path | None, url: str) -> None:
    """The database at ``url`` migrated by the code in ``tree``."""
    with code_of(tree):
        process = await asyncio.create_subprocess_exec(sys.executable, "-c", _MIGRATE, url)
        if await process.wait() != 0:
            raise SystemExit(f"migrating {url} with {tree or 'this checkout'} failed")


def database_cpu(pg: bench.Postgres, name: str) -> float:
    """CPU seconds of the PostgreSQL backends connected to database ``name`` (NaN for a server
    not on this machine)."""
    if pg.proc is None:
        return float("nan")
    total = 0.0
    for process in pg.tree():
        with contextlib.suppress(psutil.Error):
            if f" {name} " in " ".join(process.cmdline()) + " ":
                times = process.cpu_times()
                total += times.user + times.system
    return total


class Side:
    """One version: its server, fleet and database, and its rounds' figures."""

    def __init__(self, label: str, tree: Path | None, database: str):
        self.label, self.tree, self.database = label, tree, database
        self.server: bench.Measured | None = None
        self.fleet: Fleet | None = None
        self.csms_ms: list[float] = []
        self.db_ms: list[float] = []
        self.rates: list[float] = []

    async def start(self, opts: argparse.Namespace, url: str) -> None:
        package = await package_of(self.tree)
        expected = (self.tree or ROOT) / "csms"
        if package.resolve() != expected.resolve():
            raise SystemExit(f"{self.label}: csms comes from {package}, not {expected}")
        print(f"{self.label:6s} runs {package}", flush=True)
        await migrate_with(self.tree, url)
        ids = await bench.register(url, opts.stations, 10, migrate=False)
        port = bench.free_port()
        with code_of(self.tree):
            self.server = await bench.start_csms(opts, url, port, 1)
        self.fleet = Fleet("127.0.0.1", port, password=bench.PASSWORD, sources=4)
        await self.fleet.storm(ids)

    async def round(self, pg: bench.Postgres, opts: argparse.Namespace) -> None:
        assert self.server is not None and self.fleet is not None
        cpu0, db0 = self.server.cpu(), database_cpu(pg, self.database)
        self.fleet.stats.reset()
        started = time.perf_counter()
        if opts.saturate:
            await self.fleet.run_closed(opts.round_s, opts.saturate)
        else:
            await self.fleet.run_rate(opts.rate, opts.round_s)
        seconds = time.perf_counter() - started
        await asyncio.sleep(0.3)  # the last answers' work
        answered = self.fleet.stats.answered
        if not answered:
            raise SystemExit(f"{self.label}: no message answered in a round")
        self.csms_ms.append((self.server.cpu() - cpu0) * 1000 / answered)
        self.db_ms.append((database_cpu(pg, self.database) - db0) * 1000 / answered)
        self.rates.append(answered / seconds)
        print(f"{self.label:6s} round {len(self.csms_ms):2d}: {answered} messages "
              f"({self.rates[-1]:,.0f}/s), csms {self.csms_ms[-1]:.4f} ms/msg, "
              f"postgresql {self.db_ms[-1]:.4f} ms/msg", flush=True)

    async def stop(self) -> None:
        if self.fleet is not None:
            self.fleet.close_all()
        if self.server is not None:
            await self.server.stop()


@contextlib.asynccontextmanager
async def sides(opts: argparse.Namespace, base_tree: Path,
                tmp: Path) -> AsyncIterator[tuple[list[Side], bench.Postgres]]:
    pair = [Side("base", base_tree, "ab_base"), Side("change", None, "ab_change")]
    async with bench.databases(opts.database_url, tmp, [s.database for s in pair]) as (urls, pg):
        try:
            for side, url in zip(pair, urls, strict=True):
                await side.start(opts, url)
            yield pair, pg
        finally:
            for side in pair:
                await side.stop()


async def run(opts: argparse.Namespace) -> dict[str, float]:
    with worktree(opts.base) as base_tree, tempfile.TemporaryDirectory() as tmp:
        opts.key_file = Path(tmp) / "key"
        async with sides(opts, base_tree, Path(tmp)) as (pair, pg):
            await asyncio.sleep(opts.settle)
            for i in range(opts.rounds):
                for side in (pair if i % 2 == 0 else pair[::-1]):
                    await side.round(pg, opts)
    base, change = pair
    ratios = [c / b for b, c in zip(base.csms_ms, change.csms_ms, strict=True)]
    db_ratios = [c / b for b, c in zip(base.db_ms, change.db_ms, strict=True) if b > 0]
    figures = {
        "base_csms_ms_median": statistics.median(base.csms_ms),
        "change_csms_ms_median": statistics.median(change.csms_ms),
        "csms_change_over_base_median": statistics.median(ratios),
        "base_db_ms_median": statistics.median(base.db_ms),
        "change_db_ms_median": statistics.median(change.db_ms),
        "db_change_over_base_median": statistics.median(db_ratios) if db_ratios else float("nan"),
        "base_msgs_per_s_median": statistics.median(base.rates),
        "change_msgs_per_s_median": statistics.median(change.rates),
    }
    print("csms change/base by round  " + " ".join(f"{r:.3f}" for r in ratios))
    for name, value in figures.items():
        print(f"{name:32s} {value:8.4f}")
    return figures


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--base", default="HEAD", help="git revision to compare this checkout with")
    p.add_argument("--stations", type=int, default=5000, help="stations of each version")
    p.add_argument("--rate", type=float, default=2000.0, help="messages/s in each round")
    p.add_argument("--round-s", type=float, default=10.0, help="seconds of each round")
    p.add_argument("--saturate", type=int, default=0, metavar="N",
                   help="rounds of saturated load instead: N stations of each version each "
                   "send as soon as answered (--rate is then unused)")
    p.add_argument("--rounds", type=int, default=12, help="rounds of each version")
    p.add_argument("--settle", type=float, default=20.0,
                   help="seconds of rest after both boot storms")
    p.add_argument("--loop", choices=("uvloop", "asyncio"), default="uvloop")
    p.add_argument("--database-url", default="",
                   help="a PostgreSQL server to use (default: an embedded one, whose CPU is read)")
    opts = p.parse_args(argv)
    for name in ("stations", "rounds"):
        if getattr(opts, name) < 1:
            p.error(f"--{name} must be at least 1")
    if not 0 <= opts.saturate <= opts.stations:
        p.error("--saturate must be between 0 and --stations")
    if opts.rate <= 0 or opts.round_s <= 0:
        p.error("--rate and --round-s must be positive")
    return opts


def main(argv: list[str] | None = None) -> None:
    asyncio.run(run(parse(argv)))


if __name__ == "__main__":
    main()

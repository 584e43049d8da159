"""Backtest of the plug-in forecast on simulated weeks; prints the forecast error.

    .venv/bin/python -m tests.benchmarks.bench_plugin_forecast [--stations 50] [--weeks 8]

For each scenario with a ``[weekly]`` pattern (simulators/scenarios/workplace.toml and
depot.toml), ``--weeks`` weeks of sessions are drawn (simulators/weeks.py) and stored in an
embedded PostgreSQL as the CSMS stores them (TransactionEvents, SoC meter values); the week
after is then forecast, window by window (every day, four 2-hour blocks: the DSGS window's
at the depot, daytime ones at the workplace; America/Los_Angeles), from the stored history
only, and compared with
what that week's drawn sessions could actually hold. Figures: weighted absolute percentage
error of the expectation (sum |expected - actual| / sum actual), its bias, and how often the
actual kW reached the firm (P90) figure (the goal is at least 90 % of windows).
"""

from __future__ import annotations

import argparse
import asyncio
import math
import tempfile
import time
import uuid
from datetime import datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit
from zoneinfo import ZoneInfo

import asyncpg

from csms.grid.service import plugin_outlook
from csms.store.db import open_pool
from csms.store.embedded import start_embedded
from csms.store.grid.records import Program
from simulators.scenario import load_scenario
from simulators.weeks import Visit, draw_weeks
from tests.grid.history import PastSession, store_sessions

SCENARIOS = Path(__file__).resolve().parents[2] / "simulators" / "scenarios"
ZONE = ZoneInfo("America/Los_Angeles")
#: 2-hour windows forecast each day: the DSGS window's blocks at the depot, where the cars are
#: there in the evening; daytime blocks at the workplace, whose cars leave before 6 pm
BLOCKS = {"depot": ((16, 18), (17, 19), (18, 20), (19, 21)),
          "workplace": ((10, 12), (12, 14), (13, 15), (14, 16))}


def actual_kw(visits: list[Visit], start: datetime, end: datetime, program: Program) -> float:
    """What the cars there for the whole window could hold (as the forecast counts it)."""
    hours = (end - start).total_seconds() / 3600
    eta = math.sqrt(program.round_trip_efficiency)
    return sum(min(program.default_charger_kw, max(0.0, (v.soc - program.floor_soc)
                   * program.default_capacity_kwh * eta / hours))
               for v in visits if v.start <= start and v.end >= end)


async def backtest(url: str, scenario_name: str, stations: int, weeks: int) -> None:
    scenario = load_scenario(SCENARIOS / f"{scenario_name}.toml")
    monday = datetime(2026, 5, 4, tzinfo=ZONE)
    ids = [f"{scenario_name[:3].upper()}{n}" for n in range(1, stations + 1)]
    visits = draw_weeks(scenario, ids, monday, weeks + 1, seed=1)
    cut = monday + timedelta(weeks=weeks)
    past = [v for v in visits if v.start < cut - timedelta(hours=14)]  # ended by the cut
    test = [v for v in visits if v.start >= cut - timedelta(hours=14)]
    pool = await open_pool(url)
    program = Program("backtest", timezone="America/Los_Angeles")
    try:
        started = time.perf_counter()
        await store_sessions(pool, [PastSession(v.station_id, v.start, min(v.end, cut), v.soc)
                                    for v in past])
        stored_s = time.perf_counter() - started
        rows = []
        started = time.perf_counter()
        for day in range(7):
            date = cut + timedelta(days=day)
            for a, b in BLOCKS[scenario_name]:
                start, end = date.replace(hour=a), date.replace(hour=b)
                found = await plugin_outlook(pool, program, start, end, weeks=weeks, now=cut)
                rows.append((start, found.expected_kw, found.firm_kw,
                             actual_kw(test, start, end, program)))
        forecast_s = time.perf_counter() - started
    finally:
        await pool.close()
    total = sum(r[3] for r in rows)
    error = sum(abs(r[1] - r[3]) for r in rows)
    bias = sum(r[1] - r[3] for r in rows)
    covered = sum(1 for r in rows if r[3] >= r[2] - 1e-9)
    print(f"\n{scenario_name}: {stations} stations, {weeks} weeks of history "
          f"({len(past)} sessions stored in {stored_s:.1f} s), forecast of the week after, "
          f"{len(rows)} windows in {forecast_s:.1f} s")
    print(f"  {'window':<22}{'expected':>10}{'firm P90':>10}{'actual':>10}")
    for start, expected, firm, actual in rows:
        print(f"  {start:%a %d %b %H:%M}      {expected:>10.1f}{firm:>10.1f}{actual:>10.1f}")
    if total > 0:
        print(f"  expectation: weighted absolute error {100 * error / total:.1f} %, bias "
              f"{100 * bias / total:+.1f} % of the actual kW ({total / len(rows):.1f} kW a "
              "window on average)")
    print(f"  firm (P90) reached in {covered}/{len(rows)} windows "
          f"({100 * covered / len(rows):.0f} %; goal >= 90 %)")


async def main(args: argparse.Namespace) -> None:
    server = start_embedded(Path(tempfile.mkdtemp(prefix="bench-fc-")), cleanup_mode="delete")
    for scenario in args.scenarios:
        name = "bench_" + uuid.uuid4().hex[:8]
        admin = await asyncpg.connect(server)
        await admin.execute(f'CREATE DATABASE "{name}"')
        await admin.close()
        parts = urlsplit(server)
        url = urlunsplit((parts.scheme, parts.netloc, "/" + name, parts.query,
                          parts.fragment))
        await backtest(url, scenario, args.stations, args.weeks)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stations", type=int, default=50)
    parser.add_argument("--weeks", type=int, default=8)
    parser.add_argument("--scenarios", nargs="+", default=["workplace", "depot"])
    asyncio.run(main(parser.parse_args()))

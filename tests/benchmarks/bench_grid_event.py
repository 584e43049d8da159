"""Grid event benchmark: the ``grid_event`` scenario through a longer event; prints figures.

    .venv/bin/python -m tests.benchmarks.bench_grid_event [--event-s 300] [--ci 15]

30 simulated FE-20 stations (one stuck at zero, one rejecting profiles, one dropping its
connection), an event on target, then one above what the fleet can give. Prints the measured
fleet export per 30 s window against the target, the worst error after the first control
interval, what was set aside, the report's totals, and the EVs' floors and departure needs.
Nothing is asserted: see tests/grid/test_grid_event_e2e.py for the checks.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import tempfile
import time
import uuid
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import structlog

from csms.store.embedded import start_embedded
from tests.grid.harness import RunSettings, run


async def main(args: argparse.Namespace) -> None:
    server = start_embedded(Path(tempfile.mkdtemp(prefix="bench-grid-")), cleanup_mode="delete")
    name = "bench_" + uuid.uuid4().hex[:8]
    admin = await asyncpg.connect(server)
    await admin.execute(f'CREATE DATABASE "{name}"')
    await admin.close()
    parts = urlsplit(server)
    url = urlunsplit((parts.scheme, parts.netloc, "/" + name, parts.query, parts.fragment))
    settings = RunSettings(stations=args.stations, seed=args.seed, event_s=args.event_s,
                           target_kw=args.target_kw, over_s=args.over_s,
                           control_interval_s=args.ci, settle_s=args.settle,
                           retry_s=args.retry,
                           departures={9: 60.0, 17: 90.0})
    began = time.monotonic()
    result = await run(url, settings)
    wall = time.monotonic() - began
    report = result.report
    event = report.event
    print(f"stations {settings.stations}, seed {settings.seed}, control interval "
          f"{settings.control_interval_s} s, event {settings.event_s:.0f} s at "
          f"{settings.target_kw:.0f} kW, wall time {wall:.0f} s")
    print(f"forecast at creation: {result.on_target.capacity.total_kw:.1f} kW "
          f"(firm {result.on_target.capacity.firm_kw:.1f}), {len(result.participants)} EVs "
          f"taking part, {len(result.excluded)} excluded")
    windows = result.windows(event.start, event.end, 0, settings.window_s)
    print("\nwindow   measured kW   error")
    for start, kw in windows:
        offset = (start - event.start).total_seconds()
        error = 100 * (kw - settings.target_kw) / settings.target_kw
        print(f"{offset:6.0f}s   {kw:10.1f}   {error:+6.2f} %")
    after = result.windows(event.start, event.end, settings.control_interval_s,
                           settings.window_s)
    worst = max(abs(kw - settings.target_kw) for _, kw in after)
    print(f"\nafter the first control interval: {len(after)} windows, worst error "
          f"{100 * worst / settings.target_kw:.2f} % (tolerance 5 %)")
    print(f"set aside: {report.set_aside}")
    print(f"report: {report.energy_kwh:.3f} kWh, average {report.average_kw:.1f} kW, "
          f"performance {report.performance:.1%}")
    margin = min(result.min_soc[f"{r['station_id']}/1"] - r["floor_soc"] * 100
                 for r in result.participants)
    print(f"lowest SoC above floor among participants: {margin:.2f} percentage points")
    for n in sorted(settings.departures):
        key = f"SIM{n}/1"
        print(f"{key}: left at SoC {result.last_soc.get(key, float('nan')):.2f} %, wanted "
              f"{100 * result.targets[key]:.2f} %")
    above_start = result.above_steps[0]["at"]
    [(_, above_kw)] = result.windows(above_start, above_start + timedelta(
        seconds=settings.over_s - 2), settings.control_interval_s,
        settings.over_s - 2 - settings.control_interval_s, above=True)
    print(f"above capacity: asked {settings.over_kw:.0f} kW, forecast "
          f"{result.above.capacity.total_kw:.1f} kW (shortfall {result.above.shortfall_kw:.1f}"
          f" kW reported at creation), delivered {above_kw:.1f} kW, last plan "
          f"{result.above_steps[-1]['planned_kw']:.1f} kW")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stations", type=int, default=30)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--event-s", type=float, default=300.0)
    parser.add_argument("--target-kw", type=float, default=300.0)
    parser.add_argument("--over-s", type=float, default=60.0)
    parser.add_argument("--ci", type=int, default=15)
    parser.add_argument("--settle", type=float, default=8.0)
    parser.add_argument("--retry", type=float, default=300.0,
                        help="seconds before an EV set aside is tried again (the program's "
                        "default)")
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))
    asyncio.run(main(parser.parse_args()))

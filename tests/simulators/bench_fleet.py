"""Benchmark: how many simulated stations one ``csms-sim`` process carries, and at what cost.

Runs the minimal test CSMS in this process and ``csms-sim run`` in a child process, then prints
the child's CPU time and peak memory and the message rate the CSMS saw. Reproduce with::

    .venv/bin/python -m tests.simulators.bench_fleet --stations 2000 --duration 60

The minimal CSMS answers at once, so the figures are the simulator's own cost, not a CSMS's.
"""

from __future__ import annotations

import argparse
import asyncio
import resource
import sys
import tempfile
import time
from pathlib import Path

from tests.simulators.minicsms import MiniCsms


async def bench(stations: int, duration: float, scenario: Path) -> None:
    csms = MiniCsms(heartbeat_interval=60)
    await csms.start()
    path = str(scenario)
    started = time.monotonic()
    child = await asyncio.create_subprocess_exec(
        sys.executable, "-c", "from simulators.cli import main; main()", "run",
        "--url", csms.url, "--stations", str(stations), "--duration", str(duration),
        "--interval", str(max(5.0, duration / 4)), "--scenario", path,
        stdout=asyncio.subprocess.PIPE)
    out, _ = await child.communicate()
    wall = time.monotonic() - started
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    booted = len({s for s, a, _, _ in csms.received if a == "BootNotification"})
    await csms.stop()
    cpu = usage.ru_utime + usage.ru_stime
    print(f"stations={stations} duration={duration:.0f}s")
    print(f"booted={booted} messages={len(csms.received)} "
          f"messages_per_s={len(csms.received) / wall:.0f}")
    print(f"sim_cpu_s={cpu:.1f} sim_cpu_share={cpu / wall:.0%} "
          f"sim_peak_rss_mb={usage.ru_maxrss / 1024:.0f} "
          f"rss_per_station_kb={usage.ru_maxrss / stations:.0f}")
    print(out.decode().strip())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stations", type=int, default=1000)
    parser.add_argument("--duration", type=float, default=60.0)
    parser.add_argument("--meter-interval", type=int, default=10)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        scenario = Path(tmp) / "bench.toml"
        scenario.write_text(f"meter_interval_s = {args.meter_interval}\n", encoding="utf-8")
        print(f"meter_interval={args.meter_interval}s")
        asyncio.run(bench(args.stations, args.duration, scenario))


if __name__ == "__main__":
    main()

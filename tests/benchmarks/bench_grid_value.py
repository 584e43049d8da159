"""The optimiser against the equal-headroom heuristic on the same simulated fleets; prints
figures (nothing is asserted: see tests/grid/test_value.py and the e2e tests for checks).

    .venv/bin/python -m tests.benchmarks.bench_grid_value [--repeat 3]

Per scenario (tests/grid/value_sim.py: a non-export workplace, a depot with a tight import
room, 300 EVs without a site limit; each a 2-hour event in 48 intervals, planned over the rest
of the event at every interval): target tracking per interval, departure needs missed, kWh
cycled per EV and its spread, drivers' earnings spread (energy given, which pay follows),
site-limit violations, solve time. Then the solve time of one allocation for 1,000 EVs x 48
intervals, with a target that changes every interval (48 blocks: the whole LP) and with a
constant target (the intervals merge into one block), against the heuristic's.
"""

from __future__ import annotations

import argparse
import random
import statistics
import time

from csms.grid.allocation import allocate
from csms.grid.forecast import capability
from csms.grid.optimiser import Problem, solve
from tests.grid.value_sim import T0, cases, fleet, run_case

FIGURES = ("tracking_mean_pct", "tracking_worst_pct", "needs_missed", "needs_missed_kwh",
           "cycled_kwh_mean", "cycled_kwh_max", "cycled_kwh_sd", "earnings_cv",
           "earnings_max_over_mean", "site_violations", "below_floor", "solve_ms_mean",
           "fallbacks")


def compare() -> None:
    for case in cases():
        print(f"\n{case.name}")
        heuristic = run_case(case, "equal-headroom").summary()
        optimised = run_case(case, "optimised").summary()
        print(f"  {'figure':<24}{'heuristic':>12}{'optimised':>12}")
        for name in FIGURES:
            print(f"  {name:<24}{heuristic[name]:>12.3f}{optimised[name]:>12.3f}")


def solve_times(repeat: int) -> None:
    from datetime import timedelta
    evs = fleet(1000, 7)
    end = T0 + timedelta(hours=2)
    caps = [capability(ev, T0, end) for ev in evs]
    capacity = sum(c.kw for c in caps)
    rng = random.Random(7)
    varying = [0.6 * capacity * rng.uniform(0.8, 1.2) for _ in range(48)]
    print(f"\n1,000 EVs x 48 intervals (fleet can hold {capacity:.0f} kW):")
    for label, target in (("target changing every interval (48 blocks)", varying),
                          ("constant target (1 block)", 0.6 * capacity)):
        times, status = [], set()
        for _ in range(repeat):
            plan = solve(Problem(caps, target, 2.0, end), 30.0)
            times.append(plan.solve_s)
            status.add(plan.message.split("(")[-1].rstrip(")"))
        print(f"  optimiser, {label}: median {statistics.median(times):.3f} s, "
              f"best {min(times):.3f} s ({', '.join(sorted(status))})")
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        allocate(caps, 0.6 * capacity, 2.0)
        times.append(time.perf_counter() - started)
    print(f"  heuristic (one interval): median {statistics.median(times):.3f} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    compare()
    solve_times(args.repeat)


if __name__ == "__main__":
    main()

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


DUAL_SIMPLEX = ({"solver": "simplex", "simplex_strategy": 1},)


def solve_times(repeat: int) -> None:
    """One allocation of 1,000 EVs x 48 intervals: the LP as it is now (model build and HiGHS
    separately), the same LP with the dual simplex, and the previous formulation
    (tests/benchmarks/lp_previous.py: scipy's linprog, dual simplex, as it was; and through
    the interior point), interleaved in each
    repeat so that the machine's load weighs on all alike; the ratios are per repeat."""
    from datetime import timedelta

    from csms.grid.optimiser import build
    from tests.benchmarks import lp_previous
    evs = fleet(1000, 7)
    end = T0 + timedelta(hours=2)
    caps = [capability(ev, T0, end) for ev in evs]
    capacity = sum(c.kw for c in caps)
    rng = random.Random(7)
    varying = [0.6 * capacity * rng.uniform(0.8, 1.2) for _ in range(48)]
    print(f"\n1,000 EVs x 48 intervals (fleet can hold {capacity:.0f} kW), {repeat} repeats, "
          "median [best]:")
    for label, target in (("target changing every interval (48 blocks)", varying),
                          ("constant target (1 block)", 0.6 * capacity)):
        problem = Problem(caps, target, 2.0, end)
        # the previous formulation's spread penalty (breakpoints at once and twice the even
        # share): the same LP, so the same optimal cost, for a like-for-like ratio
        same = Problem(caps, target, 2.0, end, spread_tiers=lp_previous.TIERS)
        lp, lp_same = build(problem), build(same)
        rows: dict[str, list[float]] = {k: [] for k in (
            "build", "ipm", "total", "same", "simplex", "prev_build", "prev", "prev_ipm",
            "ratio", "ratio_ds")}
        objectives = set()
        for _ in range(repeat):
            plan = solve(problem, 30.0)
            like = solve(same, 30.0)
            simplex = solve(same, 30.0, DUAL_SIMPLEX)
            before = lp_previous.solve(lp_previous.Problem(caps, target, 2.0, end), 30.0)
            before_ipm = lp_previous.solve(lp_previous.Problem(caps, target, 2.0, end), 30.0,
                                           interior_point=True)
            assert plan.allocation and like.allocation and simplex.allocation
            assert before.allocation and before_ipm.allocation
            rows["build"].append(plan.build_s)
            rows["ipm"].append(plan.lp_s)
            rows["total"].append(plan.solve_s)
            rows["same"].append(like.solve_s)
            rows["simplex"].append(simplex.solve_s)
            rows["prev_build"].append(before.build_s)
            rows["prev"].append(before.solve_s)
            rows["prev_ipm"].append(before_ipm.solve_s)
            rows["ratio"].append(before.solve_s / like.solve_s)
            rows["ratio_ds"].append(before.solve_s / simplex.solve_s)
            objectives.update(round(p.objective, 3) for p in (like, simplex, before,
                                                              before_ipm))

        def fig(key: str, unit: str = "s", rows: dict[str, list[float]] = rows) -> str:
            values = rows[key]
            return f"{statistics.median(values):.3f} {unit} [{min(values):.3f}]".replace(
                " x [", "x [")

        r0, c0, z0 = before.shape
        print(f"  {label}:")
        print(f"    now:      {lp.a.shape[0]} rows x {lp.a.shape[1]} columns, {lp.a.nnz} "
              f"nonzeros; build {fig('build')}, HiGHS interior point {fig('ipm')}, "
              f"whole call {fig('total')}")
        print(f"    now, the previous spread penalty: {lp_same.a.shape[0]} rows x "
              f"{lp_same.a.shape[1]} columns, {lp_same.a.nnz} nonzeros; whole call "
              f"{fig('same')}; with the dual simplex {fig('simplex')}")
        print(f"    previous: {r0} rows x {c0} columns, {z0} nonzeros; build "
              f"{fig('prev_build')}, whole call {fig('prev')} (dual simplex, scipy), "
              f"{fig('prev_ipm')} (interior point)")
        print(f"    previous / now (same LP): {fig('ratio', 'x')}; with the dual simplex "
              f"for both: {fig('ratio_ds', 'x')}; the same LP's optimal cost in all four: "
              f"{sorted(objectives)}")
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        allocate(caps, 0.6 * capacity, 2.0)
        times.append(time.perf_counter() - started)
    print(f"  heuristic (one interval): median {statistics.median(times):.3f} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--solve-only", action="store_true",
                        help="only the solve times of 1,000 EVs x 48 intervals")
    args = parser.parse_args()
    if not args.solve_only:
        compare()
    solve_times(args.repeat)


if __name__ == "__main__":
    main()

"""The event allocation as a linear program over the rest of the event, solved with HiGHS
(highspy: interior point without crossover, see :func:`_highs`). Pure: no I/O.

The rest of the event is cut into at most :data:`MAX_INTERVALS` intervals, merged into blocks
of equal inputs (:func:`_blocks`) of ``dt_t`` hours. Variables: ``d[i, t]`` kW exported by EV
``i`` in block ``t``; ``s[t]`` kW short of the target; ``y[i, k]`` the energy EV ``i`` gives
within spread tier ``k``; ``r[i]`` kWh an EV above its departure SoC must take back after the
event; ``u[k]`` kW of recharge rate that does not fit a site's import room.

- target: ``sum_i d[i, t] + s[t] = target`` in every block (never above it);
- charger and car: ``0 <= d[i, t] <= P_i`` (the lower of the charger's, the car's, and any
  limit the closed loop learnt), a column bound;
- energy: ``sum_t d[i, t] dt_t = sum_k y[i, k]``, one row per EV. The tiers are the
  stretches of the EV's energy between the breakpoints (fractions of the even share of the
  energy asked, :data:`TIERS`) and above the last; each ``y[i, k]`` is bounded by its
  stretch and by ``E_i``, the grid-side energy above the SoC the EV must keep at the end
  (floor, or what its charger can bring back by departure), so the SoC floor and departure
  need are column bounds too;
- site export: ``sum_{i at site} d[i, t] <= room_t`` in every block (the export limit plus
  the building's load forecast for that block, see :mod:`csms.grid.planner`);
- site import after the event: the cars recharge at constant rates
  (:func:`csms.grid.sites.recharge_rates`), at least ``(need_i + given_i / eta_i^2) /
  (D_i - end)`` to meet their departure need by departure ``D_i``; those rates must fit the
  site's import room over the recharge: ``sum_i rate_i - u <= room`` (``u`` at a high price).
  An EV above its departure SoC needs ``r[i] >= need_i + given_i / eta_i^2`` (a row) since
  its need is ``max(0, ...)``; for the others the need is substituted;
- objective: shortfall (most expensive), departure needs missed, battery wear (``wear_i`` $
  per kWh cycled: ``given_i / eta_i`` out of the battery) and the spread among the drivers:
  each tier costs :data:`SPREAD_COST` per kWh more than the one below, a convex
  piecewise-linear penalty on each EV's energy (breakpoints :data:`TIERS`, from a quarter of
  the even share to three times it), so the even split is cheapest (similar throughput and
  similar earnings). Every EV's tiers are columns with bounds, no rows, so breakpoints cost
  almost nothing: eight instead of two (at once and twice the even share, as when each tier
  was a row over all the EV's ``d``) take the same time and narrow the spread at every
  step of the closed loop (tests/benchmarks/bench_grid_value.py). A min-max term (the most
  any EV gives) made the LP three times slower.

For "as much as possible" the shortfall term becomes a reward for every kWh delivered.
The first block's ``d`` are the shares sent now; the closed loop solves again at every step
on what it measured (model-predictive control).

The costs depend on each EV's energy, not on when it is given, so the bulk of the LP (the
``d``) only says that a schedule exists. The formulation keeps that part lean: one row per
EV and per block (and per site and block), bounds instead of rows wherever a constraint
touches one variable, the matrix built with numpy in one piece. Before (one row per EV for
its energy and one per EV and tier, each over all its ``d``) it had three times the rows and
twice the nonzeros for the same optimum; ``tests/benchmarks/bench_grid_value.py`` measures
both. Identical EVs (same limits, energy, efficiency, site and departure: a depot's buses of
one model, full after the night) are one unit of their summed power, energy and need, each
then given the unit's average; exact, since the LP is convex and symmetric in them.
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

import highspy
import numpy as np
from scipy.sparse import csr_matrix

from csms.grid.allocation import STEP_KW, Allocation, round_to_steps
from csms.grid.forecast import RECHARGE_DERATE, Capability

MAX_INTERVALS = 48
#: $ per kWh short of the target, per kWh of departure need missed, per kWh to spread
SHORTFALL_COST = 1000.0
MISSED_NEED_COST = 10_000.0
SPREAD_COST = 0.5
#: the spread penalty's breakpoints, as fractions of the fair (even) share of the energy asked;
#: each kWh above a breakpoint costs SPREAD_COST more
TIERS = (0.25, 0.5, 0.75, 1.0, 1.25, 1.5, 2.0, 3.0)
DELIVERY_REWARD = 100.0
#: HiGHS options in order of trial (see :func:`_highs`)
SOLVER: tuple[dict[str, str | int], ...] = (
    {"solver": "ipm", "run_crossover": "off"},
    {"solver": "simplex", "simplex_strategy": 1},
)


@dataclass(frozen=True)
class SiteRoom:
    """What the event's EVs at a site may export (kW: one figure for the whole event, or one
    per interval) and import (kW, while recharging after it)."""

    export_kw: float | Sequence[float] = math.inf
    import_kw: float = math.inf


@dataclass(frozen=True)
class Problem:
    """One allocation over the rest of an event (see the module docstring)."""

    capabilities: Sequence[Capability]
    #: kW for the whole event, or one figure per interval; None: as much as possible
    target_kw: float | Sequence[float] | None
    hours: float
    end: datetime
    limits: Mapping[str, float] = field(default_factory=dict)
    sites: Mapping[str, SiteRoom] = field(default_factory=dict)
    site_of: Mapping[str, str] = field(default_factory=dict)
    wear_per_kwh: float = 0.05
    intervals: int = MAX_INTERVALS
    #: the spread penalty's breakpoints (fractions of the even share)
    spread_tiers: Sequence[float] = TIERS
    #: merge identical EVs into one unit each (exact; off only to check that it is)
    merge_identical: bool = True


@dataclass(frozen=True)
class Plan:
    """The solution: ``allocation`` for now, ``schedule`` kW (EV x interval), and how the
    solve went (``status`` 0: optimal; HiGHS's message otherwise)."""

    allocation: Allocation | None
    schedule: np.ndarray | None
    keys: tuple[str, ...]
    dt_h: float
    status: int
    message: str
    solve_s: float
    missed_kwh: float = 0.0
    #: hours of each block of the schedule (intervals of equal inputs merged)
    block_h: tuple[float, ...] = ()
    #: seconds building the LP, and in HiGHS (``solve_s`` is the whole call)
    build_s: float = 0.0
    lp_s: float = 0.0
    #: the LP's optimal cost
    objective: float = math.nan


@dataclass(frozen=True)
class Lp:
    """The LP of one :class:`Problem` in HiGHS's terms (see the module docstring): ``c``
    costs, ``lower``/``upper`` column bounds, ``a`` the rows (CSR) with ``row_lower``/
    ``row_upper``; and where each kind of variable starts."""

    keys: tuple[str, ...]
    n: int
    T: int
    dt_b: np.ndarray
    targets: list[float] | None
    power: np.ndarray
    energy: np.ndarray
    c: np.ndarray
    lower: np.ndarray
    upper: np.ndarray
    a: csr_matrix
    row_lower: np.ndarray
    row_upper: np.ndarray
    #: first column of the shortfall (``s``) and missed-recharge (``u``) variables
    s0: int
    u0: int
    #: each EV's unit (identical EVs merged), and how many EVs each unit holds
    unit_of: np.ndarray | None = None
    mult: np.ndarray | None = None


def build(problem: Problem) -> Lp:
    """The LP of ``problem``: each EV's figures read once, then every column and row built
    with numpy (no Python loop over EVs or intervals)."""
    caps = [c for c in problem.capabilities if c.kw > 0 or c.key in problem.limits]
    caps = [c for c in caps if min(c.ev.max_discharge_kw, problem.limits.get(
        c.key, math.inf)) > 0 and c.energy_kwh > 0]
    keys = tuple(c.key for c in caps)
    n = len(caps)
    targets, rooms, lengths = _blocks(problem)
    T = len(lengths)
    dt_b = np.asarray(lengths, dtype=float) * problem.hours / sum(lengths)
    power_ev = np.array([min(c.ev.max_discharge_kw, problem.limits.get(c.key, math.inf))
                         for c in caps])
    energy_ev = np.array([c.energy_kwh for c in caps])
    eta_ev = np.array([c.ev.one_way_efficiency for c in caps])
    # less one setpoint step over the rest of the event: shares are rounded to steps
    usable_ev = np.maximum(0.0, energy_ev - STEP_KW * problem.hours)
    if targets is not None:
        asked = float(np.dot(targets, dt_b))
    else:
        asked = float(np.minimum(power_ev * problem.hours, energy_ev).sum())
    fair = asked / n if n else 0.0
    K = len(problem.spread_tiers) + 1

    # departures at a site with an import limit: the recharge after the event must fit
    site_index = {name: j for j, name in enumerate(sorted(problem.sites))}
    import_room = np.array([problem.sites[name].import_kw for name in sorted(problem.sites)])
    site_ev = np.array([site_index.get(problem.site_of.get(k, ""), -1) for k in keys],
                       dtype=int)
    departs_ev = np.array([(c.ev.departure - problem.end).total_seconds() / 3600.0
                           if c.ev.departure is not None and c.ev.departure_soc is not None
                           else -1.0 for c in caps])
    rec_ev = (site_ev >= 0) & (departs_ev > 0)
    if n:
        rec_ev &= np.isfinite(import_room[np.maximum(site_ev, 0)]) if len(
            import_room) else False
    # kWh to take back with nothing given, and the hours to do it in
    need_ev = np.array([(c.ev.departure_soc - c.ev.soc) * c.ev.capacity_kwh / eta_ev[i]
                        if rec_ev[i] else 0.0 for i, c in enumerate(caps)])  # type: ignore[operator]
    hours_ev = np.where(rec_ev, departs_ev, 0.0)

    # identical EVs (same limits, energy, efficiency, site and departure) are merged into one
    # unit of ``m`` times their power, energy and need: exact, since the LP is convex and
    # symmetric in them, so giving each the unit's average is optimal
    if problem.merge_identical and n:
        attrs = np.column_stack([power_ev, usable_ev, eta_ev, site_ev, rec_ev, hours_ev,
                                 need_ev])
        _, first, unit_of, mult = np.unique(attrs, axis=0, return_index=True,
                                            return_inverse=True, return_counts=True)
        unit_of = unit_of.reshape(-1)
    else:
        first = unit_of = np.arange(n)
        mult = np.ones(n, dtype=int)
    m = mult.astype(float)
    power = power_ev[first] * m
    usable = usable_ev[first] * m
    eta = eta_ev[first]
    site_col = site_ev[first]
    recharging = rec_ev[first]
    departs = hours_ev[first]
    n = len(first)  # units from here on
    nd = n * T
    ns = T if targets is not None else 0
    s0 = nd
    y0 = nd + ns  # y[i, k] is column y0 + k * n + i

    rec = np.flatnonzero(recharging)
    need = need_ev[first][rec] * m[rec]
    rate = 1.0 / np.maximum(1e-3, departs[rec] * RECHARGE_DERATE)  # kW per kWh of need
    owes = need < 0  # SoC above its departure target: r_i = max(0, need + given / eta^2)
    r_ev = rec[owes]
    nr = len(r_ev)
    r0 = y0 + K * n
    rec_sites = sorted(set(site_col[rec].tolist()))
    nu = len(rec_sites)
    u0 = r0 + nr
    nvar = u0 + nu

    c = np.zeros(nvar)
    lower = np.zeros(nvar)
    upper = np.empty(nvar)
    upper[:nd] = np.repeat(power, T)
    per_kwh = problem.wear_per_kwh / eta - (DELIVERY_REWARD if targets is None else 0.0)
    edges = np.array([0.0, *(f * fair for f in problem.spread_tiers), math.inf])
    for k in range(K):
        cols = slice(y0 + k * n, y0 + (k + 1) * n)
        c[cols] = per_kwh + k * SPREAD_COST
        # a unit of m EVs: m times each EV's stretch
        upper[cols] = np.clip(usable - edges[k] * m, 0.0, (edges[k + 1] - edges[k]) * m)
    if targets is not None:
        target_b = np.asarray(targets, dtype=float)
        c[s0:s0 + T] = SHORTFALL_COST * dt_b
        upper[s0:s0 + T] = target_b
    upper[r0:u0] = math.inf
    upper[u0:] = math.inf
    c[u0:] = MISSED_NEED_COST

    rows: list[np.ndarray] = []
    cols_: list[np.ndarray] = []
    vals: list[np.ndarray] = []
    lo: list[np.ndarray] = []
    hi: list[np.ndarray] = []
    row = 0
    d_ev = np.repeat(np.arange(n), T)
    d_t = np.tile(np.arange(T), n)
    d_col = np.arange(nd)

    def add(r: np.ndarray, cl: np.ndarray, v: np.ndarray) -> None:
        rows.append(r)
        cols_.append(cl)
        vals.append(v)

    # per block: sum_i d[i, t] + s[t] = target
    if targets is not None:
        add(row + d_t, d_col, np.ones(nd))
        add(row + np.arange(T), s0 + np.arange(T), np.ones(T))
        lo.append(target_b)
        hi.append(target_b)
        row += T
    # per EV: sum_t d[i, t] dt_t = sum_k y[i, k] (its energy, split into spread tiers)
    add(row + d_ev, d_col, np.tile(dt_b, n))
    for k in range(K):
        add(row + np.arange(n), y0 + k * n + np.arange(n), np.full(n, -1.0))
    lo.append(np.zeros(n))
    hi.append(np.zeros(n))
    row += n
    # per site and block: sum_{i at site} d[i, t] <= export room
    for name, per_block in sorted(rooms.items()):
        members = np.flatnonzero(site_col == site_index[name]) if name in site_index else []
        finite = np.flatnonzero(np.isfinite(per_block))
        if len(members) == 0 or len(finite) == 0:
            continue
        blocks = len(finite)
        add(row + np.repeat(np.arange(blocks), len(members)),
            (members[None, :] * T + finite[:, None]).ravel(), np.ones(blocks * len(members)))
        lo.append(np.full(blocks, -math.inf))
        hi.append(np.maximum(0.0, np.asarray(per_block, dtype=float)[finite]))
        row += blocks
    # an EV above its departure SoC: r_i >= need_i + sum_k y[i, k] / eta_i^2
    if nr:
        inv = 1.0 / eta[r_ev] ** 2
        for k in range(K):
            add(row + np.arange(nr), y0 + k * n + r_ev, inv)
        add(row + np.arange(nr), r0 + np.arange(nr), np.full(nr, -1.0))
        lo.append(np.full(nr, -math.inf))
        hi.append(-need[owes])
        row += nr
    # per site: the constant recharge rates after the event fit its import room,
    # sum_i rate_i (need_i + given_i / eta_i^2) - u <= room (u: kW that does not fit)
    if nu:
        site_row = {s: j for j, s in enumerate(rec_sites)}
        rec_row = row + np.array([site_row[s] for s in site_col[rec].tolist()], dtype=int)
        direct = ~owes
        coef = rate[direct] / eta[rec[direct]] ** 2
        for k in range(K):
            add(rec_row[direct], y0 + k * n + rec[direct], coef)
        add(rec_row[owes], r0 + np.arange(nr), rate[owes])
        add(row + np.arange(nu), u0 + np.arange(nu), np.full(nu, -1.0))
        fixed = np.zeros(nu)
        np.add.at(fixed, rec_row[direct] - row, rate[direct] * need[direct])
        lo.append(np.full(nu, -math.inf))
        hi.append(import_room[rec_sites] - fixed)
        row += nu
    a = csr_matrix((np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols_))),
                   shape=(row, nvar))
    return Lp(keys, len(keys), T, dt_b, targets, power_ev, energy_ev, c, lower, upper, a,
              np.concatenate(lo), np.concatenate(hi), s0, u0, unit_of, m)


def solve(problem: Problem, time_limit_s: float = 1.0,
          solver: Sequence[Mapping[str, str | int]] = SOLVER) -> Plan:
    """Build and solve the LP; ``allocation`` is None when HiGHS did not find the optimum
    within ``time_limit_s`` (the caller falls back to the heuristic). ``solver``: HiGHS's
    options, tried in turn (the benchmark compares methods)."""
    started = time.perf_counter()
    lp = build(problem)
    built = time.perf_counter()
    build_s = built - started
    dt = float(lp.dt_b[0])
    now_target = None if lp.targets is None else lp.targets[0]
    if lp.n == 0:
        alloc = Allocation(now_target, 0.0, 0.0, now_target or 0.0, 0.0, 0.0, {})
        return Plan(alloc, np.zeros((0, lp.T)), lp.keys, dt, 0, "no EV can give", build_s,
                    build_s=build_s)
    x, status, message = _highs(lp, max(0.01, time_limit_s - build_s), solver)
    solved = time.perf_counter()
    if x is None:
        return Plan(None, None, lp.keys, dt, status, message, solved - started,
                    build_s=build_s, lp_s=solved - built)
    n, T = lp.n, lp.T
    if lp.unit_of is None or lp.mult is None:
        schedule = x[:n * T].reshape(n, T)
    else:  # each EV of a unit gives the unit's average
        units = x[:len(lp.mult) * T].reshape(len(lp.mult), T)
        schedule = units[lp.unit_of] / lp.mult[lp.unit_of, None]
    keys, power, energy = lp.keys, lp.power, lp.energy
    first = {k: max(0.0, float(schedule[i, 0])) for i, k in enumerate(keys)}
    capacity = float(power.sum())
    wanted = sum(first.values())
    if now_target is not None:
        wanted = min(now_target, wanted + 1e-6)
    shares = round_to_steps(first, wanted, {k: float(p) for k, p in zip(keys, power,
                                                                         strict=True)})
    planned = round(sum(shares.values()), 3)
    shortfall = 0.0 if now_target is None else max(0.0, now_target - planned)
    given = schedule @ lp.dt_b
    headroom = float(np.min(energy - given)) if n else 0.0
    alloc = Allocation(now_target, planned, capacity, round(shortfall, 3),
                       max(0.0, capacity - planned), max(0.0, headroom), shares)
    return Plan(alloc, schedule, keys, dt, 0, message, time.perf_counter() - started,
                float(x[lp.u0:].sum()), tuple(float(h) for h in lp.dt_b), build_s,
                solved - built, float(lp.c @ x))


class _Highs(highspy.Highs):
    """A HiGHS instance that prints nothing: its log is off before it is first set up (else
    HiGHS writes its banner to standard output, into a command's output)."""

    def enableCallbacks(self) -> None:
        self.setOptionValue("output_flag", False)
        super().enableCallbacks()


def _highs(lp: Lp, time_limit_s: float, solver: Sequence[Mapping[str, str | int]] = SOLVER
           ) -> tuple[np.ndarray | None, int, str]:
    """Solve with HiGHS: (x or None, HiGHS's model status, a message).

    Interior point without crossover (:data:`SOLVER`): the LP is highly degenerate (a kW
    given now or later costs the same), which costs the simplex thousands of iterations and
    the interior point method about fifteen; its solution lies inside the optimal face, so
    ties are split evenly rather than at a vertex. Should it stop short of optimal, the dual
    simplex gets what is left of the budget.
    """
    started = time.perf_counter()
    model = highspy.HighsLp()
    model.num_col_ = len(lp.c)
    model.num_row_ = lp.a.shape[0]
    model.col_cost_ = lp.c
    model.col_lower_ = lp.lower
    model.col_upper_ = lp.upper
    model.row_lower_ = lp.row_lower
    model.row_upper_ = lp.row_upper
    a = lp.a.tocsc()
    model.a_matrix_.format_ = highspy.MatrixFormat.kColwise
    model.a_matrix_.start_ = a.indptr
    model.a_matrix_.index_ = a.indices
    model.a_matrix_.value_ = a.data
    h = _Highs()
    h.passModel(model)
    status = highspy.HighsModelStatus.kNotset
    for options in solver:
        left = time_limit_s - (time.perf_counter() - started)
        if left <= 0:
            break
        for name, value in options.items():
            h.setOptionValue(name, value)
        h.setOptionValue("time_limit", left)
        h.run()
        status = h.getModelStatus()
        if status == highspy.HighsModelStatus.kOptimal:
            x = np.clip(np.asarray(h.getSolution().col_value), lp.lower, lp.upper)
            return x, int(status), f"optimal ({options['solver']})"
    if status == highspy.HighsModelStatus.kNotset:  # the budget was spent building
        status = highspy.HighsModelStatus.kTimeLimit
    return None, int(status), h.modelStatusToString(status)


def _blocks(problem: Problem) -> tuple[list[float] | None, dict[str, list[float]], list[int]]:
    """The intervals merged into blocks of equal inputs (target and site rooms): (target per
    block or None, export room per site and block, intervals per block).

    Merging is exact: within a block every constraint is the same in each interval, so the
    average of any solution's intervals is a solution with the same cost; a constant target
    over the event is one block.
    """
    count = max(1, problem.intervals)
    per_interval = isinstance(problem.target_kw, Sequence)
    site_seq = {name: room.export_kw for name, room in problem.sites.items()
                if isinstance(room.export_kw, Sequence)}
    if per_interval:
        count = len(problem.target_kw)  # type: ignore[arg-type]
    for seq in site_seq.values():
        count = max(count, len(seq)) if not per_interval else count
    def at(value: float | Sequence[float] | None, t: int) -> float | None:
        if value is None or not isinstance(value, Sequence):
            return value  # type: ignore[return-value]
        return float(value[min(t, len(value) - 1)])

    keys = []
    for t in range(count):
        keys.append((at(problem.target_kw, t), tuple(
            at(problem.sites[name].export_kw, t) for name in sorted(problem.sites))))
    targets: list[float] | None = None if problem.target_kw is None else []
    rooms: dict[str, list[float]] = {name: [] for name in problem.sites}
    lengths: list[int] = []
    for t, key in enumerate(keys):
        if t > 0 and key == keys[t - 1]:
            lengths[-1] += 1
            continue
        lengths.append(1)
        if targets is not None:
            targets.append(float(key[0]))  # type: ignore[arg-type]
        for name, value in zip(sorted(problem.sites), key[1], strict=True):
            rooms[name].append(math.inf if value is None else float(value))
    return targets, rooms, lengths

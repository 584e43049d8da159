"""The optimiser's previous formulation (csms/grid/optimiser.py before its LP was made lean),
kept only so that bench_grid_value can compare the two in one run. Not used by the CSMS.

The event allocation as a linear program over the rest of the event, solved with HiGHS
(:func:`scipy.optimize.linprog`, ``method="highs"``). Pure: no I/O.

The rest of the event is cut into at most :data:`MAX_INTERVALS` intervals of ``dt`` hours.
Variables: ``d[i, t]`` kW exported by EV ``i`` in interval ``t``; ``s[t]`` kW short of the
target; ``x[i, j]`` energy EV ``i`` gives above spread tier ``j``; ``r[i]`` kWh EV ``i``
must take back after the event for its departure; ``u[k]`` kW of recharge rate that does not
fit a site's import room.

- target: ``sum_i d[i, t] + s[t] = target`` in every interval (never above it);
- charger and car: ``0 <= d[i, t] <= P_i`` (the lower of the charger's, the car's, and any
  limit the closed loop learnt);
- SoC floor and departure need: ``sum_t d[i, t] dt <= E_i``, the grid-side energy above the
  SoC it must keep at the end (floor, or what its charger can bring back by departure);
- site export: ``sum_{i at site} d[i, t] <= room`` in every interval;
- site import after the event: the cars recharge at constant rates
  (:func:`csms.grid.sites.recharge_rates`), at least ``r[i] / (D_i - end)`` to meet a need
  of ``r[i]`` kWh by departure ``D_i``; those rates must fit the site's import room:
  ``sum r[i] / (D_i - end) <= room``, with ``r[i] >= need_i + sum_t d[i, t] dt / eta_i^2``
  (``u`` takes the kW that cannot fit, at a high price);
- objective: shortfall (most expensive), departure needs missed, battery wear
  (``wear_i`` $ per kWh cycled, ``sum_t d[i, t] dt / eta_i`` out of the battery), and the
  spread among the drivers taking part: a convex piecewise-linear penalty on each EV's energy
  above once and twice the even share (``x[i, j] >= sum_t d[i, t] dt - f_j share``), so the
  even split is cheapest (similar throughput and similar earnings). A min-max term (the most
  any EV gives) spread a little better but made the LP highly degenerate, three times slower
  at 1,000 EVs x 48 intervals; four breakpoints instead of two, twice as slow.

For "as much as possible" the shortfall term becomes a reward for every kWh delivered.
The first interval's ``d`` are the shares sent now; the closed loop solves again at every step
on what it measured (model-predictive control).
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

import numpy as np
from scipy.optimize import linprog
from scipy.sparse import coo_matrix

from csms.grid.allocation import STEP_KW, Allocation, round_to_steps
from csms.grid.forecast import RECHARGE_DERATE, Capability
from csms.grid.optimiser import SiteRoom, _blocks  # unchanged by the lean LP

MAX_INTERVALS = 48
#: $ per kWh short of the target, per kWh of departure need missed, per kWh to spread
SHORTFALL_COST = 1000.0
MISSED_NEED_COST = 10_000.0
SPREAD_COST = 0.5
#: the spread penalty's breakpoints, as fractions of the fair (even) share of the energy asked;
#: each kWh above a breakpoint costs SPREAD_COST more
TIERS = (1.0, 2.0)
DELIVERY_REWARD = 100.0


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
    build_s: float = 0.0
    objective: float = math.nan
    shape: tuple[int, int, int] = (0, 0, 0)


def _interior_point(c_vec, a_ub, b_ub, a_eq, b_eq, bounds, time_limit_s):  # type: ignore[no-untyped-def]
    """This LP through csms.grid.optimiser's HiGHS call (interior point, no crossover)."""
    from types import SimpleNamespace

    from scipy.sparse import vstack

    from csms.grid import optimiser

    parts = [a_ub] + ([a_eq] if a_eq is not None else [])
    lower = [np.full(a_ub.shape[0], -math.inf)] + ([b_eq] if a_eq is not None else [])
    upper = [b_ub] + ([b_eq] if a_eq is not None else [])
    lp = optimiser.Lp((), 0, 0, np.zeros(1), None, np.zeros(0), np.zeros(0), c_vec,
                      bounds[:, 0], bounds[:, 1], vstack(parts).tocsr(),
                      np.concatenate(lower), np.concatenate(upper), 0, 0)
    x, status, message = optimiser._highs(lp, max(0.01, time_limit_s))
    return SimpleNamespace(status=0 if x is not None else status, x=x, message=message,
                           fun=float(c_vec @ x) if x is not None else math.nan)


def solve(problem: Problem, time_limit_s: float = 1.0, interior_point: bool = False) -> Plan:
    """Build and solve the LP; ``allocation`` is None when HiGHS did not find the optimum
    within ``time_limit_s`` (the caller falls back to the heuristic)."""
    started = time.perf_counter()
    caps = [c for c in problem.capabilities if c.kw > 0 or c.key in problem.limits]
    caps = [c for c in caps if min(c.ev.max_discharge_kw, problem.limits.get(
        c.key, math.inf)) > 0 and c.energy_kwh > 0]
    keys = tuple(c.key for c in caps)
    n = len(caps)
    targets, rooms, lengths = _blocks(problem)
    T = len(lengths)
    dt_b = np.array(lengths) * problem.hours / sum(lengths)  # hours of each block
    dt = float(dt_b[0])
    now_target = None if targets is None else targets[0]
    if n == 0:
        alloc = Allocation(now_target, 0.0, 0.0, now_target or 0.0, 0.0, 0.0, {})
        return Plan(alloc, np.zeros((0, T)), keys, dt, 0, "no EV can give", 0.0)
    power = np.array([min(c.ev.max_discharge_kw, problem.limits.get(c.key, math.inf))
                      for c in caps])
    energy = np.array([c.energy_kwh for c in caps])
    eta = np.array([c.ev.one_way_efficiency for c in caps])
    nd = n * T
    # departures at a site with an import limit: the recharge must fit
    dep_rows: list[tuple[str, float, list[int]]] = []
    needs = np.zeros(n)
    recharging = []
    for i, c in enumerate(caps):
        ev = c.ev
        site = problem.site_of.get(c.key)
        room = problem.sites.get(site, SiteRoom()).import_kw if site else math.inf
        if (ev.departure is not None and ev.departure_soc is not None and math.isfinite(room)
                and ev.departure > problem.end):
            needs[i] = (ev.departure_soc - ev.soc) * ev.capacity_kwh / eta[i]
            recharging.append(i)
    # spread: each EV's energy above TIERS fractions of its fair share costs more and more
    # (a piecewise-linear convex penalty: among drivers, the even split is cheapest)
    x0 = nd + T
    tiers = len(TIERS) * n
    r_index = {i: x0 + tiers + j for j, i in enumerate(recharging)}
    for site in sorted({problem.site_of[caps[i].key] for i in recharging}):
        # constant rates after the event (csms.grid.sites.recharge_rates): the rates that
        # meet each need just in time must fit the site's import room
        members = [i for i in recharging if problem.site_of[caps[i].key] == site]
        hours = [max(1e-3, (caps[i].ev.departure - problem.end).total_seconds() / 3600.0
                     * RECHARGE_DERATE) for i in members]
        dep_rows.append((site, problem.sites[site].import_kw,
                         list(zip(members, hours, strict=True))))
    nr = len(recharging)
    nu = len(dep_rows)
    nvar = nd + T + tiers + nr + nu
    u0 = nd + T + tiers + nr
    if targets is not None:
        asked = float(np.dot(targets, dt_b))
    else:
        asked = float(np.minimum(power * problem.hours, energy).sum())
    fair = asked / n

    c_vec = np.zeros(nvar)
    dt_d = np.tile(dt_b, n)  # hours of each d variable's block
    c_vec[:nd] = np.repeat(problem.wear_per_kwh / eta, T) * dt_d
    if targets is None:
        c_vec[:nd] -= DELIVERY_REWARD * dt_d
    else:
        c_vec[nd:nd + T] = SHORTFALL_COST * dt_b
    for j in range(len(TIERS)):
        c_vec[x0 + j * n:x0 + (j + 1) * n] = SPREAD_COST
    c_vec[u0:] = MISSED_NEED_COST

    rows, cols, vals, b_ub = [], [], [], []
    row = 0
    ev_idx = np.repeat(np.arange(n), T)
    d_idx = np.arange(nd)
    # energy above what each EV must keep; and m >= energy given
    rows.append(ev_idx)
    cols.append(d_idx)
    vals.append(dt_d)
    # less one setpoint step over the rest of the event: shares are rounded to steps
    b_ub.extend(np.maximum(0.0, energy - STEP_KW * problem.hours).tolist())
    row += n
    for j, fraction in enumerate(TIERS):
        # sum_t d dt - x_ij <= fraction * fair: x_ij is the energy above that tier
        base, bound = x0 + j * n, fraction * fair
        rows.append(ev_idx + row)
        cols.append(d_idx)
        vals.append(dt_d)
        rows.append(np.arange(n) + row)
        cols.append(base + np.arange(n))
        vals.append(np.full(n, -1.0))
        b_ub.extend([bound] * n)
        row += n
    # site export rooms
    for site, per_block in sorted(rooms.items()):
        members = [i for i, c in enumerate(caps) if problem.site_of.get(c.key) == site]
        if not members:
            continue
        for t in range(T):
            if not math.isfinite(per_block[t]):
                continue
            rows.append(np.full(len(members), row))
            cols.append(np.array(members) * T + t)
            vals.append(np.ones(len(members)))
            b_ub.append(max(0.0, per_block[t]))
            row += 1
    # recharge after the event: need_i + sum_t d dt / eta^2 - r_i <= 0
    for i in recharging:
        rows.append(np.full(T + 1, row))
        cols.append(np.append(np.arange(i * T, (i + 1) * T), r_index[i]))
        vals.append(np.append(dt_b / eta[i] ** 2, -1.0))
        b_ub.append(-needs[i])
        row += 1
    for k, (_, room, members) in enumerate(dep_rows):
        # sum_i r_i / hours_i - u_k <= room (u_k: kW of rate that does not fit)
        rows.append(np.full(len(members) + 1, row))
        cols.append(np.array([r_index[i] for i, _ in members] + [u0 + k]))
        vals.append(np.array([1.0 / h for _, h in members] + [-1.0]))
        b_ub.append(room)
        row += 1
    a_ub = coo_matrix((np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))),
                      shape=(row, nvar)).tocsr()

    a_eq = b_eq = None
    if targets is not None:
        eq_rows = np.concatenate([d_idx % T, np.arange(T)])
        eq_cols = np.concatenate([d_idx, nd + np.arange(T)])
        a_eq = coo_matrix((np.ones(nd + T), (eq_rows, eq_cols)), shape=(T, nvar)).tocsr()
        b_eq = np.array(targets)

    upper = np.concatenate([np.repeat(power, T), np.full(T, math.inf), np.full(tiers, math.inf),
                            np.full(nr, math.inf), np.full(nu, math.inf)])
    bounds = np.column_stack([np.zeros(nvar), upper])
    built = time.perf_counter() - started
    if interior_point:
        result = _interior_point(c_vec, a_ub, np.array(b_ub), a_eq, b_eq, bounds,
                                 time_limit_s - built)
    else:
        result = linprog(c_vec, A_ub=a_ub, b_ub=np.array(b_ub), A_eq=a_eq, b_eq=b_eq,
                         bounds=bounds, method="highs-ds",
                         options={"time_limit": max(0.01, time_limit_s - built),
                                  "presolve": True})
    solve_s = time.perf_counter() - started
    if result.status != 0 or result.x is None:
        return Plan(None, None, keys, dt, int(result.status), str(result.message), solve_s)
    x = result.x
    schedule = x[:nd].reshape(n, T)
    first = {k: max(0.0, float(schedule[i, 0])) for i, k in enumerate(keys)}
    capacity = float(power.sum())
    wanted = sum(first.values())
    if now_target is not None:
        wanted = min(now_target, wanted + 1e-6)
    shares = round_to_steps(first, wanted, {k: float(p) for k, p in zip(keys, power,
                                                                         strict=True)})
    planned = round(sum(shares.values()), 3)
    shortfall = 0.0 if now_target is None else max(0.0, now_target - planned)
    given = schedule @ dt_b
    headroom = float(np.min(energy - given)) if n else 0.0
    alloc = Allocation(now_target, planned, capacity, round(shortfall, 3),
                       max(0.0, capacity - planned), max(0.0, headroom), shares)
    shape = (a_ub.shape[0] + (a_eq.shape[0] if a_eq is not None else 0), nvar,
             a_ub.nnz + (a_eq.nnz if a_eq is not None else 0))
    return Plan(alloc, schedule, keys, dt, 0, str(result.message), solve_s,
                float(x[u0:].sum()) if nu else 0.0, tuple(float(h) for h in dt_b), built,
                float(result.fun), shape)



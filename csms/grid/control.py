"""The closed loop: one control step compares what each EV delivers with its setpoint and
re-allocates. Pure: the dispatcher gathers the observations and sends what the step decides.

Per EV in the event:

- unplugged (its transaction ended): gone, its share is re-allocated;
- offline: a station keeps following its installed profile while offline, so its setpoint is
  assumed delivered for ``offline_grace_s``; after that it is gone and its share re-allocated;
- rejected its profile, or, once settled, delivers clearly less than asked (stuck), or sends
  no meter values: *uncontrolled*. It gets no share; what it is measured to do (e.g. keep
  charging) is still counted, and the others make up for it;
- delivering less than asked but more than half (a tapering car): kept, capped at what it was
  seen to deliver.

An EV set aside (uncontrolled, or gone while offline) gets another chance after ``retry_s``,
then after twice as long each further time: a hiccup (a profile refused while the station was
busy, a gap in its meter values, a network outage) does not cost the fleet that EV for the
rest of the event, and a station that keeps failing is retried ever more rarely. It must be
online and plugged in; one set aside for sending no meter values must have sent a fresh one.
An unplugged EV does not come back (its transaction is over).

The controllable EVs then share ``target - uncontrolled + correction``, where ``correction`` is a
bounded integral of the fleet's error, updated only when every setpoint has settled.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from enum import StrEnum
from typing import Any

from csms.grid.allocation import Allocation, allocate
from csms.grid.forecast import Capability

#: Shares a target among EVs: (capabilities, target kW or None for as much as possible, hours
#: left, per-EV kW caps) -> Allocation. The default is the equal-headroom heuristic; the event
#: planner passes one that keeps site limits or runs the optimiser.
Allocator = Callable[[Sequence[Capability], float | None, float, Mapping[str, float]],
                     Allocation]


def equal_headroom(capabilities: Sequence[Capability], target_kw: float | None, hours: float,
                   limits: Mapping[str, float]) -> Allocation:
    """The default allocator: :func:`csms.grid.allocation.allocate`."""
    return allocate(capabilities, target_kw, hours, limits=limits)


class Aside(StrEnum):
    """Why an EV was set aside; the value is what reports and the CLI show."""

    UNPLUGGED = "unplugged"
    OFFLINE = "offline"
    REJECTED = "rejected its profile"
    NO_METER_VALUES = "sends no meter values"
    NOT_FOLLOWING = "not following its profile"


@dataclass(frozen=True)
class Observation:
    """What the CSMS knows of one EV at a control step.

    ``measured_kw`` is the latest net export sample (export minus import) and ``sample_at`` its
    time; ``rejected`` says the station refused or failed the last profile sent to it.
    """

    key: str
    online: bool = True
    plugged: bool = True
    rejected: bool = False
    measured_kw: float | None = None
    sample_at: datetime | None = None


@dataclass(frozen=True)
class LoopSettings:
    """Tuning of the loop. ``settle_s``: time a new setpoint gets before it is judged."""

    settle_s: float = 20.0
    offline_grace_s: float = 60.0
    stale_s: float = 60.0
    follow_ratio: float = 0.5
    retry_s: float = 300.0
    significant_kw: float = 1.0
    integral_gain: float = 0.5
    max_correction_fraction: float = 0.1


@dataclass
class LoopState:
    """What the loop remembers between steps (the dispatcher stores it with each step)."""

    setpoints: dict[str, float] = field(default_factory=dict)
    changed_at: dict[str, datetime] = field(default_factory=dict)
    uncontrolled: dict[str, str] = field(default_factory=dict)
    gone: dict[str, str] = field(default_factory=dict)
    offline_since: dict[str, datetime] = field(default_factory=dict)
    limits: dict[str, float] = field(default_factory=dict)
    #: when each EV now set aside was set aside, and how many times each EV has been
    aside_at: dict[str, datetime] = field(default_factory=dict)
    asides: dict[str, int] = field(default_factory=dict)
    correction_kw: float = 0.0
    capacity_limited: bool = False

    def copy(self) -> LoopState:
        """An independent copy (the step never changes its input)."""
        return replace(self, setpoints=dict(self.setpoints), changed_at=dict(self.changed_at),
                       uncontrolled=dict(self.uncontrolled), gone=dict(self.gone),
                       offline_since=dict(self.offline_since), limits=dict(self.limits),
                       aside_at=dict(self.aside_at), asides=dict(self.asides))

    def retry_due(self, key: str, now: datetime, retry_s: float) -> bool:
        """Whether an EV set aside has waited long enough for another chance."""
        since = self.aside_at.get(key)
        if since is None:
            return False
        wait = retry_s * 2 ** (self.asides.get(key, 1) - 1)
        return (now - since).total_seconds() >= wait


@dataclass(frozen=True)
class StepOutcome:
    """The step's decisions: setpoints to send (kW export, 0 = hold), EVs newly set aside, EVs
    set aside before and taking part again from this step (``readmitted``)."""

    allocation: Allocation
    send: dict[str, float]
    set_aside: dict[str, str]
    measured_kw: float
    uncontrolled_kw: float
    state: LoopState
    readmitted: tuple[str, ...] = ()


def control_step(
    state: LoopState,
    capabilities: Sequence[Capability],
    observations: Mapping[str, Observation],
    target_kw: float | None,
    hours_left: float,
    now: datetime,
    settings: LoopSettings | None = None,
    allocator: Allocator | None = None,
) -> StepOutcome:
    """Judge every EV, then re-allocate ``target_kw`` (None: as much as possible).

    ``capabilities`` are the EVs' forecasts from now to the end of the event; EVs without an
    observation are treated as offline.
    """
    cfg = settings or LoopSettings()
    s = state.copy()
    keys = sorted({c.key for c in capabilities} | set(s.setpoints) | set(s.uncontrolled))
    set_aside: dict[str, str] = {}
    readmitted: list[str] = []
    measured = uncontrolled_kw = fixed_kw = 0.0
    settled_all = True
    pool: list[str] = []

    def aside(key: str, reason: Aside, bucket: dict[str, str]) -> None:
        bucket[key] = reason
        set_aside[key] = reason
        s.aside_at[key] = now
        s.asides[key] = s.asides.get(key, 0) + 1

    def readmit(key: str, obs: Observation) -> bool:
        reason = s.gone.get(key) or s.uncontrolled.get(key)
        if reason is None or reason == Aside.UNPLUGGED or not (obs.online and obs.plugged):
            return False
        if not s.retry_due(key, now, cfg.retry_s):
            return False
        if reason == Aside.NO_METER_VALUES and (obs.sample_at is None or (
                now - obs.sample_at).total_seconds() > cfg.stale_s):
            return False
        s.gone.pop(key, None)
        s.uncontrolled.pop(key, None)
        s.setpoints.pop(key, None)  # a fresh start: a new share, judged once settled
        s.changed_at.pop(key, None)
        s.limits.pop(key, None)
        s.offline_since.pop(key, None)
        s.aside_at.pop(key, None)
        readmitted.append(key)
        return True

    for key in keys:
        obs = observations.get(key, Observation(key, online=False))
        if (key in s.gone or key in s.uncontrolled) and readmit(key, obs):
            # the refusal it was set aside for was of an older profile
            obs = replace(obs, rejected=False)
        if key in s.gone:
            continue
        if not obs.plugged:
            aside(key, Aside.UNPLUGGED, s.gone)
            continue
        setpoint = s.setpoints.get(key)
        if not obs.online:
            since = s.offline_since.setdefault(key, now)
            if (now - since).total_seconds() > cfg.offline_grace_s:
                aside(key, Aside.OFFLINE, s.gone)
                continue
            fixed_kw += setpoint or 0.0  # it follows its installed profile while offline
            continue
        s.offline_since.pop(key, None)
        changed = s.changed_at.get(key)
        fresh = obs.measured_kw is not None and obs.sample_at is not None and (
            changed is None or (obs.sample_at - changed).total_seconds() >= cfg.settle_s)
        value = obs.measured_kw if fresh else None
        if key in s.uncontrolled:
            uncontrolled_kw += obs.measured_kw or 0.0
            continue
        if obs.rejected:
            aside(key, Aside.REJECTED, s.uncontrolled)
            uncontrolled_kw += obs.measured_kw or 0.0
            continue
        settled = changed is None or (now - changed).total_seconds() >= cfg.settle_s
        if setpoint is not None and settled:
            age = None if obs.sample_at is None else (now - obs.sample_at).total_seconds()
            if value is None and (age is None or age > cfg.stale_s):
                aside(key, Aside.NO_METER_VALUES, s.uncontrolled)
                continue
            if value is not None and value < cfg.follow_ratio * setpoint - 1.0:
                aside(key, Aside.NOT_FOLLOWING, s.uncontrolled)
                uncontrolled_kw += value
                continue
            if value is not None and value < setpoint - max(0.5, 0.05 * setpoint):
                s.limits[key] = max(0.0, value)  # it gives less than asked: plan with that
        if setpoint is not None and value is None:
            settled_all = False
        measured += value if value is not None else (setpoint or 0.0)
        pool.append(key)

    fleet_measured = measured + uncontrolled_kw + fixed_kw
    # Integrate only a steady error: every setpoint settled, nothing newly set aside or back.
    if (target_kw is not None and settled_all and not set_aside and not readmitted
            and s.setpoints and not s.capacity_limited):
        bound = cfg.max_correction_fraction * target_kw
        s.correction_kw = max(-bound, min(bound, s.correction_kw + cfg.integral_gain * (
            target_kw - fleet_measured)))
    wanted = None
    if target_kw is not None:
        wanted = max(0.0, target_kw - uncontrolled_kw - fixed_kw + s.correction_kw)
    in_pool = set(pool)
    allocation = (allocator or equal_headroom)(
        [c for c in capabilities if c.key in in_pool], wanted, hours_left, s.limits)
    s.capacity_limited = allocation.shortfall_kw > 0
    send: dict[str, float] = {}
    for key in pool:
        new = allocation.shares.get(key, 0.0)
        old = s.setpoints.get(key)
        if old is not None and abs(new - old) < 0.05:
            continue
        send[key] = new
        s.setpoints[key] = new
        if old is None or abs(new - old) >= max(cfg.significant_kw, 0.2 * old):
            s.changed_at[key] = now
    return StepOutcome(allocation, send, set_aside, fleet_measured, uncontrolled_kw, s,
                       tuple(readmitted))


#: Reasons that put an EV among the gone rather than the uncontrolled.
GONE = frozenset({Aside.UNPLUGGED, Aside.OFFLINE})


def restore_state(steps: Sequence[Mapping[str, Any]], aside: Mapping[str, str],
                  settings: LoopSettings | None = None) -> LoopState:
    """The loop's memory rebuilt from an event's stored steps (oldest first, each with ``at``,
    ``setpoints``, ``set_aside`` and ``correction_kw``) and the EVs set aside now (key: reason),
    for a node that takes over a running event.

    Setpoints and the integral correction are as the last step left them; each setpoint's
    change time is that of the step that last changed it significantly (so one sent just
    before the takeover still gets its settle time); how often and when each EV was set aside
    carries on, so its retry back-off does too. What a step does not store (offline since,
    learnt limits) starts afresh.
    """
    cfg = settings or LoopSettings()
    s = LoopState()
    last_at = None
    for step in steps:
        at = last_at = step["at"]
        setpoints = {k: float(v) for k, v in step["setpoints"].items()}
        for key, new in setpoints.items():
            old = s.setpoints.get(key)
            if old is None or abs(new - old) >= max(cfg.significant_kw, 0.2 * old):
                s.changed_at[key] = at
        s.setpoints = setpoints
        for key in step["set_aside"]:
            s.asides[key] = s.asides.get(key, 0) + 1
            s.aside_at[key] = at
        s.correction_kw = float(step["correction_kw"] or 0.0)
    for key, reason in aside.items():
        (s.gone if reason in GONE else s.uncontrolled)[key] = reason
        s.asides.setdefault(key, 1)
        if key not in s.aside_at and last_at is not None:
            s.aside_at[key] = last_at
    for key in set(s.aside_at) - set(aside):
        del s.aside_at[key]  # readmitted since: only the count is kept
    return s

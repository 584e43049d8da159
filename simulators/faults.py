"""Faults a simulated station can have, chosen per station by probability or by schedule.

The choice is a pure function of the fleet seed and the station id, so a run with the same
``--seed`` gives every station the same faults.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any

FAULT_KINDS = (
    "connection_drop",
    "reject_profiles",
    "late_responses",
    "stuck_at_zero",
    "early_unplug",
    "meter_noise",
    "meter_silence",
)
#: Faults that happen only when a scenario schedules them. ``connector_fault``: the connector
#: fails (status Faulted, a running transaction ends, a reservation is removed) for good.
SCHEDULED_KINDS = ("connector_fault",)


@dataclass(frozen=True)
class FaultRates:
    """Probability (0..1) that a station has each fault, and how the faults behave.

    ``connection_drop``: the station drops its connection at random times (exponential gaps of
    mean ``drop_mean_interval_s``) and reconnects. ``late_responses``: answers CSMS calls
    ``late_response_s`` late. ``stuck_at_zero``: accepts profiles but delivers no power.
    ``early_unplug``: the driver leaves at a random time within the first 60 % of the run.
    ``meter_noise``: power readings get Gaussian noise of relative size ``noise_fraction``.
    ``meter_silence``: the station stops sending meter values ``silence_after_s`` after it
    starts.
    """

    connection_drop: float = 0.0
    reject_profiles: float = 0.0
    late_responses: float = 0.0
    stuck_at_zero: float = 0.0
    early_unplug: float = 0.0
    meter_noise: float = 0.0
    meter_silence: float = 0.0
    drop_mean_interval_s: float = 600.0
    late_response_s: float = 20.0
    noise_fraction: float = 0.05
    silence_after_s: float = 120.0

    def __post_init__(self) -> None:
        for kind in FAULT_KINDS:
            value = getattr(self, kind)
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"fault rate {kind} must be between 0 and 1, got {value}")

    @classmethod
    def from_mapping(cls, data: dict[str, Any]) -> FaultRates:
        """Build from a scenario's ``[faults]`` table; unknown keys are a ValueError."""
        known = set(cls.__dataclass_fields__)
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"unknown fault setting(s): {', '.join(unknown)}")
        return cls(**{k: float(v) for k, v in data.items()})


@dataclass(frozen=True)
class ScheduledFault:
    """A fault at a fixed time (seconds after the fleet starts) for one station."""

    station_id: str
    kind: str
    at_s: float

    def __post_init__(self) -> None:
        known = (*FAULT_KINDS, *SCHEDULED_KINDS)
        if self.kind not in known:
            raise ValueError(f"unknown fault kind {self.kind!r}; known: {', '.join(known)}")


@dataclass
class FaultPlan:
    """The faults one station actually has during a run.

    ``since`` maps a fault kind to the time (seconds after the station starts) from which it is
    active; ``drops_at_s`` lists the times at which the connection drops. For ``early_unplug``
    the time is when the driver leaves; for ``meter_silence``, when meter values stop.
    """

    since: dict[str, float] = field(default_factory=dict)
    drops_at_s: list[float] = field(default_factory=list)
    late_response_s: float = 0.0
    noise_fraction: float = 0.0

    def active(self, kind: str, elapsed_s: float) -> bool:
        """Whether fault ``kind`` is in effect ``elapsed_s`` seconds after the start."""
        start = self.since.get(kind)
        return start is not None and elapsed_s >= start

    @property
    def kinds(self) -> list[str]:
        """The fault kinds in this plan, for summaries."""
        kinds = sorted(self.since)
        return ["connection_drop", *kinds] if self.drops_at_s else kinds


def station_rng(seed: int, station_id: str) -> random.Random:
    """A random generator that depends only on the seed and the station id."""
    return random.Random(f"{seed}/{station_id}")


def plan_faults(rates: FaultRates, rng: random.Random, horizon_s: float,
                scheduled: list[ScheduledFault] | None = None) -> FaultPlan:
    """Draw one station's faults from ``rates`` (same draws for the same ``rng`` state).

    Connection drops and early departures are drawn over ``horizon_s`` seconds; faults from the
    schedule are added as given.
    """
    draws = {kind: rng.random() for kind in FAULT_KINDS}
    plan = FaultPlan(late_response_s=rates.late_response_s, noise_fraction=rates.noise_fraction)
    if draws["connection_drop"] < rates.connection_drop:
        t = rng.expovariate(1.0 / rates.drop_mean_interval_s)
        while t < horizon_s:
            plan.drops_at_s.append(t)
            t += rng.expovariate(1.0 / rates.drop_mean_interval_s)
    for kind in ("reject_profiles", "late_responses", "stuck_at_zero", "meter_noise"):
        if draws[kind] < getattr(rates, kind):
            plan.since[kind] = 0.0
    if draws["early_unplug"] < rates.early_unplug:
        plan.since["early_unplug"] = rng.uniform(0.1, 0.6) * horizon_s
    if draws["meter_silence"] < rates.meter_silence:
        plan.since["meter_silence"] = rates.silence_after_s
    for fault in scheduled or []:
        if fault.kind == "connection_drop":
            plan.drops_at_s = sorted([*plan.drops_at_s, fault.at_s])
        else:
            plan.since[fault.kind] = min(fault.at_s, plan.since.get(fault.kind, fault.at_s))
    return plan

"""Bidirectional DC charger dynamics: power limits, setpoint latency and ramp rate.

Pure model with an internal clock in seconds, advanced by explicit steps. A station advances it
by the real time elapsed between its own events; tests advance it by whatever steps they like.

A new setpoint takes effect ``latency_s`` after it is commanded; from then on the delivered power
moves towards it at ``ramp_kw_per_s``. At every instant the power stays within the charger's
limits and the car's (which depend on SoC, so they taper near full and near the floor). Signs:
positive = charging the car (import), negative = discharging into the grid (export).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

from simulators.battery import Battery

SECONDS_PER_HOUR = 3600.0


@dataclass(frozen=True)
class ChargerSpec:
    """Nameplate of a charger model; every figure is a parameter."""

    model: str
    vendor: str
    max_charge_kw: float
    max_discharge_kw: float
    latency_s: float = 5.0
    ramp_kw_per_s: float = 2.0
    connector_type: str = "cG105"  # OCPP's name for CHAdeMO (JARI G105)
    max_voltage_v: float = 500.0
    max_current_a: float = 60.0

    def __post_init__(self) -> None:
        if self.max_charge_kw < 0 or self.max_discharge_kw < 0:
            raise ValueError("charger power limits must not be negative")
        if self.latency_s < 0:
            raise ValueError(f"latency_s must not be negative, got {self.latency_s}")
        if self.ramp_kw_per_s <= 0:
            raise ValueError(f"ramp_kw_per_s must be positive, got {self.ramp_kw_per_s}")


FE_20 = ChargerSpec(model="FE-20", vendor="Fermata Energy", max_charge_kw=20.0,
                    max_discharge_kw=20.0, max_current_a=60.0)
FE_15 = ChargerSpec(model="FE-15", vendor="Fermata Energy", max_charge_kw=15.0,
                    max_discharge_kw=15.0, max_current_a=45.0)

CHARGER_MODELS: dict[str, ChargerSpec] = {"fe20": FE_20, "fe15": FE_15}

MAX_SUBSTEP_S = 1.0


def _ramp_energy(p0: float, target: float, rate: float, dt: float) -> tuple[float, float]:
    """Integrate a power that ramps linearly from ``p0`` towards ``target``; return (kWs, p_end)."""
    gap = target - p0
    if abs(gap) <= rate * dt:
        tau = abs(gap) / rate
        return (p0 + target) / 2.0 * tau + target * (dt - tau), target
    p1 = p0 + (rate * dt if gap > 0 else -rate * dt)
    return (p0 + p1) / 2.0 * dt, p1


class PowerTrain:
    """A charger with (optionally) a car plugged in, integrating power into energy.

    ``power_kw`` is the average grid-side power over the last integration step, so that the
    meter registers always equal the integral of the reported power.
    """

    def __init__(self, charger: ChargerSpec) -> None:
        self.charger = charger
        self.battery: Battery | None = None
        self.clock = 0.0
        self.power_kw = 0.0
        self.commanded_kw = 0.0
        self._active_kw = 0.0
        self._ramp_kw = 0.0
        self._pending: deque[tuple[float, float]] = deque()
        self.limited = False

    def plug(self, battery: Battery) -> None:
        """Connect a car; power starts at zero."""
        self.battery = battery
        self._ramp_kw = 0.0
        self.power_kw = 0.0

    def unplug(self) -> Battery | None:
        """Disconnect the car (power drops to zero at once) and return it."""
        battery, self.battery = self.battery, None
        self._ramp_kw = 0.0
        self.power_kw = 0.0
        return battery

    def command(self, kw: float) -> None:
        """Ask for ``kw`` (signed); it takes effect after the charger's latency."""
        if kw == self.commanded_kw:
            return
        self.commanded_kw = kw
        self._pending.append((self.clock + self.charger.latency_s, kw))

    def limits_kw(self) -> tuple[float, float]:
        """(max discharge, max charge) now, both >= 0: the lower of charger and car limits."""
        if self.battery is None:
            return 0.0, 0.0
        return (min(self.charger.max_discharge_kw, self.battery.max_discharge_kw()),
                min(self.charger.max_charge_kw, self.battery.max_charge_kw()))

    def advance(self, dt: float) -> None:
        """Integrate ``dt`` seconds; sub-steps of at most one second keep tapers accurate."""
        if dt < 0:
            raise ValueError(f"time step must not be negative, got {dt}")
        total_kws = 0.0
        remaining = dt
        while remaining > 1e-12:
            step = min(MAX_SUBSTEP_S, remaining)
            if self._pending and self._pending[0][0] < self.clock + step:
                # Stop the sub-step where a pending setpoint becomes active.
                step = max(0.0, self._pending[0][0] - self.clock)
            total_kws += self._substep(step)
            self.clock += step
            remaining -= step
            while self._pending and self._pending[0][0] <= self.clock + 1e-12:
                self._active_kw = self._pending.popleft()[1]
        if dt > 0:
            self.power_kw = total_kws / dt

    def _substep(self, dt: float) -> float:
        if dt <= 0:
            return 0.0
        if self.battery is None:
            self._ramp_kw = 0.0
            return 0.0
        max_dis, max_chg = self.limits_kw()
        # The car's BMS cuts current at once when its limit falls below the present power.
        self._ramp_kw = min(max(self._ramp_kw, -max_dis), max_chg)
        target = min(max(self._active_kw, -max_dis), max_chg)
        kws, p_end = _ramp_energy(self._ramp_kw, target, self.charger.ramp_kw_per_s, dt)
        wanted_wh = kws * 1000.0 / SECONDS_PER_HOUR
        moved = self.battery.transfer(wanted_wh)
        self.limited = moved.limited
        if moved.limited:
            self._ramp_kw = 0.0
            return moved.grid_wh * SECONDS_PER_HOUR / 1000.0
        self._ramp_kw = p_end
        return kws

    @property
    def voltage_v(self) -> float:
        """DC link voltage: the pack voltage, rising with SoC (0 when nothing is plugged in)."""
        if self.battery is None:
            return 0.0
        return self.battery.spec.nominal_voltage_v * (0.9 + 0.2 * self.battery.soc)


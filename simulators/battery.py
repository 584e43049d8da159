"""EV traction battery: state of charge, tapering power limits, BMS floor, conversion losses.

Pure model, no I/O and no clock: callers advance it with explicit energy transfers over explicit
time steps. Sign convention everywhere in the simulators: positive power is the grid charging the
car (import), negative power is the car discharging into the grid (export).

Energy bookkeeping is exact by construction. The battery-side change of stored energy is computed
first and clamped to the battery's bounds; the grid-side energy is derived from it through the
charge or discharge efficiency, and the meter registers accumulate the grid-side energy. So at
every moment::

    stored = initial + charged_in_battery - discharged_from_battery
    import_register * charge_efficiency == charged_in_battery      (per step, to rounding)
    export_register / discharge_efficiency == discharged_from_battery
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class BatterySpec:
    """What a car model's battery can do. Efficiencies are grid meter to cell and back.

    The charge and discharge efficiencies cover the whole path through the DC charger, cables and
    battery, so their product is the round-trip efficiency seen at the station's meter (about
    0.87 for a LEAF on a bidirectional CHAdeMO unit).
    """

    model: str
    usable_kwh: float
    max_charge_kw: float
    max_discharge_kw: float
    charge_efficiency: float = 0.935
    discharge_efficiency: float = 0.935
    bms_floor_soc: float = 0.10
    charge_taper_soc: float = 0.80
    discharge_taper_soc: float = 0.25
    taper_min_fraction: float = 0.15
    nominal_voltage_v: float = 360.0

    def __post_init__(self) -> None:
        if self.usable_kwh <= 0:
            raise ValueError(f"usable_kwh must be positive, got {self.usable_kwh}")
        for name in ("charge_efficiency", "discharge_efficiency"):
            value = getattr(self, name)
            if not 0.0 < value <= 1.0:
                raise ValueError(f"{name} must be in (0, 1], got {value}")
        for name in ("bms_floor_soc", "charge_taper_soc", "discharge_taper_soc",
                     "taper_min_fraction"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"{name} must be in [0, 1], got {value}")
        if self.max_charge_kw < 0 or self.max_discharge_kw < 0:
            raise ValueError("power limits must not be negative")

    @property
    def round_trip_efficiency(self) -> float:
        """Fraction of imported grid energy that can be exported again."""
        return self.charge_efficiency * self.discharge_efficiency


LEAF_40 = BatterySpec(model="Nissan LEAF 40 kWh", usable_kwh=39.0, max_charge_kw=46.0,
                      max_discharge_kw=46.0, nominal_voltage_v=350.0)
LEAF_62 = BatterySpec(model="Nissan LEAF e+ 62 kWh", usable_kwh=59.0, max_charge_kw=70.0,
                      max_discharge_kw=70.0, nominal_voltage_v=360.0)

EV_MODELS: dict[str, BatterySpec] = {"leaf40": LEAF_40, "leaf62": LEAF_62}


@dataclass
class Transfer:
    """Result of one step: energies in Wh on the grid side and the battery side."""

    grid_wh: float
    battery_wh: float
    limited: bool


@dataclass
class Battery:
    """A car's battery in use: stored energy, the driver's floor and the meter registers.

    ``floor_soc`` is the driver's (or aggregator's) minimum; the effective floor is the higher of
    it and the BMS floor, and no transfer ever takes stored energy below it.
    """

    spec: BatterySpec
    soc: float
    floor_soc: float = 0.20
    import_wh: float = 0.0
    export_wh: float = 0.0
    _stored_wh: float = field(init=False, repr=False)

    def __post_init__(self) -> None:
        if not 0.0 <= self.soc <= 1.0:
            raise ValueError(f"soc must be in [0, 1], got {self.soc}")
        if not 0.0 <= self.floor_soc <= 1.0:
            raise ValueError(f"floor_soc must be in [0, 1], got {self.floor_soc}")
        self._stored_wh = self.soc * self.capacity_wh
        self.soc = self._stored_wh / self.capacity_wh

    @property
    def capacity_wh(self) -> float:
        """Usable capacity in Wh."""
        return self.spec.usable_kwh * 1000.0

    @property
    def stored_wh(self) -> float:
        """Energy now stored, in Wh."""
        return self._stored_wh

    @property
    def effective_floor_soc(self) -> float:
        """The SoC below which the car refuses to discharge: max of driver and BMS floors."""
        return max(self.floor_soc, self.spec.bms_floor_soc)

    @property
    def floor_wh(self) -> float:
        """Stored energy at the effective floor, in Wh."""
        return self.effective_floor_soc * self.capacity_wh

    def max_charge_kw(self) -> float:
        """Grid-side charge power the car accepts now; tapers linearly above the taper SoC."""
        spec = self.spec
        soc = self.soc
        if soc >= 1.0:
            return 0.0
        if soc <= spec.charge_taper_soc:
            return spec.max_charge_kw
        span = 1.0 - spec.charge_taper_soc
        fraction = 1.0 - (soc - spec.charge_taper_soc) / span * (1.0 - spec.taper_min_fraction)
        return spec.max_charge_kw * fraction

    def max_discharge_kw(self) -> float:
        """Grid-side discharge power the car offers now (>= 0).

        Zero at or below the effective floor; tapers linearly below the discharge taper SoC.
        """
        spec = self.spec
        soc = self.soc
        if self._stored_wh <= self.floor_wh:
            return 0.0
        if soc >= spec.discharge_taper_soc:
            return spec.max_discharge_kw
        fraction = spec.taper_min_fraction + (1.0 - spec.taper_min_fraction) * (
            soc / spec.discharge_taper_soc if spec.discharge_taper_soc > 0 else 1.0
        )
        return spec.max_discharge_kw * fraction

    def transfer(self, grid_wh: float) -> Transfer:
        """Move up to ``grid_wh`` Wh (negative: export) through the meter; return what moved.

        The battery never goes above full or below the effective floor; when a bound stops the
        transfer the result is ``limited``. Power limits are the caller's business (see
        :class:`simulators.charger.PowerTrain`); this only enforces energy bounds.
        """
        if grid_wh > 0:
            wanted = grid_wh * self.spec.charge_efficiency
            room = max(0.0, self.capacity_wh - self._stored_wh)
            battery_wh = min(wanted, room)
            if battery_wh <= 0.0:
                return Transfer(0.0, 0.0, True)
            actual_grid = battery_wh / self.spec.charge_efficiency
            full = battery_wh >= room
            self._stored_wh = self.capacity_wh if full else self._stored_wh + battery_wh
            self.import_wh += actual_grid
            self.soc = self._stored_wh / self.capacity_wh
            return Transfer(actual_grid, battery_wh, battery_wh < wanted)
        if grid_wh < 0:
            wanted = -grid_wh / self.spec.discharge_efficiency
            available = max(0.0, self._stored_wh - self.floor_wh)
            battery_wh = min(wanted, available)
            actual_grid = battery_wh * self.spec.discharge_efficiency
            if battery_wh <= 0.0:
                return Transfer(0.0, 0.0, wanted > 0.0)
            # Landing exactly on the floor avoids a rounding residue just below it.
            limited = battery_wh >= available
            self._stored_wh = self.floor_wh if limited else self._stored_wh - battery_wh
            self.export_wh += actual_grid
            self.soc = self._stored_wh / self.capacity_wh
            return Transfer(-actual_grid, -battery_wh, limited and battery_wh < wanted)
        return Transfer(0.0, 0.0, False)

    def energy_to_reach_wh(self, target_soc: float) -> float:
        """Grid-side Wh needed to charge to ``target_soc`` (0 if already there)."""
        missing = max(0.0, target_soc * self.capacity_wh - self._stored_wh)
        return missing / self.spec.charge_efficiency

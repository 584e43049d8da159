"""A station's smart-charging limits, as its device model (SmartChargingCtrlr) reports them."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from csms.smartcharging.model import RATE_UNITS


@dataclass(frozen=True)
class StationLimits:
    """What a station's device model says it accepts (SmartChargingCtrlr variables).

    ``None`` means unknown, and the rule is then not checked. ``entries`` is the number of
    profiles already installed other than one the new profile replaces (same id).
    """

    rate_units: frozenset[str] = frozenset(RATE_UNITS)  # SmartChargingCtrlr.RateUnit
    periods_per_schedule: int | None = None  # SmartChargingCtrlr.PeriodsPerSchedule
    max_stack_level: int | None = None  # SmartChargingCtrlr.ProfileStackLevel
    max_entries: int | None = None  # maxLimit of SmartChargingCtrlr.Entries
    entries: int = 0  # actual value of SmartChargingCtrlr.Entries
    ac_phase_switching: bool | None = None  # SmartChargingCtrlr.ACPhaseSwitchingSupported

    @classmethod
    def from_device_model(
        cls, variables: Mapping[str, str], *, max_entries: int | None = None, entries: int = 0
    ) -> StationLimits:
        """Build limits from reported variable values keyed "Component.Variable".

        Values are the strings of GetVariables/NotifyReport, e.g.
        ``{"SmartChargingCtrlr.RateUnit": "A,W", "SmartChargingCtrlr.PeriodsPerSchedule": "24"}``.
        Raises ValueError naming the variable when a value cannot be read.
        """

        def number(name: str) -> int | None:
            raw = variables.get(f"SmartChargingCtrlr.{name}")
            if raw is None or raw == "":
                return None
            try:
                return int(raw)
            except ValueError:
                raise ValueError(f"SmartChargingCtrlr.{name}: not an integer: {raw}") from None

        units_raw = variables.get("SmartChargingCtrlr.RateUnit")
        units = frozenset(RATE_UNITS)
        if units_raw:
            units = frozenset(u.strip() for u in units_raw.split(",") if u.strip())
            unknown = units - set(RATE_UNITS)
            if unknown:
                raise ValueError(f"SmartChargingCtrlr.RateUnit: unknown unit(s) {sorted(unknown)}")
        switching_raw = variables.get("SmartChargingCtrlr.ACPhaseSwitchingSupported")
        switching = None if switching_raw is None else switching_raw.strip().lower() == "true"
        return cls(
            rate_units=units,
            periods_per_schedule=number("PeriodsPerSchedule"),
            max_stack_level=number("ProfileStackLevel"),
            max_entries=max_entries,
            entries=entries,
            ac_phase_switching=switching,
        )

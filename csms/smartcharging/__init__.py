"""Smart charging: the profile model, K01 rule checks, profile stacking and composite schedules,
and builders for charge and discharge profiles in OCPP 2.0.1 and 2.1.

Pure logic shared by the CSMS and the station simulators: no I/O, no database.
"""

from csms.smartcharging.builders import (
    charge_model,
    charge_profile,
    charging_schedule_for_need,
    discharge_model,
    discharge_profile,
    need_model,
    profile_for_need,
    set_charging_profile,
)
from csms.smartcharging.composite import (
    EffectiveSetpoint,
    Electrical,
    composite_schedule,
    setpoint_at,
)
from csms.smartcharging.fields import ProfileFormatError
from csms.smartcharging.installed import InstalledProfile, InstalledProfiles
from csms.smartcharging.limits import StationLimits
from csms.smartcharging.model import ChargingProfile, ChargingSchedule, ChargingSchedulePeriod
from csms.smartcharging.needs import ChargingNeed, parse_charging_needs
from csms.smartcharging.rules import (
    ProfileRuleError,
    RuleViolation,
    check_profile,
    check_request,
    status_info,
)
from csms.smartcharging.schedule import CompositePeriod, CompositeSchedule, differences

__all__ = [
    "ChargingNeed",
    "ChargingProfile",
    "ChargingSchedule",
    "ChargingSchedulePeriod",
    "CompositePeriod",
    "CompositeSchedule",
    "EffectiveSetpoint",
    "Electrical",
    "InstalledProfile",
    "InstalledProfiles",
    "ProfileFormatError",
    "ProfileRuleError",
    "RuleViolation",
    "StationLimits",
    "charge_model",
    "charge_profile",
    "charging_schedule_for_need",
    "check_profile",
    "check_request",
    "composite_schedule",
    "differences",
    "discharge_model",
    "discharge_profile",
    "need_model",
    "parse_charging_needs",
    "profile_for_need",
    "set_charging_profile",
    "setpoint_at",
    "status_info",
]

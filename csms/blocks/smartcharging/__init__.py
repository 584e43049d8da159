"""Functional block K, smart charging, in both directions.

Station -> CSMS (:mod:`.handlers`): what stations report is stored, reported profiles are
recorded as installed, and an EV's charging need is answered with a TxProfile that meets it by
departure.

CSMS -> station: :func:`send_profile`, :func:`charge`, :func:`discharge`, :func:`clear_profiles`
(:mod:`.control`), :func:`station_profiles` (GetChargingProfiles, reconciliation) and
:func:`compare_composite` (GetCompositeSchedule next to the expected one) (:mod:`.readback`).
Each call travels as a command through the database to the node holding the station's socket;
each checks the K01 rules and the station's device-model limits before anything is sent, and
only a profile the station answered Accepted is recorded as installed.
"""

from csms.blocks.smartcharging.control import (
    DISPATCH_STACK_LEVEL,
    charge,
    clear_profiles,
    discharge,
    send_profile,
)
from csms.blocks.smartcharging.handlers import HANDLERS, HANDLERS_V21, NEED_STACK_LEVEL
from csms.blocks.smartcharging.readback import (
    CompositeComparison,
    ProfilesReport,
    compare_composite,
    station_profiles,
)
from csms.blocks.smartcharging.station import ProfileResult, believed_profiles

__all__ = [
    "DISPATCH_STACK_LEVEL",
    "HANDLERS",
    "HANDLERS_V21",
    "NEED_STACK_LEVEL",
    "CompositeComparison",
    "ProfileResult",
    "ProfilesReport",
    "believed_profiles",
    "charge",
    "clear_profiles",
    "compare_composite",
    "discharge",
    "send_profile",
    "station_profiles",
]

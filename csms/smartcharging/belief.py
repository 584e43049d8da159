"""The CSMS's picture of a station's profiles: built from stored rows, compared with reports.

Pure functions: the rows come from the store (``csms.store.charging``), the reports from the
station; nothing here does I/O.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from csms.smartcharging.fields import ProfileFormatError
from csms.smartcharging.installed import InstalledProfile, InstalledProfiles
from csms.smartcharging.limits import StationLimits
from csms.smartcharging.model import ChargingProfile, ChargingSchedule


@dataclass(frozen=True)
class StoredProfile:
    """A profile as the store keeps it: EVSE, source, the version of its wire form, the dict."""

    evse_id: int
    source: str
    version: str
    profile: Mapping[str, Any]


def build_installed(
    stored: Iterable[StoredProfile], limits: Iterable[InstalledProfile] = ()
) -> InstalledProfiles:
    """An :class:`InstalledProfiles` of the stored profiles plus external-limit entries.

    A stored profile that no longer parses (it should not happen) raises ProfileFormatError.
    """
    entries = [InstalledProfile(s.evse_id, ChargingProfile.from_wire(s.profile, s.version),
                                s.source) for s in stored]
    return InstalledProfiles([*entries, *limits])


def limit_profiles(
    limit_id: int,
    evse_id: int | None,
    source: str,
    schedules: Iterable[Mapping[str, Any]] | None,
    received_at: datetime,
    version: str,
) -> list[InstalledProfile]:
    """External constraints a NotifyChargingLimit told of, as installed-profile entries (K12).

    NotifyChargingLimit carries schedules, not profiles: each becomes an Absolute
    ChargingStationExternalConstraints profile (starting when the limit was received if the
    schedule has no startSchedule) with a negative id, so it cannot collide with a real one.
    Schedules that cannot be read are skipped.
    """
    out = []
    for index, raw in enumerate(schedules or ()):
        try:
            schedule = ChargingSchedule.from_wire(raw, version)
        except ProfileFormatError:
            continue
        if schedule.start_schedule is None:
            schedule = ChargingSchedule(
                id=schedule.id, charging_rate_unit=schedule.charging_rate_unit,
                periods=schedule.periods, start_schedule=received_at,
                duration=schedule.duration, min_charging_rate=schedule.min_charging_rate)
        profile = ChargingProfile(id=-(limit_id * 4 + index + 1), stack_level=0,
                                  purpose="ChargingStationExternalConstraints", kind="Absolute",
                                  schedules=(schedule,))
        out.append(InstalledProfile(evse_id or 0, profile, source))
    return out


def limits_from_variables(
    variables: Iterable[tuple[str, str, str | None, Mapping[str, Any] | None]],
    entries: int = 0,
) -> StationLimits:
    """StationLimits from device-model rows (component, variable, value, characteristics).

    Only SmartChargingCtrlr rows count; the maxLimit of Entries (instance ChargingProfiles)
    is its characteristics' ``maxLimit``. An unreadable value raises ValueError naming it.
    """
    values: dict[str, str] = {}
    max_entries: int | None = None
    for component, variable, value, characteristics in variables:
        if component != "SmartChargingCtrlr":
            continue
        if value is not None:
            values[f"{component}.{variable}"] = value
        if variable == "Entries" and characteristics and "maxLimit" in characteristics:
            max_entries = int(characteristics["maxLimit"])
    return StationLimits.from_device_model(values, max_entries=max_entries, entries=entries)


@dataclass(frozen=True)
class ProfileDifference:
    """One profile on which the CSMS and the station disagree."""

    profile_id: int
    evse_id: int | None
    problem: str

    def __str__(self) -> str:
        where = "" if self.evse_id is None else f" on EVSE {self.evse_id}"
        return f"profile {self.profile_id}{where}: {self.problem}"


def compare_profiles(
    believed: InstalledProfiles, reported: InstalledProfiles
) -> list[ProfileDifference]:
    """Where the belief and a station's report differ: missing, unexpected, or changed profiles.

    External-limit entries of the belief (negative ids, from NotifyChargingLimit) are left out:
    a station reports those as its own profiles with ids of its choosing.
    """
    out: list[ProfileDifference] = []
    mine = {e.profile.id: e for e in believed if e.profile.id >= 0}
    theirs = {e.profile.id: e for e in reported}
    for pid in sorted(mine.keys() | theirs.keys()):
        a, b = mine.get(pid), theirs.get(pid)
        if b is None:
            assert a is not None
            out.append(ProfileDifference(pid, a.evse_id, "believed installed, not reported"))
        elif a is None:
            out.append(ProfileDifference(pid, b.evse_id, "reported, not believed installed"))
        elif a.evse_id != b.evse_id:
            out.append(ProfileDifference(pid, b.evse_id,
                                         f"reported on EVSE {b.evse_id}, believed on "
                                         f"EVSE {a.evse_id}"))
        elif a.profile != b.profile:
            out.append(ProfileDifference(pid, b.evse_id, "reported content differs"))
    return out

"""CSMS -> station read-back: GetChargingProfiles (what the station says it holds, compared with
what the CSMS believes, optionally adopted) and GetCompositeSchedule (what the station will do,
next to what the believed profiles say it should)."""

from __future__ import annotations

import asyncio
import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from csms.blocks.smartcharging.station import (
    ProfileResult,
    check_online,
    check_schema,
    load_station,
    outcome,
)
from csms.smartcharging import (
    CompositeSchedule,
    InstalledProfiles,
    ProfileFormatError,
    composite_schedule,
    differences,
)
from csms.smartcharging.belief import ProfileDifference, StoredProfile, build_installed
from csms.smartcharging.belief import compare_profiles as compare
from csms.store import charging, commands

#: How often the ReportChargingProfiles of a request are looked for while waiting.
REPORT_POLL_SECONDS = 0.1
#: Composite values (in the rate unit) closer than this agree (stations round to 0.1).
COMPOSITE_TOLERANCE = 0.5


@dataclass(frozen=True)
class ProfilesReport:
    """Believed and reported profiles of a station, and where they differ.

    ``status`` is the station's answer to GetChargingProfiles (Accepted, NoProfiles) or what
    stopped it (Offline, Timeout, CallError, UnknownStation, ...); ``reported`` is None when
    the station could not be asked.
    """

    status: str
    reason: str | None
    believed: InstalledProfiles
    reported: InstalledProfiles | None
    differences: list[ProfileDifference] = field(default_factory=list)
    reconciled: bool = False


async def station_profiles(
    pool: Any, waiting: commands.Waiting, station_id: str, *, evse_id: int | None = None,
    reconcile: bool = False, timeout: float = 30.0,
) -> ProfilesReport:
    """Ask the station for its profiles (GetChargingProfiles, K09) and compare them with what
    the CSMS believes is installed (on ``evse_id``, or everywhere).

    With ``reconcile`` (whole station only) the CSMS adopts the report as its belief once the
    whole report (tbc false) has arrived.
    """
    station = await load_station(pool, station_id, evse_id or 0)
    if isinstance(station, ProfileResult):
        empty = InstalledProfiles()
        return ProfilesReport(station.status, station.reason, empty, None)
    believed = InstalledProfiles(station.installed.matching(evse_id=evse_id))
    request_id = secrets.randbelow(2**31 - 2) + 1
    payload: dict[str, Any] = {"requestId": request_id, "chargingProfile": {}}
    if evse_id is not None:
        payload["evseId"] = evse_id
    problem = check_schema(station.version, "GetChargingProfiles", payload)
    if problem is not None:
        return ProfilesReport("Invalid", problem, believed, None)
    offline = await check_online(pool, station_id)
    if offline is not None:
        return ProfilesReport(offline.status, offline.reason, believed, None)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    command_id = await commands.submit_command(pool, station_id, "GetChargingProfiles", payload)
    result = await commands.wait_for(waiting, command_id, timeout)
    answer = outcome(result, None, payload, command_id, accept=("Accepted", "NoProfiles"))
    if not answer.accepted:
        return ProfilesReport(answer.status, answer.reason, believed, None)
    rows: list[dict[str, Any]] = []
    if answer.status == "Accepted":
        while not await charging.report_complete(pool, station_id, request_id):
            if loop.time() >= deadline:
                return ProfilesReport("Timeout", f"the report of request {request_id} did not "
                                      f"complete within {timeout:g} s", believed, None)
            await asyncio.sleep(REPORT_POLL_SECONDS)
        rows = await charging.reported_profiles(pool, station_id, request_id)
    try:
        reported = build_installed(
            StoredProfile(r["evse_id"], r["charging_limit_source"], station.version, r["profile"])
            for r in rows)
    except ProfileFormatError as exc:
        return ProfilesReport("Invalid", f"the station reported an unreadable profile: {exc}",
                              believed, None)
    reconciled = False
    if reconcile and evse_id is None:
        await charging.replace_installed(pool, station_id, station.version, [
            (r["evse_id"], r["charging_limit_source"], r["profile"]) for r in rows])
        reconciled = True
    return ProfilesReport(answer.status, answer.reason, believed, reported,
                          compare(believed, reported), reconciled)


@dataclass(frozen=True)
class CompositeComparison:
    """The composite schedule the station reports next to the one the CSMS expects.

    ``expected`` is computed from the believed profiles over the reported schedule's span (or
    from now when the station gave none); ``differences`` lists where they disagree.
    ``reported`` is None when the station could not be asked, refused, or (``accepted``)
    answered without a schedule.
    """

    status: str
    reason: str | None
    expected: CompositeSchedule | None
    reported: CompositeSchedule | None
    differences: list[str] = field(default_factory=list)

    @property
    def accepted(self) -> bool:
        """The station accepted the request (it may still have sent no schedule)."""
        return self.status == "Accepted"


async def compare_composite(
    pool: Any, waiting: commands.Waiting, station_id: str, evse_id: int, duration: int, *,
    rate_unit: str = "W", timeout: float = 30.0,
) -> CompositeComparison:
    """Ask for the composite schedule of ``evse_id`` for ``duration`` seconds
    (GetCompositeSchedule, K08) and compare it with the expected one.

    Spans where no believed profile sets a limit are not compared (the station fills in its
    hardware maximum, which the CSMS does not know). Amperes convert at 230 V, three phases.
    """
    station = await load_station(pool, station_id, evse_id)
    if isinstance(station, ProfileResult):
        return CompositeComparison(station.status, station.reason, None, None)
    payload = {"duration": duration, "evseId": evse_id, "chargingRateUnit": rate_unit}
    problem = check_schema(station.version, "GetCompositeSchedule", payload)
    if problem is not None:
        return CompositeComparison("Invalid", problem, None, None)

    def expect(start: datetime, seconds: int) -> CompositeSchedule:
        return composite_schedule(station.installed, evse_id, start, seconds, rate_unit,
                                  station.tx_start, transaction_id=station.transaction)

    offline = await check_online(pool, station_id)
    if offline is not None:
        return CompositeComparison(offline.status, offline.reason,
                                   expect(datetime.now(UTC), duration), None)
    command_id = await commands.submit_command(pool, station_id, "GetCompositeSchedule", payload)
    result = await commands.wait_for(waiting, command_id, timeout)
    answer = outcome(result, None, payload, command_id)
    schedule = (result.response or {}).get("schedule")
    if not answer.accepted or schedule is None:
        return CompositeComparison(answer.status, answer.reason,
                                   expect(datetime.now(UTC), duration), None)
    try:
        reported = CompositeSchedule.from_wire(schedule, station.version)
    except ProfileFormatError as exc:
        return CompositeComparison("Invalid", f"the station's schedule is unreadable: {exc}",
                                   expect(datetime.now(UTC), duration), None)
    expected = expect(reported.schedule_start, reported.duration)
    return CompositeComparison(answer.status, answer.reason, expected, reported,
                               differences(expected, reported, COMPOSITE_TOLERANCE,
                                           ignore_unset=True))

"""CSMS -> station, smart charging (K01, K08-K10): SetChargingProfile (any profile, or charge /
discharge on an EVSE), ClearChargingProfile, and the read-back of what a station holds
(GetChargingProfiles) and will do (GetCompositeSchedule).

Before anything is sent, the station is loaded once into a :class:`StationView` (its OCPP
version, the profiles the CSMS believes installed, its device-model limits, the transaction on
the EVSE), the profile is checked once against the K01 rules, the limits and the believed
profiles, and converted to the wire once. Only a profile the station answers Accepted is
recorded as installed.
"""

from __future__ import annotations

import asyncio
import secrets
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from csms.operations.client import Operations, request_problem
from csms.operations.outcome import Outcome, Status, refused
from csms.smartcharging import (
    ChargingProfile,
    CompositeSchedule,
    InstalledProfiles,
    ProfileFormatError,
    ProfileRuleError,
    StationLimits,
    charge_model,
    composite_schedule,
    differences,
    discharge_model,
    set_charging_profile,
)
from csms.smartcharging.belief import (
    ProfileDifference,
    StoredProfile,
    build_installed,
    limit_profiles,
    limits_from_variables,
)
from csms.smartcharging.belief import compare_profiles as compare
from csms.store import charging, devicemodel

#: Stack level of dispatch (charge / discharge) TxProfiles: above the need profile, so that
#: when a dispatch window ends the need profile applies again.
DISPATCH_STACK_LEVEL = 1
#: How often the ReportChargingProfiles of a request are looked for while waiting.
REPORT_POLL_SECONDS = 0.1
#: Composite values (in the rate unit) closer than this agree (stations round to 0.1).
COMPOSITE_TOLERANCE = 0.5


@dataclass(frozen=True)
class ProfileOutcome(Outcome):
    """The outcome of a profile call, with the id of the profile it concerns."""

    profile_id: int | None = None


def _with_id(outcome: Outcome, profile_id: int | None) -> ProfileOutcome:
    fields = {f: getattr(outcome, f) for f in Outcome.__dataclass_fields__}
    return ProfileOutcome(**fields, profile_id=profile_id)


@dataclass
class StationView:
    """What the CSMS knows of a station before it sends it a profile."""

    station_id: str
    version: str
    installed: InstalledProfiles
    limits: StationLimits
    transaction: str | None
    tx_start: datetime | None
    v2x: dict[str, str] = field(default_factory=dict)

    def reusable_id(self, evse_id: int, transaction_id: str, stack_level: int) -> int | None:
        """The id of the believed TxProfile a new one for this stack level must replace
        (K01.FR.39 allows one TxProfile per stackLevel and transaction)."""
        for entry in self.installed.matching(evse_id=evse_id, purpose="TxProfile",
                                             stack_level=stack_level):
            if entry.profile.transaction_id == transaction_id:
                return entry.profile.id
        return None

    def refusal(self, evse_id: int, profile: ChargingProfile) -> str | None:
        """Every K01 rule, device-model limit and storage rule the profile breaks, or None."""
        trial = InstalledProfiles(list(self.installed))
        tx = {evse_id: self.transaction} if self.transaction is not None else {}
        violations = trial.install(profile, evse_id, version=self.version, limits=self.limits,
                                   transactions=tx)
        return "; ".join(str(v) for v in violations) or None


async def believed_profiles(pool: Any, station_id: str, version: str = "2.1") -> InstalledProfiles:
    """What the CSMS believes is installed on a station, external limits included.

    Settles answered SetChargingProfile commands first and forgets TxProfiles of ended
    transactions. NotifyChargingLimit schedules still open appear as external constraints with
    negative ids.
    """
    await charging.settle_pending_profiles(pool, station_id)
    await charging.prune_installed(pool, station_id)
    rows = await charging.installed_profiles(pool, station_id)
    stored = [StoredProfile(r.evse_id, r.source, r.version, r.profile) for r in rows]
    limits = []
    for lim in await charging.open_charging_limits(pool, station_id):
        limits += limit_profiles(lim["id"], lim["evse_id"], lim["charging_limit_source"],
                                 lim["charging_schedules"], lim["received_at"], version)
    return build_installed(stored, limits)


async def load_view(ops: Operations, station_id: str, evse_id: int,
                    version: str | None = None) -> StationView | Outcome:
    """The station's view for a profile on ``evse_id`` (``version``: its connection's, when
    known), or the refusal: an unknown station, or one whose OCPP version is unknown (it never
    connected: a profile is built in the station's dialect, so none can be built for it)."""
    known, stored = await ops.station_version(station_id)
    version = version or stored
    if not known:
        return refused(Status.UNKNOWN_STATION, f"no station {station_id} is registered")
    if version is None:
        return refused(Status.OFFLINE, f"station {station_id} has never connected; its OCPP "
                                       "version is unknown")
    pool = ops.pool
    variables = [v for v in await devicemodel.get_variables(pool, station_id)
                 if v.attribute_type == "Actual"]
    try:
        limits = limits_from_variables(
            (v.component_name, v.variable_name, v.value, v.characteristics) for v in variables)
    except ValueError as exc:
        return refused(Status.INVALID, f"device model: {exc}")
    v2x = {v.variable_name: v.value for v in variables
           if v.component_name == "V2XChargingCtrlr" and v.evse_id in (None, evse_id)
           and v.value is not None}
    active = await charging.active_transaction(pool, station_id, evse_id) if evse_id > 0 else None
    return StationView(station_id, version, await believed_profiles(pool, station_id, version),
                       limits, active[0] if active else None, active[1] if active else None, v2x)


# -- SetChargingProfile ------------------------------------------------------------------------

async def send_profile(
    ops: Operations, view: StationView, evse_id: int, profile: ChargingProfile, *,
    timeout: float = 30.0,
) -> ProfileOutcome:
    """Send SetChargingProfile with ``profile`` to ``evse_id`` of the station of ``view``.

    Refused (INVALID, nothing sent) when it breaks a K01 rule, exceeds the station's
    SmartChargingCtrlr limits, conflicts with a profile the CSMS believes installed, or does not
    fit the version's schema. It is recorded as installed only when the station answers
    Accepted (a late answer after ``timeout`` is recorded when it arrives).
    """
    problem = view.refusal(evse_id, profile)
    if problem is not None:
        return _with_id(refused(Status.INVALID, problem), profile.id)
    payload = set_charging_profile(evse_id, profile.to_wire(view.version))
    problem = request_problem(view.version, "SetChargingProfile", payload)
    if problem is not None:
        return _with_id(refused(Status.INVALID, problem, payload), profile.id)
    ids = await ops.submit(view.station_id, "SetChargingProfile", payload)
    if isinstance(ids, Outcome):
        return _with_id(ids, profile.id)
    await charging.record_pending_profile(ops.pool, ids[0], view.station_id, evse_id,
                                          view.version, payload["chargingProfile"])
    outcome = await ops.wait("SetChargingProfile", payload, ids, timeout=timeout)
    await charging.settle_pending_profiles(ops.pool, view.station_id)
    return _with_id(outcome, profile.id)


async def set_power(
    ops: Operations, station_id: str, evse_id: int, power_w: float, start: datetime,
    end: datetime | None, *, discharging: bool, profile_id: int | None = None,
    stack_level: int = DISPATCH_STACK_LEVEL, purpose: str = "TxProfile", timeout: float = 30.0,
) -> ProfileOutcome:
    """Discharge (``discharging``) or limit charging to ``power_w`` watts on ``evse_id`` from
    ``start`` to ``end`` (None: until the transaction ends), as a TxProfile for the
    transaction running there (another ``purpose``, e.g. TxDefaultProfile, builds the same
    schedule without a transaction).

    The dialect follows the station: 2.0.1 a negative limit in W; 2.1 operationMode
    CentralSetpoint with a negative setpoint and dischargeLimit (the negative limit when its
    V2XChargingCtrlr.SupportedOperationModes lacks CentralSetpoint). Without ``profile_id``
    the TxProfile of that stack level is replaced, or a new id is taken. Refused (INVALID,
    nothing sent) as :func:`send_profile`, and when no transaction runs on the EVSE.
    """
    view = await load_view(ops, station_id, evse_id)
    if isinstance(view, Outcome):
        return _with_id(view, profile_id)
    tx: str | None = None
    if purpose == "TxProfile":
        if evse_id <= 0:
            # K01.FR.16: a TxProfile is only set on an EVSE (evseId > 0).
            return _with_id(refused(Status.INVALID, f"K01.FR.16: evseId: a TxProfile needs an "
                                                    f"EVSE > 0, got {evse_id}"), profile_id)
        tx = view.transaction
        if tx is None:
            # K01.FR.09: a TxProfile needs a transaction running on the EVSE.
            return _with_id(refused(Status.INVALID, f"K01.FR.09: transactionId: no transaction "
                                                    f"is running on EVSE {evse_id}"), profile_id)
    dialect = view.version
    if discharging and dialect == "2.1":
        if (view.v2x.get("Enabled") or "").lower() == "false":
            return _with_id(refused(Status.INVALID, f"V2XChargingCtrlr.Enabled: V2X is "
                                                    f"disabled on EVSE {evse_id}"), profile_id)
        modes = view.v2x.get("SupportedOperationModes")
        if modes and "CentralSetpoint" not in modes.split(","):
            dialect = "2.0.1"  # the backwards-compatible negative limit, valid in 2.1 too
    if profile_id is None:
        reuse = None if tx is None else view.reusable_id(evse_id, tx, stack_level)
        profile_id = reuse or await charging.next_profile_id(ops.pool)
    build = discharge_model if discharging else charge_model
    try:
        profile = build(dialect, transaction_id=tx, power_w=power_w, start=start, end=end,
                        profile_id=profile_id, stack_level=stack_level, purpose=purpose)
    except (ProfileRuleError, ValueError) as exc:
        return _with_id(refused(Status.INVALID, str(exc)), profile_id)
    return await send_profile(ops, view, evse_id, profile, timeout=timeout)


async def clear_profiles(
    ops: Operations, station_id: str, *, profile_id: int | None = None,
    evse_id: int | None = None, purpose: str | None = None, stack_level: int | None = None,
    timeout: float = 30.0,
) -> ProfileOutcome:
    """Send ClearChargingProfile: the profile ``profile_id``, or every profile matching the
    given criteria (none: all the CSMS may clear), and wait for the answer (K10).

    Unknown (nothing matched) counts as accepted: either way none is on the station any more,
    and the matching profiles are no longer recorded as installed. External constraints cannot
    be cleared by the CSMS; asking to is refused (INVALID).
    """
    if purpose == "ChargingStationExternalConstraints":
        return _with_id(refused(Status.INVALID, "chargingProfilePurpose: ChargingStation"
                                "ExternalConstraints are set by an external actor and cannot "
                                "be cleared by the CSMS"), profile_id)
    payload: dict[str, Any] = {}
    if profile_id is not None:
        payload["chargingProfileId"] = profile_id
    criteria = {key: value for key, value in (("evseId", evse_id),
                                              ("chargingProfilePurpose", purpose),
                                              ("stackLevel", stack_level)) if value is not None}
    if criteria:
        payload["chargingProfileCriteria"] = criteria
    outcome = await ops.call(station_id, "ClearChargingProfile", payload, timeout=timeout,
                             accept=("Accepted", "Unknown"))
    if outcome.ok:
        await charging.settle_pending_profiles(ops.pool, station_id)
        await charging.remove_installed(ops.pool, station_id, profile_id=profile_id,
                                        evse_id=evse_id, purpose=purpose,
                                        stack_level=stack_level)
    return _with_id(outcome, profile_id)


# -- read-back --------------------------------------------------------------------------------

@dataclass(frozen=True)
class ProfilesReport:
    """Believed and reported profiles of a station, and where they differ.

    ``outcome`` is the GetChargingProfiles call's (accepted for Accepted and NoProfiles);
    ``reported`` is None when the station could not be asked or its report did not complete.
    """

    outcome: Outcome
    believed: InstalledProfiles
    reported: InstalledProfiles | None
    differences: list[ProfileDifference] = field(default_factory=list)
    reconciled: bool = False


async def station_profiles(
    ops: Operations, station_id: str, *, evse_id: int | None = None, reconcile: bool = False,
    timeout: float = 30.0,
) -> ProfilesReport:
    """Ask the station for its profiles (GetChargingProfiles, K09) and compare them with what
    the CSMS believes is installed (on ``evse_id``, or everywhere).

    With ``reconcile`` (whole station only) the CSMS adopts the report as its belief once the
    whole report (tbc false) has arrived.
    """
    view = await load_view(ops, station_id, evse_id or 0)
    if isinstance(view, Outcome):
        return ProfilesReport(view, InstalledProfiles(), None)
    believed = InstalledProfiles(view.installed.matching(evse_id=evse_id))
    request_id = secrets.randbelow(2**31 - 2) + 1
    payload: dict[str, Any] = {"requestId": request_id, "chargingProfile": {}}
    if evse_id is not None:
        payload["evseId"] = evse_id
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    answer = await ops.call(station_id, "GetChargingProfiles", payload, timeout=timeout,
                            accept=("Accepted", "NoProfiles"))
    if not answer.ok:
        return ProfilesReport(answer, believed, None)
    rows: list[dict[str, Any]] = []
    if answer.station_status == "Accepted":
        while not await charging.report_complete(ops.pool, station_id, request_id):
            if loop.time() >= deadline:
                late = replace(answer, status=Status.TIMEOUT, reason=(
                    f"the report of request {request_id} did not complete within "
                    f"{timeout:g} s"))
                return ProfilesReport(late, believed, None)
            await asyncio.sleep(REPORT_POLL_SECONDS)
        rows = await charging.reported_profiles(ops.pool, station_id, request_id)
    try:
        reported = build_installed(
            StoredProfile(r["evse_id"], r["charging_limit_source"], view.version, r["profile"])
            for r in rows)
    except ProfileFormatError as exc:
        bad = replace(answer, status=Status.INVALID,
                      reason=f"the station reported an unreadable profile: {exc}")
        return ProfilesReport(bad, believed, None)
    reconciled = False
    if reconcile and evse_id is None:
        await charging.replace_installed(ops.pool, station_id, view.version, [
            (r["evse_id"], r["charging_limit_source"], r["profile"]) for r in rows])
        reconciled = True
    return ProfilesReport(answer, believed, reported, compare(believed, reported), reconciled)


@dataclass(frozen=True)
class CompositeComparison:
    """The composite schedule the station reports next to the one the CSMS expects.

    ``expected`` is computed from the believed profiles over the reported schedule's span (or
    from now when the station gave none); ``differences`` lists where they disagree;
    ``reported`` is None when the station could not be asked or answered without a schedule.
    """

    outcome: Outcome
    expected: CompositeSchedule | None
    reported: CompositeSchedule | None
    differences: list[str] = field(default_factory=list)


async def compare_composite(
    ops: Operations, station_id: str, evse_id: int, duration: int, *, rate_unit: str = "W",
    timeout: float = 30.0,
) -> CompositeComparison:
    """Ask for the composite schedule of ``evse_id`` for ``duration`` seconds
    (GetCompositeSchedule, K08) and compare it with the expected one.

    Spans where no believed profile sets a limit are not compared (the station fills in its
    hardware maximum, which the CSMS does not know). Amperes convert at 230 V, three phases.
    """
    view = await load_view(ops, station_id, evse_id)
    if isinstance(view, Outcome):
        return CompositeComparison(view, None, None)

    def expect(start: datetime, seconds: int) -> CompositeSchedule:
        return composite_schedule(view.installed, evse_id, start, seconds, rate_unit,
                                  view.tx_start, transaction_id=view.transaction)

    payload = {"duration": duration, "evseId": evse_id, "chargingRateUnit": rate_unit}
    answer = await ops.call(station_id, "GetCompositeSchedule", payload, timeout=timeout)
    schedule = (answer.response or {}).get("schedule")
    if answer.status in (Status.UNKNOWN_STATION, Status.INVALID):
        return CompositeComparison(answer, None, None)
    if not answer.ok or schedule is None:
        return CompositeComparison(answer, expect(datetime.now(UTC), duration), None)
    try:
        reported = CompositeSchedule.from_wire(schedule, view.version)
    except ProfileFormatError as exc:
        bad = replace(answer, status=Status.INVALID,
                      reason=f"the station's schedule is unreadable: {exc}")
        return CompositeComparison(bad, expect(datetime.now(UTC), duration), None)
    expected = expect(reported.schedule_start, reported.duration)
    return CompositeComparison(answer, expected, reported,
                               differences(expected, reported, COMPOSITE_TOLERANCE,
                                           ignore_unset=True))

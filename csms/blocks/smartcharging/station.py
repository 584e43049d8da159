"""What the CSMS knows of a station's smart charging before it sends anything: its version,
the profiles it believes installed, the device-model limits, the running transaction; and the
result type every profile call returns."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from csms.ocppj import SUBPROTOCOLS, OCPPError, get_validator
from csms.smartcharging import ChargingProfile, InstalledProfiles, StationLimits
from csms.smartcharging.belief import (
    StoredProfile,
    build_installed,
    limit_profiles,
    limits_from_variables,
)
from csms.store import charging, commands, devicemodel


@dataclass(frozen=True)
class ProfileResult:
    """The outcome of sending (or refusing to send) a charging-profile request.

    ``status`` is the station's answer (Accepted, Rejected, Unknown, NoProfiles) or what stopped
    it: Invalid (refused before sending; ``reason`` names the rule), UnknownStation, Offline,
    CallError, Timeout. ``payload`` is the request sent (None when nothing was sent).
    """

    accepted: bool
    status: str
    reason: str | None = None
    profile_id: int | None = None
    payload: dict[str, Any] | None = None
    command_id: int | None = None


def refused(status: str, reason: str, profile_id: int | None = None) -> ProfileResult:
    """A result for a request that was not sent."""
    return ProfileResult(False, status, reason, profile_id)


@dataclass
class StationView:
    """What the CSMS knows of a station before it sends it a profile."""

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


async def load_station(
    pool: Any, station_id: str, evse_id: int, version: str | None = None
) -> StationView | ProfileResult:
    """The station's view for a profile on ``evse_id`` (``version``: the connection's, when
    known), or the refusal when the station is unknown or its version cannot be told."""
    known, subprotocol = await charging.station_subprotocol(pool, station_id)
    if not known:
        return refused("UnknownStation", f"no station {station_id} is registered")
    version = version or SUBPROTOCOLS.get(subprotocol or "")
    if version is None:
        return refused("Offline", f"station {station_id} has never connected; its OCPP "
                                   "version is unknown")
    variables = [v for v in await devicemodel.get_variables(pool, station_id)
                 if v.attribute_type == "Actual"]
    try:
        limits = limits_from_variables(
            (v.component_name, v.variable_name, v.value, v.characteristics) for v in variables)
    except ValueError as exc:
        return refused("Invalid", f"device model: {exc}")
    v2x = {v.variable_name: v.value for v in variables
           if v.component_name == "V2XChargingCtrlr" and v.evse_id in (None, evse_id)
           and v.value is not None}
    active = await charging.active_transaction(pool, station_id, evse_id) if evse_id > 0 else None
    return StationView(version, await believed_profiles(pool, station_id, version), limits,
                       active[0] if active else None, active[1] if active else None, v2x)


async def check_online(pool: Any, station_id: str) -> ProfileResult | None:
    """None when a live node holds the station's socket, else the Offline result."""
    if not await commands.station_online(pool, station_id):
        return refused("Offline", f"station {station_id} is not connected")
    return None


def check_schema(version: str, action: str, payload: dict[str, Any]) -> str | None:
    """None when ``payload`` is a valid ``action`` request of ``version``, else what is wrong."""
    try:
        get_validator(version).validate_request(action, payload)
    except OCPPError as exc:
        return f"OCPP {version} schema: {exc.description}"
    return None


def outcome(
    result: commands.CommandResult, profile_id: int | None, payload: dict[str, Any],
    command_id: int, accept: tuple[str, ...] = ("Accepted",),
) -> ProfileResult:
    """The ProfileResult of a command's outcome; ``accept`` lists the statuses that succeed."""
    if result.status == "answered" and result.response is not None:
        status = str(result.response.get("status"))
        info = result.response.get("statusInfo") or {}
        reason = ": ".join(str(info[k]) for k in ("reasonCode", "additionalInfo") if k in info)
        return ProfileResult(status in accept, status, reason or None, profile_id, payload,
                             command_id)
    label = {"error": "CallError", "timeout": "Timeout", "offline": "Offline",
             "expired": "Expired", "queued": "Timeout",
             "disconnected": "Disconnected"}.get(result.status, result.status)
    reason = ": ".join(x for x in (result.error_code, result.error_description) if x)
    return ProfileResult(False, label, reason or None, profile_id, payload, command_id)



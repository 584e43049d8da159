"""The station side of smart charging: installed profiles, K01 checks, composite, setpoint.

The rules, the storage and the schedule arithmetic are :mod:`csms.smartcharging`'s, the same the
CSMS uses; this module adapts them to one DC EVSE (amperes convert with the DC link voltage, one
"phase") and to the station's own limits.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from csms.smartcharging import (
    Electrical,
    InstalledProfiles,
    StationLimits,
    check_request,
    composite_schedule,
    setpoint_at,
    status_info,
)
from simulators.evse import EVSE_ID


def _utc(ts: float) -> datetime:
    return datetime.fromtimestamp(ts, UTC)


class StationProfiles:
    """Charging profiles installed on a one-EVSE station and what they ask for now."""

    def __init__(self, version: str, limits: StationLimits | None = None,
                 max_power_w: float = 20_000.0) -> None:
        self.version = version
        self.limits = limits or StationLimits(periods_per_schedule=48, max_stack_level=8,
                                              max_entries=32)
        self.installed = InstalledProfiles()
        self.max_power_w = max_power_w
        self.tx_start: datetime | None = None

    def __len__(self) -> int:
        return len(self.installed)

    def _transactions(self, tx_id: str | None) -> dict[int, str]:
        return {EVSE_ID: tx_id} if tx_id is not None else {}

    def set_request(self, payload: dict[str, Any], tx_id: str | None) -> dict[str, Any]:
        """Answer a SetChargingProfileRequest: install the profile or say which rule it breaks.

        Checks the K01 rules (TxProfile without transactionId K01.FR.03, first startPeriod not 0
        K01.FR.31, startSchedule missing for Absolute K01.FR.40, stack level and period limits
        of the device model, conflicts with installed profiles, ...) via
        :func:`csms.smartcharging.check_request` and :meth:`InstalledProfiles.install`.
        """
        profile, violations = check_request(payload, version=self.version, limits=self.limits,
                                            transactions=self._transactions(tx_id))
        if profile is not None and not violations:
            violations = self.installed.install(
                profile, payload["evseId"], version=self.version, limits=self.limits,
                transactions=self._transactions(tx_id))
        if violations:
            return {"status": "Rejected", "statusInfo": status_info(violations)}
        return {"status": "Accepted"}

    def install(self, profile: dict[str, Any], evse_id: int, tx_id: str | None) -> bool:
        """Install a profile that came with RequestStartTransaction; False if it breaks a rule."""
        response = self.set_request({"evseId": evse_id, "chargingProfile": profile}, tx_id)
        return response["status"] == "Accepted"

    def clear_request(self, payload: dict[str, Any]) -> dict[str, Any]:
        """Answer a ClearChargingProfileRequest (K10)."""
        return self.installed.clear_request(payload)

    def report_requests(self, payload: dict[str, Any]) -> list[dict[str, Any]]:
        """The ReportChargingProfiles payloads for a GetChargingProfilesRequest (K09)."""
        return self.installed.report(payload, self.version)

    def transaction_started(self, now: float) -> None:
        """Relative profiles count from the start of the transaction."""
        self.tx_start = _utc(now)

    def transaction_ended(self, tx_id: str) -> None:
        """TxProfiles of an ended transaction are removed."""
        self.installed.end_transaction(tx_id)
        self.tx_start = None

    def composite_response(self, payload: dict[str, Any], now: float, voltage: float,
                           tx_id: str | None) -> dict[str, Any]:
        """Answer a GetCompositeScheduleRequest for the next ``duration`` seconds (K08)."""
        unit = payload.get("chargingRateUnit", "W")
        electrical = Electrical(voltage=voltage, phases=1)
        default = electrical.from_watts(self.max_power_w, unit, 1)
        self.installed.drop_expired(_utc(now))
        schedule = composite_schedule(
            self.installed, payload["evseId"], _utc(now), payload["duration"], unit,
            self.tx_start, transaction_id=tx_id, electrical=electrical, default_limit=default)
        return schedule.response(self.version)

    def requested_kw(self, now: float, tx_id: str | None, voltage: float) -> float | None:
        """Signed power the profiles ask for at ``now`` in kW; None when nothing restricts.

        Positive is a charge limit, negative a discharge setpoint (2.0.1 negative limit: discharge
        at up to its magnitude; 2.1 CentralSetpoint: the setpoint, capped by dischargeLimit).
        """
        if not len(self.installed):
            return None
        setpoint = setpoint_at(self.installed, EVSE_ID, _utc(now), self.tx_start,
                               transaction_id=tx_id,
                               electrical=Electrical(voltage=voltage or 400.0, phases=1))
        return None if setpoint.power_w is None else setpoint.power_w / 1000.0

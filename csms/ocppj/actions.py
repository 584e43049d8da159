"""Who may send each OCPP action: the CSMS-initiated ones per version.

OCPP 2.0.1 and 2.1 Part 2 say of every message whether the CSMS sends it to the charging station
or the station sends it to the CSMS; DataTransfer is the one that goes both ways. Every action of
a version that is not listed here is sent by stations only (the CSMS answers it: see
:func:`csms.blocks.handlers_for`).
"""

from __future__ import annotations

_CSMS_INITIATED_201 = frozenset({
    "CancelReservation",
    "CertificateSigned",
    "ChangeAvailability",
    "ClearCache",
    "ClearChargingProfile",
    "ClearDisplayMessage",
    "ClearVariableMonitoring",
    "CostUpdated",
    "CustomerInformation",
    "DataTransfer",  # both ways
    "DeleteCertificate",
    "GetBaseReport",
    "GetChargingProfiles",
    "GetCompositeSchedule",
    "GetDisplayMessages",
    "GetInstalledCertificateIds",
    "GetLocalListVersion",
    "GetLog",
    "GetMonitoringReport",
    "GetReport",
    "GetTransactionStatus",
    "GetVariables",
    "InstallCertificate",
    "PublishFirmware",  # to a local controller
    "RequestStartTransaction",
    "RequestStopTransaction",
    "ReserveNow",
    "Reset",
    "SendLocalList",
    "SetChargingProfile",
    "SetDisplayMessage",
    "SetMonitoringBase",
    "SetMonitoringLevel",
    "SetNetworkProfile",
    "SetVariableMonitoring",
    "SetVariables",
    "TriggerMessage",
    "UnlockConnector",
    "UnpublishFirmware",  # to a local controller
    "UpdateFirmware",
})

_CSMS_INITIATED_21_ADDED = frozenset({
    "AFRRSignal",
    "AdjustPeriodicEventStream",
    "ChangeTransactionTariff",
    "ClearDERControl",
    "ClearTariffs",
    "GetDERControl",
    "GetPeriodicEventStream",
    "GetTariffs",
    "NotifyAllowedEnergyTransfer",
    "NotifyWebPaymentStarted",
    "RequestBatterySwap",
    "SetDERControl",
    "SetDefaultTariff",
    "UpdateDynamicSchedule",
    "UsePriorityCharging",
})

#: The actions a CSMS may send, per OCPP version ("2.0.1", "2.1").
CSMS_INITIATED: dict[str, frozenset[str]] = {
    "2.0.1": _CSMS_INITIATED_201,
    "2.1": _CSMS_INITIATED_201 | _CSMS_INITIATED_21_ADDED,
}


#: Device-model variables whose values are secrets (SecurityCtrlr, Part 2): never stored, logged
#: or kept in a command row; shown as MASK.
SECRET_VARIABLES = frozenset({"BasicAuthPassword"})
MASK = "***"


def sent_by_csms(version: str, action: str) -> bool:
    """True when a CSMS may send ``action`` in OCPP ``version`` (False for an action only
    stations send, or one the version does not define)."""
    return action in CSMS_INITIATED[version]

"""Every station -> CSMS action of each version has a handler, and nothing else does."""

from __future__ import annotations

import pytest

from csms.blocks import handlers_for
from csms.blocks.station_context import BlockConfig
from csms.ocppj import get_validator

STATION_TO_CSMS_201 = {
    "Authorize", "BootNotification", "ClearedChargingLimit", "DataTransfer",
    "FirmwareStatusNotification", "Get15118EVCertificate", "GetCertificateStatus", "Heartbeat",
    "LogStatusNotification", "MeterValues", "NotifyChargingLimit", "NotifyCustomerInformation",
    "NotifyDisplayMessages", "NotifyEVChargingNeeds", "NotifyEVChargingSchedule", "NotifyEvent",
    "NotifyMonitoringReport", "NotifyReport", "PublishFirmwareStatusNotification",
    "ReportChargingProfiles", "ReservationStatusUpdate", "SecurityEventNotification",
    "SignCertificate", "StatusNotification", "TransactionEvent",
}
STATION_TO_CSMS_21_ONLY = {
    "BatterySwap", "ClosePeriodicEventStream", "GetCertificateChainStatus", "NotifyDERAlarm",
    "NotifyDERStartStop", "NotifyPeriodicEventStream", "NotifyPriorityCharging",
    "NotifySettlement", "OpenPeriodicEventStream", "PullDynamicScheduleUpdate",
    "ReportDERControl", "VatNumberValidation",
}


def test_handlers_cover_exactly_the_station_initiated_actions():
    assert set(handlers_for("2.0.1")) == STATION_TO_CSMS_201
    assert set(handlers_for("2.1")) == STATION_TO_CSMS_201 | STATION_TO_CSMS_21_ONLY
    for version in ("2.0.1", "2.1"):
        assert set(handlers_for(version)) <= get_validator(version).actions()


def test_unknown_version_and_bad_config_are_refused():
    with pytest.raises(ValueError, match="unknown OCPP version"):
        handlers_for("1.6")
    with pytest.raises(ValueError, match="boot_policy"):
        BlockConfig(boot_policy="maybe")

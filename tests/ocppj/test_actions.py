"""The CSMS-initiated actions: every action of a version is sent by exactly one side (DataTransfer
by both), and the station's side is exactly what the CSMS has handlers for."""

from __future__ import annotations

import pytest

from csms.blocks import handlers_for
from csms.ocppj import CSMS_INITIATED, VERSIONS, get_validator, sent_by_csms


@pytest.mark.parametrize("version", VERSIONS)
def test_each_action_has_one_sender(version: str) -> None:
    actions = get_validator(version).actions()
    ours = CSMS_INITIATED[version]
    theirs = frozenset(handlers_for(version))
    assert ours <= actions
    assert ours | theirs == actions
    assert ours & theirs == {"DataTransfer"}


def test_station_messages_are_not_sent_by_a_csms() -> None:
    for action in ("Heartbeat", "BootNotification", "StatusNotification", "MeterValues",
                   "TransactionEvent", "Authorize", "NotifyReport", "SignCertificate"):
        assert not sent_by_csms("2.0.1", action)
        assert not sent_by_csms("2.1", action)
    for action in ("BatterySwap", "NotifyPeriodicEventStream", "VatNumberValidation"):
        assert not sent_by_csms("2.1", action)


def test_csms_messages_by_version() -> None:
    assert sent_by_csms("2.0.1", "Reset") and sent_by_csms("2.1", "Reset")
    assert sent_by_csms("2.0.1", "DataTransfer") and sent_by_csms("2.1", "DataTransfer")
    assert sent_by_csms("2.1", "RequestBatterySwap")
    assert not sent_by_csms("2.0.1", "RequestBatterySwap")  # not a 2.0.1 action at all

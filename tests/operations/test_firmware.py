"""The phase of a station's firmware update and the UpdateFirmware payload (no I/O)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import pytest

from csms.operations.firmware import FirmwareRequest, Phase, phase_of
from csms.store.firmware import StationUpdate

T = datetime(2026, 11, 5, 16, 0, tzinfo=UTC)
BASE = StationUpdate("CP-1", 100000, 1, 7, "1.0", None, None, None, None, None, None, None,
                     None, None, None, T)


@pytest.mark.parametrize(("answer", "status", "canceled_by", "phase"), [
    (None, None, None, Phase.SENT),
    ("timeout", None, None, Phase.SENT),
    ("queued", None, None, Phase.QUEUED),
    ("offline", None, None, Phase.NOT_SENT),
    ("expired", None, None, Phase.NOT_SENT),
    ("Rejected", None, None, Phase.REFUSED),
    ("RevokedCertificate", None, None, Phase.REFUSED),
    ("callerror", None, None, Phase.REFUSED),
    ("Accepted", None, None, Phase.ACCEPTED),
    ("AcceptedCanceled", "Downloading", None, Phase.IN_PROGRESS),
    ("Accepted", "InstallRebooting", None, Phase.IN_PROGRESS),
    ("Accepted", "Installed", None, Phase.INSTALLED),
    ("Accepted", "InvalidSignature", None, Phase.FAILED),
    ("Accepted", "InstallationFailed", None, Phase.FAILED),
    ("Accepted", "Downloading", 100001, Phase.CANCELED),
])
def test_phase_of(answer, status, canceled_by, phase):
    update = replace(BASE, answer=answer, status=status, canceled_by=canceled_by)
    assert phase_of(update) is phase


def test_payload_carries_only_what_was_given():
    plain = FirmwareRequest("https://fw/x.bin", T)
    assert plain.payload(5) == {"requestId": 5, "firmware": {
        "location": "https://fw/x.bin", "retrieveDateTime": "2026-11-05T16:00:00Z"}}
    signed = FirmwareRequest("https://fw/x.bin", T, install_at=T, signature="c2ln",
                             signing_certificate="PEM", retries=2, retry_interval=30)
    payload = signed.payload(6)
    assert payload["firmware"]["installDateTime"] == "2026-11-05T16:00:00Z"
    assert (payload["firmware"]["signature"], payload["firmware"]["signingCertificate"]) == (
        "c2ln", "PEM")
    assert (payload["retries"], payload["retryInterval"]) == (2, 30)

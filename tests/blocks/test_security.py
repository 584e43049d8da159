"""Block A: security events (certificates: tests/blocks/test_certificates.py)."""

from __future__ import annotations

import asyncpg
import pytest

from csms.ocppj import OCPPError
from csms.store import reports
from tests.blocks.conftest import STATION


async def test_security_event_is_stored(pool: asyncpg.Pool, call):
    assert await call("SecurityEventNotification", {
        "type": "InvalidCsmsCertificate", "timestamp": "2026-06-01T16:00:00Z",
        "techInfo": "expired"}) == {}
    [event] = await reports.list_security_events(pool, STATION)
    assert event["type"] == "InvalidCsmsCertificate" and event["tech_info"] == "expired"


async def test_vat_number_validation_is_not_supported(call21):
    with pytest.raises(OCPPError) as err:
        await call21("VatNumberValidation", {"vatNumber": "NL123456789B01"})
    assert err.value.code == "NotSupported"

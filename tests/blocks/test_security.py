"""Blocks A and M: security events, and certificate requests without a PKI."""

from __future__ import annotations

import asyncpg
import pytest

from csms.ocppj import OCPPError
from csms.store import reports
from tests.blocks.conftest import STATION

HASH = {"hashAlgorithm": "SHA256", "issuerNameHash": "aa", "issuerKeyHash": "bb",
        "serialNumber": "01"}


async def test_security_event_is_stored(pool: asyncpg.Pool, call):
    assert await call("SecurityEventNotification", {
        "type": "InvalidCsmsCertificate", "timestamp": "2026-06-01T16:00:00Z",
        "techInfo": "expired"}) == {}
    [event] = await reports.list_security_events(pool, STATION)
    assert event["type"] == "InvalidCsmsCertificate" and event["tech_info"] == "expired"


async def test_sign_certificate_is_rejected_with_a_reason(pool: asyncpg.Pool, call):
    response = await call("SignCertificate", {"csr": "-----BEGIN CERTIFICATE REQUEST-----",
                                              "certificateType": "ChargingStationCertificate"})
    assert response["status"] == "Rejected"
    assert response["statusInfo"]["reasonCode"] == "NoPKI"
    row = await pool.fetchrow("SELECT action, answer_status, request FROM certificate_requests")
    assert row["action"] == "SignCertificate" and row["answer_status"] == "Rejected"
    assert row["request"]["certificateType"] == "ChargingStationCertificate"


async def test_15118_ev_certificate_fails_with_a_reason(call):
    response = await call("Get15118EVCertificate", {
        "iso15118SchemaVersion": "urn:iso:15118:2:2013:MsgDef", "action": "Install",
        "exiRequest": "AAAA"})
    assert response["status"] == "Failed" and response["statusInfo"]["reasonCode"] == "NoPKI"


async def test_certificate_status_fails_with_a_reason(call):
    response = await call("GetCertificateStatus", {"ocspRequestData": {
        **HASH, "responderURL": "http://ocsp.example"}})
    assert response["status"] == "Failed" and "OCSP" in response["statusInfo"]["additionalInfo"]


async def test_certificate_chain_status_answers_failed_per_certificate(call21):
    response = await call21("GetCertificateChainStatus", {"certificateStatusRequests": [
        {"source": "OCSP", "urls": ["http://ocsp.example"], "certificateHashData": HASH},
        {"source": "CRL", "urls": ["http://crl.example"], "certificateHashData": HASH},
    ]})
    assert [(s["source"], s["status"]) for s in response["certificateStatus"]] == [
        ("OCSP", "Failed"), ("CRL", "Failed")]


async def test_vat_number_validation_is_not_supported(call21):
    with pytest.raises(OCPPError) as err:
        await call21("VatNumberValidation", {"vatNumber": "NL123456789B01"})
    assert err.value.code == "NotSupported"

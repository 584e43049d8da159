"""Functional blocks A and M, security and certificates: SecurityEventNotification, and the
certificate requests a station makes.

No certificate authority or OCSP responder is configured, so certificate requests are stored
and answered Rejected / Failed with a statusInfo that says why, never silently accepted.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from csms.blocks.context import StationContext
from csms.blocks.wire import iso, status_info, time_field
from csms.store import reports

NO_PKI = "NoPKI"
_NO_CA = "No certificate authority is configured on this CSMS to sign certificates."
_NO_OCSP = "No OCSP responder or certificate authority is configured on this CSMS."


async def security_event_notification(
    ctx: StationContext, payload: dict[str, Any]
) -> dict[str, Any]:
    """Store a security event (A04)."""
    await reports.store_security_event(
        ctx.pool,
        ctx.station_id,
        payload["type"],
        time_field(payload["timestamp"], "timestamp"),
        payload.get("techInfo"),
    )
    ctx.log.info("security_event", type=payload["type"])
    return {}


async def sign_certificate(ctx: StationContext, payload: dict[str, Any]) -> dict[str, Any]:
    """Reject a certificate signing request (A02/A03): there is no CA to sign it."""
    await reports.store_certificate_request(
        ctx.pool, ctx.station_id, "SignCertificate", payload, "Rejected", NO_PKI
    )
    return {"status": "Rejected", "statusInfo": status_info(NO_PKI, _NO_CA)}


async def get_15118_ev_certificate(ctx: StationContext, payload: dict[str, Any]) -> dict[str, Any]:
    """Fail an EV contract certificate installation (M02): there is no contract CA."""
    await reports.store_certificate_request(
        ctx.pool, ctx.station_id, "Get15118EVCertificate", payload, "Failed", NO_PKI
    )
    return {"status": "Failed", "exiResponse": "", "statusInfo": status_info(NO_PKI, _NO_CA)}


async def get_certificate_status(ctx: StationContext, payload: dict[str, Any]) -> dict[str, Any]:
    """Fail an OCSP status request (M06): there is no OCSP responder to ask."""
    await reports.store_certificate_request(
        ctx.pool, ctx.station_id, "GetCertificateStatus", payload, "Failed", NO_PKI
    )
    return {"status": "Failed", "statusInfo": status_info(NO_PKI, _NO_OCSP)}


async def get_certificate_chain_status(
    ctx: StationContext, payload: dict[str, Any]
) -> dict[str, Any]:
    """Answer Failed for every certificate of a chain status request (2.1)."""
    await reports.store_certificate_request(
        ctx.pool, ctx.station_id, "GetCertificateChainStatus", payload, "Failed", NO_PKI
    )
    now = iso(datetime.now(UTC))
    return {
        "certificateStatus": [
            {
                "certificateHashData": r["certificateHashData"],
                "source": r["source"],
                "status": "Failed",
                "nextUpdate": now,
            }
            for r in payload["certificateStatusRequests"]
        ]
    }


HANDLERS = {
    "SecurityEventNotification": security_event_notification,
    "SignCertificate": sign_certificate,
    "Get15118EVCertificate": get_15118_ev_certificate,
    "GetCertificateStatus": get_certificate_status,
}

HANDLERS_V21 = {"GetCertificateChainStatus": get_certificate_chain_status}

"""Functional blocks A and M, certificates: a station's CSR signed by the configured CA and
sent back (A02/A03), EV contract certificates from the contract backend (M01/M02), OCSP
answers from the responders configured (M06, and 2.1 GetCertificateChainStatus), and what the
station's answers to the CSMS's certificate calls say (its certificate inventory, M03 to M05).

Where nothing is configured the answer says so in its statusInfo (reasonCode NoCA,
NoContractBackend, OCSPNotConfigured); nothing is ever silently accepted.
"""

from __future__ import annotations

import asyncio
import base64
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import structlog

from csms.blocks import revocation
from csms.blocks.payload import iso, status_info
from csms.blocks.station_context import StationContext
from csms.operations import Operations
from csms.operations import certificates as certificate_calls
from csms.security import hashdata
from csms.security.contracts import ContractBackendError, request_contract
from csms.security.hashdata import CertificateError, CertificateHashData
from csms.security.ocsp import OcspStatus
from csms.security.signing import (
    AuthorityError,
    CsrRejected,
    SigningAuthority,
    check_csr,
    issue,
)
from csms.store import certificates, reports
from csms.store import station_certificates as inventory
from csms.store.db import Db

#: The longest ocspResult and exiResponse each OCPP version's schema allows.
_OCSP_RESULT_LIMIT = {"2.0.1": 5500, "2.1": 18000}
_EXI_RESPONSE_LIMIT = {"2.0.1": 7500, "2.1": 17000}

_log = structlog.get_logger("csms.blocks.certificates")

#: Deliveries of signed certificates in progress (kept referenced until done).
_DELIVERIES: set[asyncio.Task[None]] = set()


async def sign_certificate(ctx: StationContext, payload: dict[str, Any]) -> dict[str, Any]:
    """Sign a station's CSR with the CA configured for its certificate type (A02.FR.11) and
    send the chain in a CertificateSigned once this answer is out; refuse a CSR that fails
    the checks of :func:`csms.security.signing.check_csr`, or when no usable CA is configured
    (A02.FR.12)."""
    certificate_type = payload.get("certificateType", "ChargingStationCertificate")
    csr_pem, request_id = payload["csr"], payload.get("requestId")

    async def refuse(code: str, detail: str, subject: str | None = None) -> dict[str, Any]:
        await inventory.record_signing(ctx.pool, ctx.station_id, certificate_type, csr_pem,
                                       request_id=request_id, csr_subject=subject,
                                       status="Rejected", reason_code=code, reason=detail)
        ctx.log.warning("csr_rejected", certificate_type=certificate_type, reason=code,
                        detail=detail)
        return {"status": "Rejected", "statusInfo": status_info(code, detail)}

    record = await certificates.get_authority(ctx.pool, certificate_type)
    if record is None:
        return await refuse("NoCA", f"No certificate authority is configured on this CSMS to "
                            f"sign {certificate_type} certificates.")
    try:
        authority = await asyncio.to_thread(SigningAuthority.load, Path(record.cert_file),
                                            Path(record.key_file))
    except AuthorityError as exc:
        return await refuse("CAUnavailable", f"The configured certificate authority cannot "
                            f"sign: {exc}")
    try:
        csr = check_csr(csr_pem, ctx.station_id, certificate_type)
    except CsrRejected as rejected:
        return await refuse(rejected.problem.value, rejected.detail)
    issued = issue(authority, csr, certificate_type, days=record.days)
    signing_id = await inventory.record_signing(
        ctx.pool, ctx.station_id, certificate_type, csr_pem, request_id=request_id,
        csr_subject=csr.subject.rfc4514_string(), status="Accepted",
        serial_number=issued.serial_number, not_after=issued.certificate.not_valid_after_utc,
        certificate_chain=issued.chain_pem)
    ctx.log.info("csr_signed", certificate_type=certificate_type,
                 serial_number=issued.serial_number)
    # The CertificateSigned goes out after this answer: the task starts once the answer has
    # been written (nothing awaits between this return and the write).
    task = asyncio.create_task(_deliver(ctx, signing_id, issued.chain_pem, certificate_type,
                                        request_id))
    _DELIVERIES.add(task)
    task.add_done_callback(_DELIVERIES.discard)
    return {"status": "Accepted"}


async def _deliver(ctx: StationContext, signing_id: int, chain: str, certificate_type: str,
                   request_id: int | None) -> None:
    """Submit the CertificateSigned (A02 step 5); the station's answer is recorded by
    :func:`record_answer` when it comes."""
    # Only submitted here, never waited for: the client needs no LISTEN connection.
    ops = Operations(ctx.pool, database_url="")
    try:
        submitted = await certificate_calls.send_signed_certificate(
            ops, ctx.station_id, chain, certificate_type,
            request_id if ctx.version == "2.1" else None)
        await inventory.record_delivery(ctx.pool, signing_id,
                                        command_id=submitted.command_id,
                                        error=submitted.refusal)
    except Exception as exc:  # a delivery that fails is recorded, never lost silently
        ctx.log.exception("certificate_delivery_failed", signing_id=signing_id)
        await inventory.record_delivery(ctx.pool, signing_id, error=f"not sent: {exc}")


async def get_15118_ev_certificate(ctx: StationContext, payload: dict[str, Any]
                                   ) -> dict[str, Any]:
    """Forward an EV's certificate installation or update (M01/M02) to the contract backend
    and answer with what it says."""
    settings = await certificates.get_settings(ctx.pool)

    async def answer(status: str, exi: str, code: str | None, detail: str | None,
                     remaining: int | None = None) -> dict[str, Any]:
        await reports.store_certificate_request(ctx.pool, ctx.station_id,
                                                "Get15118EVCertificate", payload, status, code)
        out: dict[str, Any] = {"status": status, "exiResponse": exi}
        if code:
            out["statusInfo"] = status_info(code, detail or "")
        if remaining is not None and ctx.version == "2.1":
            out["remainingContracts"] = remaining
        return out

    if not settings.contract_url:
        return await answer("Failed", "", "NoContractBackend", "No contract certificate "
                            "backend is configured on this CSMS.")
    try:
        result = await request_contract(settings.contract_url, ctx.station_id, payload,
                                        timeout=settings.http_timeout_s)
    except ContractBackendError as exc:
        ctx.log.warning("contract_backend_failed", error=str(exc))
        return await answer("Failed", "", "BackendUnavailable", str(exc))
    if len(result.exi_response) > _EXI_RESPONSE_LIMIT[ctx.version]:
        return await answer("Failed", "", "BackendUnavailable", "the backend's exiResponse "
                            "is longer than OCPP allows")
    return await answer(result.status, result.exi_response, result.reason_code,
                        result.additional_info, result.remaining_contracts)


async def get_certificate_status(ctx: StationContext, payload: dict[str, Any]
                                 ) -> dict[str, Any]:
    """Fetch the OCSP answer a station needs for a certificate (M06) from the responder it
    names, if that responder is configured, or a cached answer still valid."""
    request = payload["ocspRequestData"]

    async def failed(code: str, detail: str) -> dict[str, Any]:
        await reports.store_certificate_request(ctx.pool, ctx.station_id,
                                                "GetCertificateStatus", payload, "Failed", code)
        return {"status": "Failed", "statusInfo": status_info(code, detail)}

    try:
        data = CertificateHashData.from_wire(request)
    except CertificateError as exc:
        return await failed("InvalidHashData", str(exc))
    settings = await certificates.get_settings(ctx.pool)
    lookup = await revocation.ocsp_lookup(ctx.pool, settings, data, request["responderURL"])
    if lookup.answer is None:
        assert lookup.failure is not None
        return await failed(lookup.failure.value, lookup.detail)
    result = base64.b64encode(lookup.answer.der).decode()
    if len(result) > _OCSP_RESULT_LIMIT[ctx.version]:
        return await failed("OCSPUnavailable", "the OCSP answer is longer than OCPP allows")
    await reports.store_certificate_request(ctx.pool, ctx.station_id, "GetCertificateStatus",
                                            payload, "Accepted", None)
    return {"status": "Accepted", "ocspResult": result}


_CHAIN_STATUS = {OcspStatus.GOOD: "Good", OcspStatus.REVOKED: "Revoked",
                 OcspStatus.UNKNOWN: "Unknown"}


async def get_certificate_chain_status(ctx: StationContext, payload: dict[str, Any]
                                       ) -> dict[str, Any]:
    """The status of each certificate of a chain (2.1): from the first configured OCSP
    responder of its urls that answers; Failed for CRL sources (not fetched) and where no
    responder could say."""
    settings = await certificates.get_settings(ctx.pool)
    statuses = []
    for entry in payload["certificateStatusRequests"]:
        status, next_update = "Failed", iso(datetime.now(UTC))
        try:
            data = CertificateHashData.from_wire(entry["certificateHashData"])
        except CertificateError:
            data = None
        if data is not None and entry["source"] == "OCSP":
            for url in entry["urls"]:
                lookup = await revocation.ocsp_lookup(ctx.pool, settings, data, url)
                if lookup.answer is not None:
                    status = _CHAIN_STATUS[lookup.answer.status]
                    if lookup.answer.next_update is not None:
                        next_update = iso(lookup.answer.next_update)
                    break
        statuses.append({"certificateHashData": entry["certificateHashData"],
                         "source": entry["source"], "status": status,
                         "nextUpdate": next_update})
    await reports.store_certificate_request(ctx.pool, ctx.station_id,
                                            "GetCertificateChainStatus", payload,
                                            "Answered", None)
    return {"certificateStatus": statuses}


HANDLERS = {
    "SignCertificate": sign_certificate,
    "Get15118EVCertificate": get_15118_ev_certificate,
    "GetCertificateStatus": get_certificate_status,
}

HANDLERS_V21 = {"GetCertificateChainStatus": get_certificate_chain_status}


# -- what the station's answers to the CSMS's certificate calls say ----------------------------

async def record_answer(db: Db, station_id: str, action: str, request: dict[str, Any],
                        response: dict[str, Any]) -> None:
    """Keep what an answered certificate call tells about the station (whoever sent it: the
    ``csms certs`` commands, ``csms call``, the API).

    A failure here is logged, never raised: the command's own outcome must still be recorded.
    """
    recorder = _RECORDERS.get(action)
    if recorder is None:
        return
    try:
        await recorder(db, station_id, request, response)
    except Exception:
        _log.exception("certificate_answer_not_recorded", station_id=station_id, action=action)


def _reason(response: dict[str, Any]) -> str | None:
    info = response.get("statusInfo") or {}
    text = ": ".join(str(info[k]) for k in ("reasonCode", "additionalInfo") if info.get(k))
    return text or None


def _fields(data: CertificateHashData) -> inventory.HashFields:
    return inventory.HashFields(data.hash_algorithm, data.issuer_name_hash,
                                data.issuer_key_hash, data.serial_number)


async def _installed(db: Db, station_id: str, request: dict[str, Any],
                     response: dict[str, Any]) -> None:
    """M05: keep the InstallCertificate and the answer; an accepted root joins the
    inventory (hashed with SHA256 until the station lists its certificates itself)."""
    pem, certificate_type, status = request["certificate"], request["certificateType"], \
        response["status"]
    try:
        certificate = hashdata.load_one(pem)
    except CertificateError:
        await inventory.record_install(db, station_id, certificate_type, pem, status=status,
                                       reason=_reason(response), command_id=None)
        return
    info = hashdata.describe(certificate)
    install_id = await inventory.record_install(
        db, station_id, certificate_type, pem, status=status, reason=_reason(response),
        command_id=None, subject=info.subject, issuer=info.issuer,
        serial_number=info.serial_number, not_after=info.not_after,
        fingerprint=info.fingerprint)
    if status == "Accepted" and hashdata.is_self_signed(certificate):
        await inventory.add_installed(db, station_id, certificate_type,
                                      _fields(hashdata.hash_data(certificate, certificate)),
                                      install_id)


async def _listed(db: Db, station_id: str, request: dict[str, Any],
                  response: dict[str, Any]) -> None:
    """M03: the station's answer is its inventory for the types asked (all if none)."""
    types = request.get("certificateType") or None
    entries = []
    if response["status"] == "Accepted":
        installs = await inventory.list_installs(db, station_id, accepted_only=True)
        for chain in response.get("certificateHashDataChain", []):
            try:
                data = CertificateHashData.from_wire(chain["certificateHashData"])
            except CertificateError:
                continue
            entries.append(inventory.NewEntry(
                chain["certificateType"], _fields(data), chain.get("childCertificateHashData",
                                                                  []),
                _install_of(installs, chain["certificateType"], data)))
    await inventory.replace_inventory(db, station_id, types, entries)


def _install_of(installs: list[inventory.InstallRecord], certificate_type: str,
                data: CertificateHashData) -> int | None:
    """The install (newest first) whose certificate the reported hash data names."""
    for record in installs:
        if record.certificate_type != certificate_type or record.serial_number != \
                data.serial_number:
            continue
        certificate = hashdata.load_one(record.certificate)
        if hashdata.issuer_name_hash(certificate, data.hash_algorithm) == \
                data.issuer_name_hash:
            return record.id
    return None


async def _deleted(db: Db, station_id: str, request: dict[str, Any],
                   response: dict[str, Any]) -> None:
    """M04: deleted, or not found on the station: either way it is not there any more."""
    if response["status"] in ("Accepted", "NotFound"):
        try:
            data = CertificateHashData.from_wire(request["certificateHashData"])
        except CertificateError:
            return
        await inventory.remove_certificate(db, station_id, _fields(data))


async def _signed(db: Db, station_id: str, request: dict[str, Any],
                  response: dict[str, Any]) -> None:
    """A02: the station's answer to the chain the CSMS signed for it."""
    try:
        leaf = hashdata.load_chain(request["certificateChain"])[0]
    except CertificateError:
        return
    await inventory.record_signed_answer(db, station_id, hashdata.serial_hex(
        leaf.serial_number), response["status"], _reason(response))


_RECORDERS = {"InstallCertificate": _installed, "GetInstalledCertificateIds": _listed,
              "DeleteCertificate": _deleted, "CertificateSigned": _signed}

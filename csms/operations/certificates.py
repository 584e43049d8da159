"""What the CSMS sends a station about certificates: install a root (M05), list what it has
(M03), delete one (M04), have it renew its certificate (A02, TriggerMessage), and the
CertificateSigned that carries a certificate the CSMS signed.

The station's answers are kept by :func:`csms.blocks.certificates.record_answer` as the node
records them, so the inventory read here after a call is what the station just said.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

from csms.operations.client import DEFAULT_TIMEOUT, Operations
from csms.operations.outcome import Outcome, Status, refused
from csms.security.hashdata import CertificateError, CertificateHashData, describe, load_one
from csms.store import certificates, station_certificates
from csms.store.station_certificates import InventoryEntry, SigningRecord

#: What TriggerMessage asks for to renew each type of station certificate.
RENEW_TRIGGERS = {"ChargingStationCertificate": "SignChargingStationCertificate",
                  "V2GCertificate": "SignV2GCertificate",
                  "V2G20Certificate": "SignV2G20Certificate"}


@dataclass(frozen=True)
class Submitted:
    """A CertificateSigned handed to the node holding the station's socket, or why not."""

    command_id: int | None
    refusal: str | None = None


async def send_signed_certificate(ops: Operations, station_id: str, chain: str,
                                  certificate_type: str, request_id: int | None) -> Submitted:
    """Submit a CertificateSigned carrying ``chain`` (A02 step 5) without waiting for it."""
    payload: dict[str, object] = {"certificateChain": chain,
                                  "certificateType": certificate_type}
    if request_id is not None:
        payload["requestId"] = request_id
    checked = await ops.check(station_id, "CertificateSigned", payload)
    if isinstance(checked, Outcome):
        return Submitted(None, checked.describe())
    ids = await ops.submit(station_id, "CertificateSigned", payload)
    if isinstance(ids, Outcome):
        return Submitted(None, ids.describe())
    return Submitted(ids[0])


def install_problem(pem: str, certificate_type: str, now: dt.datetime | None = None
                    ) -> str | None:
    """Why ``pem`` should not go to a station as ``certificate_type``, or None: it must be
    one CA certificate valid now (a station refuses anything else, TC_M_07)."""
    try:
        info = describe(load_one(pem))
    except CertificateError as exc:
        return str(exc)
    if not info.ca:
        return f"{info.subject} is not a CA certificate; a {certificate_type} must be one"
    if info.expired(now) or info.not_yet_valid(now):
        return (f"{info.subject} is valid from {info.not_before:%Y-%m-%d %H:%M} to "
                f"{info.not_after:%Y-%m-%d %H:%M} UTC, not now")
    return None


async def install_certificate(ops: Operations, station_id: str, certificate_type: str,
                              pem: str, *, timeout: float = DEFAULT_TIMEOUT) -> Outcome:
    """Install a root certificate on a station (M05, InstallCertificate)."""
    payload = {"certificateType": certificate_type, "certificate": pem}
    problem = install_problem(pem, certificate_type)
    if problem is not None:
        return refused(Status.INVALID, problem, payload)
    return await ops.call(station_id, "InstallCertificate", payload, timeout=timeout)


@dataclass(frozen=True)
class Inventory:
    """A station's certificates as the CSMS knows them; ``outcome`` is the
    GetInstalledCertificateIds call's when the station was asked, else None."""

    entries: list[InventoryEntry]
    outcome: Outcome | None = None


async def station_inventory(ops: Operations, station_id: str,
                            types: Sequence[str] | None = None, *, refresh: bool = False,
                            timeout: float = DEFAULT_TIMEOUT) -> Inventory:
    """The station's certificates of ``types`` (all if None); with ``refresh`` asked of the
    station first (M03, GetInstalledCertificateIds; NotFound counts as an answer)."""
    outcome = None
    if refresh:
        payload = {"certificateType": list(types)} if types else {}
        outcome = await ops.call(station_id, "GetInstalledCertificateIds", payload,
                                 timeout=timeout, accept=("Accepted", "NotFound"))
    entries = await station_certificates.list_inventory(ops.pool, station_id, types)
    return Inventory(entries, outcome)


def _issued_by(entry: InventoryEntry, issuer: str | None) -> bool:
    """True when ``issuer`` is None, in the entry's issuer name (as the CSMS installed it),
    or the start of its issuerNameHash."""
    if issuer is None:
        return True
    text = issuer.strip().lower()
    return text in (entry.issuer or "").lower() or entry.issuer_name_hash.startswith(text)


async def find_by_serial(ops: Operations, station_id: str, serial_number: str,
                         types: Sequence[str] | None = None, *, issuer: str | None = None,
                         timeout: float = DEFAULT_TIMEOUT) -> Inventory:
    """The inventory entries with ``serial_number`` (and ``issuer``, see :func:`_issued_by`),
    as the station hashes them: an entry the station has not listed itself yet is looked up
    again after asking it, since a DeleteCertificate must use the station's hash algorithm
    (M04.FR.07)."""
    def wanted(entries: list[InventoryEntry]) -> list[InventoryEntry]:
        return [e for e in entries if e.serial_number == serial_number and
                _issued_by(e, issuer)]

    found = wanted((await station_inventory(ops, station_id, types)).entries)
    if not any(e.source == "installed" for e in found):
        return Inventory(found)
    asked = sorted({e.certificate_type for e in found})
    again = await station_inventory(ops, station_id, asked, refresh=True, timeout=timeout)
    return Inventory(wanted(again.entries), again.outcome)


async def delete_certificate(ops: Operations, station_id: str, data: CertificateHashData, *,
                             timeout: float = DEFAULT_TIMEOUT) -> Outcome:
    """Delete a certificate from a station (M04, DeleteCertificate)."""
    return await ops.call(station_id, "DeleteCertificate",
                          {"certificateHashData": data.to_wire()}, timeout=timeout)


class RenewStage(StrEnum):
    """How far a renewal (A02) got."""

    NO_CA = "no-ca"  #: not triggered: no CA is configured for the type
    TRIGGER_REFUSED = "trigger-refused"  #: the TriggerMessage did not get Accepted
    NO_CSR = "no-csr"  #: triggered, no SignCertificate came in time
    CSR_REJECTED = "csr-rejected"  #: the CSMS refused the CSR
    NOT_DELIVERED = "not-delivered"  #: signed; the CertificateSigned did not reach the station
    NO_ANSWER = "no-answer"  #: sent; the station has not answered it in time
    STATION_REJECTED = "station-rejected"  #: the station refused the certificate
    INSTALLED = "installed"  #: the station accepted its new certificate


#: Delivery states after which the station will not answer the CertificateSigned.
_UNDELIVERED = frozenset({"error", "timeout", "offline", "expired"})


@dataclass(frozen=True)
class Renewal:
    """The outcome of :func:`renew`: the stage reached, the TriggerMessage's outcome (None
    when not sent) and the CSR received (None when none came)."""

    stage: RenewStage
    trigger: Outcome | None = None
    signing: SigningRecord | None = None


def _stage(signing: SigningRecord) -> RenewStage | None:
    """The final stage this CSR's record shows, or None while it is still under way."""
    if signing.status == "Rejected":
        return RenewStage.CSR_REJECTED
    if signing.station_status == "Accepted":
        return RenewStage.INSTALLED
    if signing.station_status is not None:
        return RenewStage.STATION_REJECTED
    if signing.delivery_error or signing.delivery in _UNDELIVERED:
        return RenewStage.NOT_DELIVERED
    return None


async def renew(ops: Operations, station_id: str,
                certificate_type: str = "ChargingStationCertificate", *,
                timeout: float = DEFAULT_TIMEOUT, poll: float = 0.2) -> Renewal:
    """Have a station renew its certificate (A02): TriggerMessage, then follow the CSR it
    sends, the certificate the CSMS signs and the station's answer, for up to ``timeout``
    seconds in all."""
    if await certificates.get_authority(ops.pool, certificate_type) is None:
        return Renewal(RenewStage.NO_CA)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    seen = await station_certificates.last_signing_id(ops.pool)
    trigger = await ops.call(station_id, "TriggerMessage",
                             {"requestedMessage": RENEW_TRIGGERS[certificate_type]},
                             timeout=timeout)
    if not trigger.ok:
        return Renewal(RenewStage.TRIGGER_REFUSED, trigger)
    signing = None
    while True:
        found = await station_certificates.list_signings(ops.pool, station_id, after_id=seen)
        found = [s for s in found if s.certificate_type == certificate_type]
        if found:
            signing = found[-1]  # the first CSR after the trigger
            stage = _stage(signing)
            if stage is not None:
                return Renewal(stage, trigger, signing)
        if loop.time() >= deadline:
            return Renewal(RenewStage.NO_ANSWER if signing else RenewStage.NO_CSR, trigger,
                           signing)
        await asyncio.sleep(poll)

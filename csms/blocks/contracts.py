"""Authorization with a contract certificate (C07, ISO 15118 Plug & Charge): what an
AuthorizeResponse says of the certificate (certificateStatus) and how that bends the token's
status (2.0.1 errata 2023-12, C07.FR.13 to C07.FR.17).

A station sends either the hash data of the chain it validated itself
(iso15118CertificateHashData: local validation, the CSMS checks revocation), or the chain
itself (certificate: central validation, the CSMS also checks the chain up to a trusted V2G
or MO root and the validity periods). Revocation comes from the operator's revocation list
and, where OCSP responders are configured, from the responder each certificate names
(C07.FR.05: real-time or cached OCSP data).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.x509.oid import AuthorityInformationAccessOID

from csms.blocks import revocation
from csms.blocks.revocation import LookupFailure
from csms.security.hashdata import (
    CertificateError,
    CertificateHashData,
    describe,
    hash_data,
    load_chain,
)
from csms.security.ocsp import OcspStatus
from csms.store import certificates as store
from csms.store.db import Db

#: Token statuses after which a valid certificate still does not authorize (C07.FR.13).
_CANCELLED = frozenset({"Blocked", "Expired", "Invalid", "Unknown"})


@dataclass(frozen=True)
class ContractVerdict:
    """certificateStatus for the AuthorizeResponse, the idTokenInfo.status to answer with
    it, and why (for the log)."""

    certificate_status: str
    token_status: str
    detail: str = ""


@dataclass(frozen=True)
class _Certificate:
    data: CertificateHashData
    responder_url: str | None


class _Refusal(Exception):
    def __init__(self, status: str, detail: str):
        super().__init__(detail)
        self.status = status
        self.detail = detail


async def check_contract(db: Db, payload: dict[str, Any], token_status: str,
                         now: datetime | None = None) -> ContractVerdict | None:
    """The verdict on the contract certificate of an AuthorizeRequest, or None when the
    request carries none."""
    pem, hashes = payload.get("certificate"), payload.get("iso15118CertificateHashData")
    if not pem and not hashes:
        return None
    now = now or datetime.now(UTC)
    try:
        roots = [x509.load_pem_x509_certificate(r.certificate.encode())
                 for r in await store.contract_roots(db)]
        if pem:
            chain, known = _central(pem, roots, now)
        else:
            chain, known = _local(hashes), roots
        await _not_revoked(db, chain, known, now)
    except _Refusal as refusal:
        token = {"CertificateExpired": "Expired"}.get(refusal.status, "Invalid")
        return ContractVerdict(refusal.status, token, refusal.detail)
    if token_status in _CANCELLED:
        return ContractVerdict("ContractCancelled", token_status,
                               f"the certificate is valid, the eMAID is {token_status}")
    return ContractVerdict("Accepted", token_status)


def _local(hashes: list[dict[str, Any]]) -> list[_Certificate]:
    try:
        return [_Certificate(CertificateHashData.from_wire(h), h.get("responderURL"))
                for h in hashes]
    except CertificateError as exc:
        raise _Refusal("CertChainError", f"unusable certificate hash data: {exc}") from None


def _central(pem: str, roots: list[x509.Certificate], now: datetime
             ) -> tuple[list[_Certificate], list[x509.Certificate]]:
    """C07 central validation: the chain (leaf first, root excluded) must be valid now and
    end in a trusted V2G or MO root."""
    try:
        chain = load_chain(pem)
    except CertificateError as exc:
        raise _Refusal("CertChainError", f"the certificate: {exc}") from None
    for certificate in chain:
        info = describe(certificate)
        if info.expired(now) or info.not_yet_valid(now):
            raise _Refusal("CertificateExpired", f"{info.subject} is valid from "
                           f"{info.not_before:%Y-%m-%d} to {info.not_after:%Y-%m-%d}")
    for child, parent in itertools.pairwise(chain):
        if not _issued_by(child, parent):
            raise _Refusal("CertChainError", f"{child.subject.rfc4514_string()} is not issued "
                           f"by {parent.subject.rfc4514_string()}")
    root = next((r for r in roots if _issued_by(chain[-1], r)), None)
    if root is None:
        raise _Refusal("CertChainError", "the chain does not end in a trusted V2G or MO root"
                       if roots else "no trusted contract root is configured on this CSMS")
    issuers = [*chain[1:], root]
    entries = [_Certificate(hash_data(c, i), _responder(c)) for c, i in zip(chain, issuers,
                                                                            strict=True)]
    return entries, [*chain, root]


def _issued_by(child: x509.Certificate, parent: x509.Certificate) -> bool:
    try:
        child.verify_directly_issued_by(parent)
    except (ValueError, TypeError, InvalidSignature):
        return False
    return True


def _responder(certificate: x509.Certificate) -> str | None:
    """The OCSP responder URL of the certificate's Authority Information Access."""
    try:
        access = certificate.extensions.get_extension_for_class(
            x509.AuthorityInformationAccess).value
    except x509.ExtensionNotFound:
        return None
    for description in access:
        if (description.access_method == AuthorityInformationAccessOID.OCSP
                and isinstance(description.access_location, x509.UniformResourceIdentifier)):
            return description.access_location.value
    return None


async def _not_revoked(db: Db, chain: list[_Certificate], known: list[x509.Certificate],
                       now: datetime) -> None:
    """Refuse a chain the revocation list names, or an OCSP responder says revoked or
    cannot vouch for. A certificate whose responder is not configured is not asked."""
    entry = await revocation.locally_revoked(db, [c.data for c in chain])
    if entry is not None:
        raise _Refusal("CertificateRevoked", f"serial {entry.serial_number} is on the "
                       "revocation list" + (f" ({entry.reason})" if entry.reason else ""))
    settings = await store.get_settings(db)
    if not settings.ocsp_responders:
        return
    for certificate in chain:
        if not certificate.responder_url:
            continue
        lookup = await revocation.ocsp_lookup(db, settings, certificate.data,
                                              certificate.responder_url, known=known, now=now)
        serial = certificate.data.serial_number
        if lookup.failure is LookupFailure.NOT_ALLOWED:
            continue
        if lookup.answer is None:
            raise _Refusal("CertChainError", f"serial {serial} cannot be checked: "
                           f"{lookup.detail}")
        if lookup.answer.status is OcspStatus.REVOKED:
            raise _Refusal("CertificateRevoked", f"the OCSP responder says serial {serial} "
                           "is revoked")
        if lookup.answer.status is OcspStatus.UNKNOWN:
            raise _Refusal("CertChainError", f"the OCSP responder does not know serial "
                           f"{serial}")
        if not lookup.answer.verified:
            raise _Refusal("CertChainError", f"the OCSP answer for serial {serial} is signed "
                           "by no one the certificate's issuer vouches for")

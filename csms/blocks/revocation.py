"""Is a certificate revoked? The operator's revocation list and OCSP responders (with their
answers cached until nextUpdate), as the contract-certificate checks (C07) and the OCSP
requests of stations (M06, 2.1 GetCertificateChainStatus) ask it."""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum

from cryptography import x509

from csms.security import ocsp
from csms.security.hashdata import CertificateHashData
from csms.store import certificates as store
from csms.store.certificates import CachedOcsp, CertificateSettings, Revocation
from csms.store.db import Db


class LookupFailure(StrEnum):
    """Why no OCSP answer is available; each value is a statusInfo reasonCode."""

    NOT_CONFIGURED = "OCSPNotConfigured"  #: no responder may be asked (csms certs settings)
    NOT_ALLOWED = "OCSPNotAllowed"  #: this responder is not among those configured
    UNAVAILABLE = "OCSPUnavailable"  #: unreachable, an error status, or a garbled answer


@dataclass(frozen=True)
class OcspLookup:
    """An OCSP answer (fresh or cached) or why there is none."""

    answer: ocsp.OcspAnswer | None
    failure: LookupFailure | None = None
    detail: str = ""
    cached: bool = False


def matching_revocation(entries: Sequence[Revocation], data: CertificateHashData
                        ) -> Revocation | None:
    """The first entry naming the certificate ``data`` identifies.

    An entry without issuer hashes names every certificate with its serial. One with issuer
    hashes names the certificate whose hashes are equal; when the two were hashed with
    different algorithms they cannot be compared, and the serial decides (a revocation list
    errs on the side of refusing).
    """
    for entry in entries:
        if entry.serial_number != data.serial_number:
            continue
        if entry.hash_algorithm is None or entry.hash_algorithm != data.hash_algorithm:
            return entry
        if (entry.issuer_name_hash, entry.issuer_key_hash) == (data.issuer_name_hash,
                                                              data.issuer_key_hash):
            return entry
    return None


async def locally_revoked(db: Db, chain: Sequence[CertificateHashData]
                          ) -> Revocation | None:
    """The revocation-list entry naming any certificate of ``chain``, or None."""
    entries = await store.revocations_for(db, [d.serial_number for d in chain])
    for data in chain:
        found = matching_revocation(entries, data)
        if found is not None:
            return found
    return None


def _key(data: CertificateHashData) -> store.HashKey:
    return (data.hash_algorithm, data.issuer_name_hash, data.issuer_key_hash,
            data.serial_number)


async def ocsp_lookup(db: Db, settings: CertificateSettings, data: CertificateHashData,
                      responder_url: str, *, known: Sequence[x509.Certificate] = (),
                      now: datetime | None = None) -> OcspLookup:
    """The status of the certificate ``data`` names from the responder at ``responder_url``,
    or a cached answer still before its nextUpdate."""
    if not settings.ocsp_responders:
        return OcspLookup(None, LookupFailure.NOT_CONFIGURED,
                          "no OCSP responder is configured on this CSMS")
    if not settings.ocsp_allowed(responder_url):
        return OcspLookup(None, LookupFailure.NOT_ALLOWED,
                          f"the responder {responder_url} is not among those configured")
    now = now or datetime.now(UTC)
    cached = await store.cached_ocsp(db, _key(data), now)
    if cached is not None:
        answer = _from_cache(cached)
        if not answer.verified and known:
            # Kept unverified (asked without the issuer at hand): the caller may know it.
            with contextlib.suppress(ocsp.OcspError):
                answer = ocsp.read_response(answer.der, data, known)
        return OcspLookup(answer, cached=True)
    try:
        answer = await ocsp.query(responder_url, data, timeout=settings.http_timeout_s,
                                  known=known)
    except ocsp.OcspError as exc:
        return OcspLookup(None, LookupFailure.UNAVAILABLE, str(exc))
    if answer.next_update is not None and answer.fresh(now):
        await store.store_ocsp(db, _key(data), CachedOcsp(
            responder_url, answer.status.value, answer.der, answer.verified, answer.this_update,
            answer.next_update, answer.revoked_at))
    return OcspLookup(answer)


def _from_cache(cached: CachedOcsp) -> ocsp.OcspAnswer:
    return ocsp.OcspAnswer(ocsp.OcspStatus(cached.status), bytes(cached.response),
                           cached.this_update, cached.next_update, cached.revoked_at,
                           cached.verified)

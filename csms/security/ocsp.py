"""OCSP (RFC 6960) for contract certificates: the request for a certificate named by its
hash data, and what the responder's answer says.

An answer is *verified* when its signer is pinned by the request itself: either the issuing
CA (its public key hashes to the request's issuerKeyHash) or a responder certificate with the
OCSPSigning usage issued directly by that CA. Signer certificates come from the answer and
from certificates the caller already knows (the chain a station sent, trusted roots).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, padding, rsa
from cryptography.x509 import ocsp
from cryptography.x509.oid import ExtendedKeyUsageOID

from csms.security import http
from csms.security.hashdata import (
    HASH_ALGORITHMS,
    CertificateHashData,
    key_hash,
    public_key_bits,
    serial_hex,
)

REQUEST_TYPE = "application/ocsp-request"
RESPONSE_TYPE = "application/ocsp-response"


class OcspStatus(StrEnum):
    """What a responder says of one certificate."""

    GOOD = "good"
    REVOKED = "revoked"
    UNKNOWN = "unknown"


class OcspError(Exception):
    """No usable OCSP answer: unreachable responder, an error status, a garbled or forged
    answer, or one about another certificate. The message says which."""


@dataclass(frozen=True)
class OcspAnswer:
    """A responder's answer about one certificate."""

    status: OcspStatus
    der: bytes  #: the whole OCSPResponse, DER, as received
    this_update: dt.datetime
    next_update: dt.datetime | None
    revoked_at: dt.datetime | None
    verified: bool  #: signed by the issuing CA or a responder it authorised

    def fresh(self, now: dt.datetime | None = None) -> bool:
        """True while the answer may be reused (before its nextUpdate; never without one)."""
        return self.next_update is not None and (now or dt.datetime.now(dt.UTC)) < \
            self.next_update


def build_request(data: CertificateHashData) -> bytes:
    """The DER OCSPRequest for the certificate ``data`` names."""
    request = ocsp.OCSPRequestBuilder().add_certificate_by_hash(
        bytes.fromhex(_even(data.issuer_name_hash)), bytes.fromhex(_even(data.issuer_key_hash)),
        data.serial, HASH_ALGORITHMS[data.hash_algorithm]()).build()
    return request.public_bytes(serialization.Encoding.DER)


def _even(text: str) -> str:
    return text if len(text) % 2 == 0 else "0" + text


def read_response(der: bytes, data: CertificateHashData,
                  known: Sequence[x509.Certificate] = ()) -> OcspAnswer:
    """What ``der`` (an OCSPResponse) says of the certificate ``data`` names.

    Raises OcspError unless it is a successful response with an answer for that certificate
    and, when its signer can be found, a signature that verifies.
    """
    try:
        response = ocsp.load_der_ocsp_response(der)
    except ValueError as exc:
        raise OcspError(f"not an OCSP response: {exc}") from None
    if response.response_status != ocsp.OCSPResponseStatus.SUCCESSFUL:
        raise OcspError(f"the responder answered {response.response_status.name.lower()}")
    single = next((s for s in response.responses if _about(s, data)), None)
    if single is None:
        raise OcspError(f"the answer is not about serial {data.serial_number}")
    verified = _verify(response, data, known)
    status = {ocsp.OCSPCertStatus.GOOD: OcspStatus.GOOD,
              ocsp.OCSPCertStatus.REVOKED: OcspStatus.REVOKED}.get(single.certificate_status,
                                                                    OcspStatus.UNKNOWN)
    return OcspAnswer(status, der, single.this_update_utc, single.next_update_utc,
                      single.revocation_time_utc, verified)


def _about(single: ocsp.OCSPSingleResponse, data: CertificateHashData) -> bool:
    if serial_hex(single.serial_number) != data.serial_number:
        return False
    if single.hash_algorithm.name.upper().replace("-", "") != data.hash_algorithm:
        return True  # hashed with another algorithm: the serial is all that compares
    return (single.issuer_name_hash.hex() == data.issuer_name_hash.zfill(
        len(single.issuer_name_hash) * 2)
        and single.issuer_key_hash.hex() == data.issuer_key_hash.zfill(
            len(single.issuer_key_hash) * 2))


def _verify(response: ocsp.OCSPResponse, data: CertificateHashData,
            known: Sequence[x509.Certificate]) -> bool:
    """True when a signer the request pins signed the answer; False when no such signer is
    at hand; OcspError when the signature is wrong."""
    candidates = [*response.certificates, *known]
    signer = next((c for c in candidates if _is_responder(response, c)), None)
    if signer is None:
        return False
    if key_hash(signer, data.hash_algorithm) != data.issuer_key_hash:
        issuer = next((c for c in candidates
                       if key_hash(c, data.hash_algorithm) == data.issuer_key_hash), None)
        if issuer is None or not _delegated(signer, issuer):
            return False
    try:
        _check_signature(signer.public_key(), response.signature, response.tbs_response_bytes,
                         response.signature_hash_algorithm)
    except (InvalidSignature, UnsupportedAlgorithm, TypeError) as exc:
        raise OcspError(f"the answer's signature does not verify ({type(exc).__name__})"
                        ) from None
    return True


def _is_responder(response: ocsp.OCSPResponse, certificate: x509.Certificate) -> bool:
    if response.responder_key_hash is not None:
        digest = hashes.Hash(hashes.SHA1())  # RFC 6960 ResponderID byKey: SHA-1
        digest.update(public_key_bits(certificate))
        return digest.finalize() == response.responder_key_hash
    return certificate.subject == response.responder_name


def _delegated(signer: x509.Certificate, issuer: x509.Certificate) -> bool:
    """A responder certificate the CA issued for signing OCSP answers (RFC 6960, 4.2.2.2)."""
    try:
        usage = signer.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
        signer.verify_directly_issued_by(issuer)
    except (x509.ExtensionNotFound, ValueError, TypeError, InvalidSignature):
        return False
    return ExtendedKeyUsageOID.OCSP_SIGNING in usage


def _check_signature(key: object, signature: bytes, data: bytes,
                     algorithm: hashes.HashAlgorithm | None) -> None:
    if isinstance(key, rsa.RSAPublicKey) and algorithm is not None:
        key.verify(signature, data, padding.PKCS1v15(), algorithm)
    elif isinstance(key, ec.EllipticCurvePublicKey) and algorithm is not None:
        key.verify(signature, data, ec.ECDSA(algorithm))
    elif isinstance(key, ed25519.Ed25519PublicKey | ed448.Ed448PublicKey):
        key.verify(signature, data)
    else:
        raise TypeError("unsupported signer key")


async def query(url: str, data: CertificateHashData, *, timeout: float,
                known: Sequence[x509.Certificate] = ()) -> OcspAnswer:
    """Ask the responder at ``url`` about the certificate ``data`` names (HTTP POST)."""
    try:
        answer = await http.post(url, build_request(data), REQUEST_TYPE, accept=RESPONSE_TYPE,
                                 timeout=timeout)
    except http.HttpError as exc:
        raise OcspError(str(exc)) from None
    return read_response(answer.body, data, known)

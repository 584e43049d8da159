"""X.509 certificates as OCPP names them: CertificateHashDataType, PEM chains, and the few
facts about a certificate an operator wants to see.

A certificate's hash data (2.0.1 errata 2023-12, CertificateHashDataType) is the hash of the
DER-encoded issuer name of the certificate, the hash of the issuer's public key (the value of
the subjectPublicKey BIT STRING, without tag, length and unused-bits octet), both hex, and the
serial number in hex without leading zeroes. Hex is case-insensitive (identifierString), so
every value is kept in lower case.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509.oid import NameOID

#: The hash algorithms of HashAlgorithmEnumType.
HASH_ALGORITHMS: dict[str, type[hashes.HashAlgorithm]] = {
    "SHA256": hashes.SHA256, "SHA384": hashes.SHA384, "SHA512": hashes.SHA512}


class CertificateError(ValueError):
    """Text that is not the certificate (or chain) it should be; the message says why."""


@dataclass(frozen=True)
class CertificateHashData:
    """One CertificateHashDataType (or the identifying part of an OCSPRequestDataType)."""

    hash_algorithm: str
    issuer_name_hash: str
    issuer_key_hash: str
    serial_number: str

    def __post_init__(self) -> None:
        if self.hash_algorithm not in HASH_ALGORITHMS:
            raise CertificateError(f"hashAlgorithm {self.hash_algorithm} is not one of "
                                   f"{', '.join(HASH_ALGORITHMS)}")
        for name, value in (("issuerNameHash", self.issuer_name_hash),
                            ("issuerKeyHash", self.issuer_key_hash),
                            ("serialNumber", self.serial_number)):
            if not value or not _is_hex(value):
                raise CertificateError(f"{name} must be hexadecimal, not {value or 'empty'}")

    @classmethod
    def from_wire(cls, data: dict[str, Any]) -> CertificateHashData:
        """From a CertificateHashDataType / OCSPRequestDataType payload, normalised."""
        try:
            return cls(data["hashAlgorithm"], normal_hex(data["issuerNameHash"]),
                       normal_hex(data["issuerKeyHash"]), normal_serial(data["serialNumber"]))
        except (KeyError, TypeError, AttributeError):
            raise CertificateError("certificate hash data needs hashAlgorithm, issuerNameHash, "
                                   "issuerKeyHash and serialNumber") from None

    def to_wire(self) -> dict[str, str]:
        """As a CertificateHashDataType payload."""
        return {"hashAlgorithm": self.hash_algorithm, "issuerNameHash": self.issuer_name_hash,
                "issuerKeyHash": self.issuer_key_hash, "serialNumber": self.serial_number}

    @property
    def serial(self) -> int:
        """The serial number as an integer."""
        return int(self.serial_number, 16)


def _is_hex(value: str) -> bool:
    try:
        int(value, 16)
    except ValueError:
        return False
    return True


def normal_hex(value: str) -> str:
    """A hex string in lower case without surrounding space (or a ``0x`` prefix)."""
    text = value.strip().lower()
    return text[2:] if text.startswith("0x") else text


def normal_serial(value: str) -> str:
    """A serial number in lower-case hex without leading zeroes (``0`` stays ``0``)."""
    return normal_hex(value).lstrip("0") or "0"


def serial_hex(serial: int) -> str:
    """``serial`` as OCPP writes it: hex, lower case, no ``0x``, no leading zeroes."""
    return format(serial, "x")


def public_key_bits(certificate: x509.Certificate) -> bytes:
    """The value of the certificate's subjectPublicKey BIT STRING (what issuerKeyHash hashes).

    Read from the DER SubjectPublicKeyInfo: SEQUENCE { AlgorithmIdentifier, BIT STRING }.
    """
    spki = certificate.public_key().public_bytes(serialization.Encoding.DER,
                                                 serialization.PublicFormat.SubjectPublicKeyInfo)
    body, _ = _der_value(spki, 0, 0x30)
    start = _der_skip(spki, body)  # the AlgorithmIdentifier
    bits, end = _der_value(spki, start, 0x03)
    return spki[bits + 1:end]  # the first content octet counts unused bits


def _der_header(der: bytes, at: int) -> tuple[int, int, int]:
    """(tag, start of the content, end of the content) of the TLV at ``at``."""
    tag, first = der[at], der[at + 1]
    if first < 0x80:
        return tag, at + 2, at + 2 + first
    count = first & 0x7F
    length = int.from_bytes(der[at + 2:at + 2 + count], "big")
    return tag, at + 2 + count, at + 2 + count + length


def _der_value(der: bytes, at: int, tag: int) -> tuple[int, int]:
    found, start, end = _der_header(der, at)
    if found != tag:
        raise CertificateError("unexpected DER structure in a public key")
    return start, end


def _der_skip(der: bytes, at: int) -> int:
    return _der_header(der, at)[2]


def _digest(algorithm: str, data: bytes) -> str:
    digest = hashes.Hash(HASH_ALGORITHMS[algorithm]())
    digest.update(data)
    return digest.finalize().hex()


def hash_data(certificate: x509.Certificate, issuer: x509.Certificate,
              algorithm: str = "SHA256") -> CertificateHashData:
    """The hash data of ``certificate``, issued by ``issuer`` (itself for a root)."""
    if algorithm not in HASH_ALGORITHMS:
        raise CertificateError(f"hash algorithm {algorithm} is not one of "
                               f"{', '.join(HASH_ALGORITHMS)}")
    return CertificateHashData(
        algorithm, _digest(algorithm, certificate.issuer.public_bytes()),
        _digest(algorithm, public_key_bits(issuer)), serial_hex(certificate.serial_number))


def key_hash(certificate: x509.Certificate, algorithm: str) -> str:
    """The hash of ``certificate``'s public key, as issuerKeyHash of what it issued."""
    return _digest(algorithm, public_key_bits(certificate))


def name_hash(certificate: x509.Certificate, algorithm: str) -> str:
    """The hash of ``certificate``'s subject, as issuerNameHash of what it issued."""
    return _digest(algorithm, certificate.subject.public_bytes())


def issuer_name_hash(certificate: x509.Certificate, algorithm: str) -> str:
    """The hash of ``certificate``'s issuer name (its own issuerNameHash)."""
    return _digest(algorithm, certificate.issuer.public_bytes())


def load_chain(text: str) -> list[x509.Certificate]:
    """Every certificate of a PEM text, in order; at least one."""
    if "-----BEGIN CERTIFICATE-----" not in text:
        raise CertificateError("no PEM certificate (-----BEGIN CERTIFICATE-----) found")
    try:
        return x509.load_pem_x509_certificates(text.encode())
    except ValueError as exc:
        raise CertificateError(f"not a readable PEM certificate: {exc}") from None


def load_one(text: str) -> x509.Certificate:
    """The single certificate of a PEM text."""
    chain = load_chain(text)
    if len(chain) != 1:
        raise CertificateError(f"expected one certificate, found {len(chain)}")
    return chain[0]


def to_pem(certificate: x509.Certificate) -> str:
    """``certificate`` as PEM text."""
    return certificate.public_bytes(serialization.Encoding.PEM).decode()


def is_self_signed(certificate: x509.Certificate) -> bool:
    """True for a root: issued by itself, with a signature its own key verifies."""
    if certificate.issuer != certificate.subject:
        return False
    try:
        certificate.verify_directly_issued_by(certificate)
    except (ValueError, TypeError, InvalidSignature):
        return False
    return True


def is_ca(certificate: x509.Certificate) -> bool:
    """True when the certificate's basicConstraints allow it to issue certificates."""
    try:
        return bool(certificate.extensions.get_extension_for_class(
            x509.BasicConstraints).value.ca)
    except x509.ExtensionNotFound:
        return False


def common_name(name: x509.Name) -> str | None:
    """The CN of a distinguished name, or None."""
    values = name.get_attributes_for_oid(NameOID.COMMON_NAME)
    return str(values[0].value) if values else None


@dataclass(frozen=True)
class CertificateInfo:
    """What an operator reads about a certificate."""

    subject: str
    issuer: str
    serial_number: str
    not_before: dt.datetime
    not_after: dt.datetime
    fingerprint: str  #: SHA-256 of the DER, hex
    ca: bool

    def expired(self, now: dt.datetime | None = None) -> bool:
        """True when ``now`` is past the end of the validity period."""
        return (now or dt.datetime.now(dt.UTC)) > self.not_after

    def not_yet_valid(self, now: dt.datetime | None = None) -> bool:
        """True when ``now`` is before the start of the validity period."""
        return (now or dt.datetime.now(dt.UTC)) < self.not_before


def describe(certificate: x509.Certificate) -> CertificateInfo:
    """The facts of ``certificate`` an operator needs."""
    return CertificateInfo(
        certificate.subject.rfc4514_string(), certificate.issuer.rfc4514_string(),
        serial_hex(certificate.serial_number), certificate.not_valid_before_utc,
        certificate.not_valid_after_utc, certificate.fingerprint(hashes.SHA256()).hex(),
        is_ca(certificate))

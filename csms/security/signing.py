"""Signing a station's certificate signing request (A02/A03): the checks a CSR must pass and
the certificate the configured CA issues for it.

The checks follow the certificate properties of the OCPP security profiles (Part 2, A00) and
Part 6 TC_A_14_CS: a PEM-encoded PKCS #10 request (RFC 2986) whose signature verifies (the
station holds the key), an RSA key of at least 2048 bits or an elliptic-curve key of at least
224 bits, and, for the Charging Station certificate, the station's identity as the subject's
common name (the name security profile 3 checks at every TLS login). A request that fails
is answered Rejected (A02.FR.12) with a reason code naming the check.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from csms.security.hashdata import common_name, describe, is_ca, is_self_signed, load_chain

#: Days a signed certificate is valid unless the operator says otherwise.
DEFAULT_DAYS = 365
#: The certificate types a station may ask to have signed (CertificateSigningUseEnumType).
SIGNING_TYPES = ("ChargingStationCertificate", "V2GCertificate", "V2G20Certificate")
MIN_RSA_BITS = 2048
MIN_EC_BITS = 224


class CsrProblem(StrEnum):
    """Why a CSR is refused; each value is the statusInfo reasonCode (at most 20 characters)."""

    UNREADABLE = "InvalidCSR"
    BAD_SIGNATURE = "InvalidCSRSignature"
    WEAK_KEY = "WeakKey"
    WRONG_COMMON_NAME = "InvalidCommonName"


class CsrRejected(Exception):
    """A CSR the CSMS does not sign: ``problem`` is the reason code, the message the detail."""

    def __init__(self, problem: CsrProblem, detail: str):
        super().__init__(detail)
        self.problem = problem
        self.detail = detail


class AuthorityError(Exception):
    """A CA that cannot sign: unreadable files, a key that is not the certificate's, a
    certificate that is no CA or no longer valid. The message says which."""


def check_csr(pem: str, station_id: str, certificate_type: str
              ) -> x509.CertificateSigningRequest:
    """The parsed request, or :class:`CsrRejected` naming the first check it fails."""
    try:
        csr = x509.load_pem_x509_csr(pem.encode())
    except ValueError as exc:
        raise CsrRejected(CsrProblem.UNREADABLE,
                          f"the csr is not a PEM-encoded PKCS #10 request: {exc}") from None
    try:
        valid = csr.is_signature_valid
    except ValueError as exc:  # a public key that cannot be read
        raise CsrRejected(CsrProblem.UNREADABLE, f"the csr's public key: {exc}") from None
    if not valid:
        raise CsrRejected(CsrProblem.BAD_SIGNATURE,
                          "the csr's signature does not verify with its own public key")
    key = csr.public_key()
    if isinstance(key, rsa.RSAPublicKey) and key.key_size < MIN_RSA_BITS:
        raise CsrRejected(CsrProblem.WEAK_KEY, f"an RSA key of {key.key_size} bits is below "
                          f"the {MIN_RSA_BITS} bits required")
    if isinstance(key, ec.EllipticCurvePublicKey) and key.curve.key_size < MIN_EC_BITS:
        raise CsrRejected(CsrProblem.WEAK_KEY, f"an elliptic-curve key of {key.curve.key_size}"
                          f" bits is below the {MIN_EC_BITS} bits required")
    if not isinstance(key, rsa.RSAPublicKey | ec.EllipticCurvePublicKey | ed25519.Ed25519PublicKey
                      | ed448.Ed448PublicKey):
        raise CsrRejected(CsrProblem.WEAK_KEY, f"a {type(key).__name__} cannot be certified")
    name = common_name(csr.subject)
    if certificate_type == "ChargingStationCertificate" and name != station_id:
        shown = "no common name" if name is None else f"common name {name}"
        raise CsrRejected(CsrProblem.WRONG_COMMON_NAME, f"the csr has {shown}; a Charging "
                          f"Station certificate must carry the identity {station_id}")
    return csr


@dataclass(frozen=True)
class SigningAuthority:
    """A CA certificate, its private key, and the CA certificates above it (if any) that a
    station needs to build the chain (root excluded)."""

    certificate: x509.Certificate
    key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey
    intermediates: tuple[x509.Certificate, ...] = ()

    @classmethod
    def load(cls, cert_file: Path, key_file: Path,
             now: dt.datetime | None = None) -> SigningAuthority:
        """Read and check a CA from PEM files. ``cert_file`` may hold the CA certificate
        followed by the CAs above it."""
        try:
            chain = load_chain(cert_file.read_text())
            key = serialization.load_pem_private_key(key_file.read_bytes(), password=None)
        except OSError as exc:
            raise AuthorityError(f"cannot read {exc.filename}: {exc.strerror}") from None
        except UnicodeDecodeError:
            raise AuthorityError(f"{cert_file} is not a PEM file (it is not text)") from None
        except (ValueError, TypeError) as exc:
            raise AuthorityError(f"unreadable CA files: {exc}") from None
        certificate = chain[0]
        if not isinstance(key, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey):
            raise AuthorityError(f"{key_file}: only RSA and elliptic-curve CA keys are used")
        public = serialization.PublicFormat.SubjectPublicKeyInfo
        if key.public_key().public_bytes(serialization.Encoding.DER, public) != \
                certificate.public_key().public_bytes(serialization.Encoding.DER, public):
            raise AuthorityError(f"{key_file} is not the key of the certificate in {cert_file}")
        info = describe(certificate)
        if not is_ca(certificate) or not _may_sign(certificate):
            raise AuthorityError(f"{cert_file} is not a CA certificate that may sign "
                                 "certificates (basicConstraints CA, keyCertSign)")
        if info.expired(now) or info.not_yet_valid(now):
            raise AuthorityError(f"{cert_file} is valid from {info.not_before:%Y-%m-%d} to "
                                 f"{info.not_after:%Y-%m-%d}, not now")
        above = tuple(c for c in chain[1:] if not is_self_signed(c))
        if is_self_signed(certificate):
            above = ()
        return cls(certificate, key, above)

    def chain_tail(self) -> tuple[x509.Certificate, ...]:
        """The CA certificates to send after a leaf it signed: itself unless it is a root,
        then the intermediates above it."""
        if is_self_signed(self.certificate):
            return ()
        return (self.certificate, *self.intermediates)


def _may_sign(certificate: x509.Certificate) -> bool:
    try:
        usage = certificate.extensions.get_extension_for_class(x509.KeyUsage).value
    except x509.ExtensionNotFound:
        return True  # no keyUsage extension: every use is allowed
    return usage.key_cert_sign


@dataclass(frozen=True)
class IssuedCertificate:
    """A certificate the CSMS signed: the leaf, and the chain to send (leaf first)."""

    certificate: x509.Certificate
    chain_pem: str

    @property
    def serial_number(self) -> str:
        """The leaf's serial in OCPP hex."""
        return describe(self.certificate).serial_number


def issue(authority: SigningAuthority, csr: x509.CertificateSigningRequest,
          certificate_type: str, *, days: int = DEFAULT_DAYS,
          now: dt.datetime | None = None) -> IssuedCertificate:
    """Sign ``csr`` for ``days`` (never past the CA's own end of validity).

    The subject is the CSR's; a Charging Station certificate may authenticate a TLS client,
    a V2G (SECC) certificate a TLS server (ISO 15118), with the key usages each needs.
    """
    start = (now or dt.datetime.now(dt.UTC)) - dt.timedelta(minutes=5)
    end = min(start + dt.timedelta(days=days), authority.certificate.not_valid_after_utc)
    client = certificate_type == "ChargingStationCertificate"
    builder = (
        x509.CertificateBuilder()
        .subject_name(_subject(csr.subject))
        .issuer_name(authority.certificate.subject)
        .public_key(csr.public_key())  # type: ignore[arg-type]
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(end)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(
            digital_signature=True, key_agreement=not client, key_encipherment=False,
            content_commitment=False, data_encipherment=False, key_cert_sign=False,
            crl_sign=False, encipher_only=False, decipher_only=False), critical=True)
        .add_extension(x509.ExtendedKeyUsage([
            ExtendedKeyUsageOID.CLIENT_AUTH if client else ExtendedKeyUsageOID.SERVER_AUTH]),
            critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(
            authority.key.public_key()), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(
            csr.public_key()), critical=False)  # type: ignore[arg-type]
    )
    leaf = builder.sign(authority.key, hashes.SHA256())
    chain = [leaf, *authority.chain_tail()]
    pem = "".join(c.public_bytes(serialization.Encoding.PEM).decode() for c in chain)
    return IssuedCertificate(leaf, pem)


def _subject(requested: x509.Name) -> x509.Name:
    """The parts of the requested subject a station certificate carries (C, O, OU, CN)."""
    kept = (NameOID.COUNTRY_NAME, NameOID.ORGANIZATION_NAME, NameOID.ORGANIZATIONAL_UNIT_NAME,
            NameOID.COMMON_NAME)
    return x509.Name([a for a in requested if a.oid in kept])

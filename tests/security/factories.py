"""Certificates for tests: CAs, leaves (with an OCSP responder URL), OCSP responder
certificates and CSRs, all ECDSA P-256 unless a test asks otherwise."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import AuthorityInformationAccessOID, ExtendedKeyUsageOID, NameOID

PrivateKey = ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey


@dataclass(frozen=True)
class Issued:
    """A certificate and its private key."""

    certificate: x509.Certificate
    key: PrivateKey

    @property
    def pem(self) -> str:
        return self.certificate.public_bytes(serialization.Encoding.PEM).decode()

    @property
    def key_pem(self) -> str:
        return self.key.private_bytes(serialization.Encoding.PEM,
                                      serialization.PrivateFormat.PKCS8,
                                      serialization.NoEncryption()).decode()

    def write(self, cert_path, key_path) -> None:
        cert_path.write_text(self.pem)
        key_path.write_text(self.key_pem)


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Test PKI"),
                      x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _builder(subject: str, issuer: x509.Name, key: PrivateKey, start: dt.datetime, days: float,
             ocsp_url: str | None) -> x509.CertificateBuilder:
    builder = (x509.CertificateBuilder().subject_name(_name(subject)).issuer_name(issuer)
               .public_key(key.public_key()).serial_number(x509.random_serial_number())
               .not_valid_before(start).not_valid_after(start + dt.timedelta(days=days)))
    if ocsp_url:
        builder = builder.add_extension(x509.AuthorityInformationAccess([
            x509.AccessDescription(AuthorityInformationAccessOID.OCSP,
                                   x509.UniformResourceIdentifier(ocsp_url))]), critical=False)
    return builder


def _start(not_before: dt.datetime | None) -> dt.datetime:
    return not_before or dt.datetime.now(dt.UTC) - dt.timedelta(minutes=5)


def make_ca(name: str, *, parent: Issued | None = None, days: float = 3650,
            not_before: dt.datetime | None = None, ocsp_url: str | None = None,
            key_cert_sign: bool = True) -> Issued:
    """A root (no parent) or a sub-CA of ``parent``."""
    key = ec.generate_private_key(ec.SECP256R1())
    issuer = parent.certificate.subject if parent else _name(name)
    builder = (_builder(name, issuer, key, _start(not_before), days, ocsp_url)
               .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
               .add_extension(x509.KeyUsage(
                   digital_signature=True, key_cert_sign=key_cert_sign, crl_sign=True,
                   content_commitment=False, key_encipherment=False, data_encipherment=False,
                   key_agreement=False, encipher_only=False, decipher_only=False),
                   critical=True))
    return Issued(builder.sign(parent.key if parent else key, hashes.SHA256()), key)


def make_leaf(name: str, issuer: Issued, *, days: float = 365,
              not_before: dt.datetime | None = None, ocsp_url: str | None = None,
              usage: x509.ObjectIdentifier = ExtendedKeyUsageOID.CLIENT_AUTH) -> Issued:
    """An end-entity certificate signed by ``issuer``."""
    key = ec.generate_private_key(ec.SECP256R1())
    builder = (_builder(name, issuer.certificate.subject, key, _start(not_before), days,
                        ocsp_url)
               .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
               .add_extension(x509.ExtendedKeyUsage([usage]), critical=False))
    return Issued(builder.sign(issuer.key, hashes.SHA256()), key)


def make_responder(issuer: Issued) -> Issued:
    """A delegated OCSP responder certificate of ``issuer`` (OCSPSigning usage)."""
    return make_leaf(f"OCSP responder of {common_name(issuer.certificate)}", issuer,
                     usage=ExtendedKeyUsageOID.OCSP_SIGNING)


def common_name(certificate: x509.Certificate) -> str:
    return str(certificate.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value)


def make_csr(common: str | None, *, key: PrivateKey | None = None,
             organization: str = "Test Operator") -> tuple[str, PrivateKey]:
    """A PEM CSR with this CN (none if None), signed by ``key`` (a new P-256 key if None)."""
    key = key or ec.generate_private_key(ec.SECP256R1())
    attributes = [x509.NameAttribute(NameOID.ORGANIZATION_NAME, organization)]
    if common is not None:
        attributes.append(x509.NameAttribute(NameOID.COMMON_NAME, common))
    csr = (x509.CertificateSigningRequestBuilder().subject_name(x509.Name(attributes))
           .sign(key, hashes.SHA256()))
    return csr.public_bytes(serialization.Encoding.PEM).decode(), key


def chain_pem(*issued: Issued) -> str:
    return "".join(i.pem for i in issued)

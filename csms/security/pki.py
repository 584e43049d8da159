"""A development PKI: a CA, a server certificate for localhost, and station client certificates.

Enough for a newcomer to run security profiles 2 (TLS + Basic auth) and 3 (mutual TLS) on one
machine in minutes. Keys are ECDSA P-256; files are PEM. Not meant for production, where the
operator's own PKI issues the certificates.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

CA_DAYS = 3650
LEAF_DAYS = 825


@dataclass(frozen=True)
class IssuedFiles:
    certificate: Path
    key: Path


def _write_key(path: Path, key: ec.EllipticCurvePrivateKey) -> None:
    data = key.private_bytes(serialization.Encoding.PEM,
                             serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(data)


def _write_cert(path: Path, cert: x509.Certificate) -> None:
    path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))


def _name(common_name: str) -> x509.Name:
    return x509.Name([
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, "V2G CSMS development PKI"),
        x509.NameAttribute(NameOID.COMMON_NAME, common_name),
    ])


def init_ca(directory: Path, *, overwrite: bool = False) -> dict[str, Path]:
    """Write ``ca.pem``, ``ca.key``, ``server.pem``, ``server.key`` into ``directory``.

    The server certificate is valid for 127.0.0.1, ::1 and localhost. Refuses to overwrite an
    existing CA unless told to (its stations' certificates would stop verifying).
    """
    directory.mkdir(parents=True, exist_ok=True)
    paths = {name: directory / name for name in ("ca.pem", "ca.key", "server.pem", "server.key")}
    if not overwrite and paths["ca.key"].exists():
        raise FileExistsError(f"{paths['ca.key']} exists; pass overwrite to replace the CA")
    now = dt.datetime.now(dt.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(_name("V2G CSMS development CA"))
        .issuer_name(_name("V2G CSMS development CA"))
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=CA_DAYS))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(x509.KeyUsage(
            digital_signature=True, key_cert_sign=True, crl_sign=True, content_commitment=False,
            key_encipherment=False, data_encipherment=False, key_agreement=False,
            encipher_only=False, decipher_only=False), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()),
                       critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    _write_key(paths["ca.key"], ca_key)
    _write_cert(paths["ca.pem"], ca_cert)
    server = _issue(ca_cert, ca_key, "localhost", server=True, days=LEAF_DAYS)
    _write_key(paths["server.key"], server[1])
    _write_cert(paths["server.pem"], server[0])
    return paths


def issue_station(directory: Path, station_id: str, *, days: int = LEAF_DAYS,
                  not_before: dt.datetime | None = None) -> IssuedFiles:
    """Write ``<station_id>.pem`` and ``<station_id>.key``, signed by the CA in ``directory``.

    The certificate's CN is the station identity (security profile 3 requires it).
    """
    ca_cert = x509.load_pem_x509_certificate((directory / "ca.pem").read_bytes())
    ca_key = serialization.load_pem_private_key((directory / "ca.key").read_bytes(), None)
    if not isinstance(ca_key, ec.EllipticCurvePrivateKey):
        raise ValueError("the CA key is not an EC key made by this tool")
    cert, key = _issue(ca_cert, ca_key, station_id, server=False, days=days,
                       not_before=not_before)
    files = IssuedFiles(directory / f"{station_id}.pem", directory / f"{station_id}.key")
    _write_key(files.key, key)
    _write_cert(files.certificate, cert)
    return files


def _issue(
    ca_cert: x509.Certificate,
    ca_key: ec.EllipticCurvePrivateKey,
    common_name: str,
    *,
    server: bool,
    days: int,
    not_before: dt.datetime | None = None,
) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    key = ec.generate_private_key(ec.SECP256R1())
    start = not_before or dt.datetime.now(dt.UTC) - dt.timedelta(minutes=5)
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(common_name))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(start + dt.timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
                       critical=False)
        .add_extension(x509.ExtendedKeyUsage(
            [ExtendedKeyUsageOID.SERVER_AUTH if server else ExtendedKeyUsageOID.CLIENT_AUTH]),
            critical=False)
    )
    if server:
        builder = builder.add_extension(x509.SubjectAlternativeName([
            x509.DNSName("localhost"),
            x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
            x509.IPAddress(ipaddress.ip_address("::1")),
        ]), critical=False)
    return builder.sign(ca_key, hashes.SHA256()), key

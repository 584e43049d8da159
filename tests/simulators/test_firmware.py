"""The simulated station's firmware checks: the version a location installs, the signing
certificate, the signature (no I/O)."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.x509.oid import NameOID

from simulators.firmware import certificate_problem, signature_valid, version_from

NOW = datetime.now(UTC)


def certificate(key, days: int = 1, start: datetime = NOW - timedelta(hours=1)) -> tuple:
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Signer")])
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(4242).not_valid_before(start)
            .not_valid_after(start + timedelta(days=days)).sign(key, hashes.SHA256()))
    return cert, cert.public_bytes(serialization.Encoding.PEM).decode()


def test_version_from_the_location():
    assert version_from("https://fw.example.com/images/fw-2.1.0.bin", "1.0") == "fw-2.1.0"
    assert version_from("http://127.0.0.1:8000/v3.tar.gz?x=1", "1.0") == "v3"
    assert version_from("https://fw.example.com/", "1.0") == "1.0-updated"
    assert len(version_from("https://x/" + "a" * 80 + ".bin", "1.0")) == 50


def test_certificate_checks():
    key = ec.generate_private_key(ec.SECP256R1())
    _, pem = certificate(key)
    assert certificate_problem(pem, set(), NOW) is None
    assert certificate_problem(pem, {4242}, NOW) == "RevokedCertificate"
    assert certificate_problem("not a certificate", set(), NOW) == "InvalidCertificate"
    _, expired = certificate(key, start=NOW - timedelta(days=10))
    assert certificate_problem(expired, set(), NOW) == "InvalidCertificate"


def test_signatures_ec_and_rsa():
    image = b"firmware image"
    ec_key = ec.generate_private_key(ec.SECP256R1())
    _, ec_pem = certificate(ec_key)
    good = base64.b64encode(ec_key.sign(image, ec.ECDSA(hashes.SHA256()))).decode()
    assert signature_valid(ec_pem, good, image)
    assert not signature_valid(ec_pem, good, image + b"!")
    assert not signature_valid(ec_pem, "not base64 ***", image)
    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    _, rsa_pem = certificate(rsa_key)
    signed = rsa_key.sign(image, padding.PKCS1v15(), hashes.SHA256())
    assert signature_valid(rsa_pem, base64.b64encode(signed).decode(), image)

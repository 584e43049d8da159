"""Certificate hash data as OCPP defines it, checked against cryptography's own OCSP CertID."""

from __future__ import annotations

import datetime as dt

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509 import ocsp
from cryptography.x509.oid import NameOID

from csms.security import hashdata
from csms.security.hashdata import CertificateError, CertificateHashData
from tests.security.factories import make_ca, make_leaf


@pytest.mark.parametrize("algorithm", ["SHA256", "SHA384", "SHA512"])
def test_hash_data_equals_the_ocsp_cert_id(algorithm: str) -> None:
    ca = make_ca("Root")
    leaf = make_leaf("Leaf", ca)
    ours = hashdata.hash_data(leaf.certificate, ca.certificate, algorithm)
    theirs = ocsp.OCSPRequestBuilder().add_certificate(
        leaf.certificate, ca.certificate, hashdata.HASH_ALGORITHMS[algorithm]()).build()
    assert ours.issuer_name_hash == theirs.issuer_name_hash.hex()
    assert ours.issuer_key_hash == theirs.issuer_key_hash.hex()
    assert ours.serial == leaf.certificate.serial_number


def test_key_bits_of_an_rsa_issuer() -> None:
    key = rsa.generate_private_key(65537, 2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "RSA root")])
    now = dt.datetime.now(dt.UTC)
    root = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(7).not_valid_before(now)
            .not_valid_after(now + dt.timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    ours = hashdata.hash_data(root, root)
    theirs = ocsp.OCSPRequestBuilder().add_certificate(root, root, hashes.SHA256()).build()
    assert ours.issuer_key_hash == theirs.issuer_key_hash.hex()
    assert ours.serial_number == "7"


def test_wire_values_are_normalised() -> None:
    data = CertificateHashData.from_wire({"hashAlgorithm": "SHA256", "issuerNameHash": "AB12",
                                          "issuerKeyHash": "0xCD", "serialNumber": "000F0A"})
    assert data.to_wire() == {"hashAlgorithm": "SHA256", "issuerNameHash": "ab12",
                              "issuerKeyHash": "cd", "serialNumber": "f0a"}
    assert data.serial == 0xF0A


@pytest.mark.parametrize("wire", [
    {"hashAlgorithm": "MD5", "issuerNameHash": "ab", "issuerKeyHash": "cd", "serialNumber": "1"},
    {"hashAlgorithm": "SHA256", "issuerNameHash": "xyz", "issuerKeyHash": "cd",
     "serialNumber": "1"},
    {"hashAlgorithm": "SHA256", "issuerNameHash": "ab"},
])
def test_bad_hash_data_is_refused(wire: dict) -> None:
    with pytest.raises(CertificateError):
        CertificateHashData.from_wire(wire)


def test_chains_and_facts() -> None:
    ca = make_ca("Root")
    sub = make_ca("Sub", parent=ca)
    chain = hashdata.load_chain(sub.pem + ca.pem)
    assert [hashdata.common_name(c.subject) for c in chain] == ["Sub", "Root"]
    assert hashdata.is_self_signed(ca.certificate) and not hashdata.is_self_signed(
        sub.certificate)
    info = hashdata.describe(sub.certificate)
    assert info.ca and info.issuer.startswith("CN=Root") and not info.expired()
    with pytest.raises(CertificateError, match="expected one"):
        hashdata.load_one(sub.pem + ca.pem)
    with pytest.raises(CertificateError, match="no PEM"):
        hashdata.load_chain("hello")

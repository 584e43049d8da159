"""CSR checks (A02) and the certificates the CSMS signs."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import ExtendedKeyUsageOID

from csms.security import pki
from csms.security.hashdata import common_name, load_chain
from csms.security.signing import (
    AuthorityError,
    CsrProblem,
    CsrRejected,
    SigningAuthority,
    check_csr,
    issue,
)
from tests.security.factories import make_ca, make_csr, make_leaf


@pytest.fixture
def dev_ca(tmp_path: Path) -> SigningAuthority:
    pki.init_ca(tmp_path)
    return SigningAuthority.load(tmp_path / "ca.pem", tmp_path / "ca.key")


def test_a_good_csr_is_signed_for_a_client_certificate(dev_ca: SigningAuthority) -> None:
    pem, key = make_csr("CS-1")
    csr = check_csr(pem, "CS-1", "ChargingStationCertificate")
    issued = issue(dev_ca, csr, "ChargingStationCertificate", days=30)
    [leaf] = load_chain(issued.chain_pem)  # a root CA is not sent with the leaf
    leaf.verify_directly_issued_by(dev_ca.certificate)
    assert common_name(leaf.subject) == "CS-1"
    assert leaf.public_key().public_numbers() == key.public_key().public_numbers()
    usage = leaf.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert ExtendedKeyUsageOID.CLIENT_AUTH in usage
    days = (leaf.not_valid_after_utc - leaf.not_valid_before_utc).days
    assert days == 30


def test_validity_never_outlasts_the_ca(tmp_path: Path) -> None:
    ca = make_ca("Short CA", days=10)
    ca.write(tmp_path / "ca.pem", tmp_path / "ca.key")
    authority = SigningAuthority.load(tmp_path / "ca.pem", tmp_path / "ca.key")
    csr = check_csr(make_csr("CS-1")[0], "CS-1", "ChargingStationCertificate")
    leaf = issue(authority, csr, "ChargingStationCertificate", days=365).certificate
    assert leaf.not_valid_after_utc <= ca.certificate.not_valid_after_utc


def test_a_sub_ca_sends_itself_and_the_cas_above_it_but_not_the_root(tmp_path: Path) -> None:
    root = make_ca("Root")
    sub = make_ca("Sub", parent=root)
    (tmp_path / "sub.pem").write_text(sub.pem + root.pem)
    (tmp_path / "sub.key").write_text(sub.key_pem)
    authority = SigningAuthority.load(tmp_path / "sub.pem", tmp_path / "sub.key")
    csr = check_csr(make_csr("SECC")[0], "CS-1", "V2GCertificate")
    chain = load_chain(issue(authority, csr, "V2GCertificate").chain_pem)
    assert [common_name(c.subject) for c in chain] == ["SECC", "Sub"]
    usage = chain[0].extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert ExtendedKeyUsageOID.SERVER_AUTH in usage


@pytest.mark.parametrize(("pem", "problem"), [
    ("not a csr", CsrProblem.UNREADABLE),
    (make_csr("CS-9")[0], CsrProblem.WRONG_COMMON_NAME),
    (make_csr(None)[0], CsrProblem.WRONG_COMMON_NAME),
    (make_csr("CS-1", key=rsa.generate_private_key(65537, 1024))[0], CsrProblem.WEAK_KEY),
    (make_csr("CS-1", key=ec.generate_private_key(ec.SECP192R1()))[0], CsrProblem.WEAK_KEY),
])
def test_bad_csrs_are_refused_with_the_reason(pem: str, problem: CsrProblem) -> None:
    with pytest.raises(CsrRejected) as refused:
        check_csr(pem, "CS-1", "ChargingStationCertificate")
    assert refused.value.problem is problem
    assert len(problem.value) <= 20


def test_a_csr_whose_signature_does_not_verify_is_refused() -> None:
    pem, _ = make_csr("CS-1")
    der = bytearray(x509.load_pem_x509_csr(pem.encode()).public_bytes(Encoding.DER))
    der[-1] ^= 0x01  # the last octet of the signature
    forged = x509.load_der_x509_csr(bytes(der)).public_bytes(Encoding.PEM).decode()
    with pytest.raises(CsrRejected) as refused:
        check_csr(forged, "CS-1", "ChargingStationCertificate")
    assert refused.value.problem is CsrProblem.BAD_SIGNATURE


def test_v2g_csrs_are_not_held_to_the_identity() -> None:
    check_csr(make_csr("DE*ABC*E123")[0], "CS-1", "V2GCertificate")


def test_unusable_authorities_are_refused(tmp_path: Path) -> None:
    pki.init_ca(tmp_path)
    with pytest.raises(AuthorityError, match="not the key"):
        SigningAuthority.load(tmp_path / "ca.pem", tmp_path / "server.key")
    with pytest.raises(AuthorityError, match="not a CA"):
        SigningAuthority.load(tmp_path / "server.pem", tmp_path / "server.key")
    with pytest.raises(AuthorityError, match="cannot read"):
        SigningAuthority.load(tmp_path / "none.pem", tmp_path / "ca.key")
    old = make_ca("Old CA", days=1, not_before=dt.datetime.now(dt.UTC) - dt.timedelta(days=5))
    old.write(tmp_path / "old.pem", tmp_path / "old.key")
    with pytest.raises(AuthorityError, match="not now"):
        SigningAuthority.load(tmp_path / "old.pem", tmp_path / "old.key")
    no_sign = make_ca("Cannot sign", key_cert_sign=False)
    no_sign.write(tmp_path / "ns.pem", tmp_path / "ns.key")
    with pytest.raises(AuthorityError, match="keyCertSign"):
        SigningAuthority.load(tmp_path / "ns.pem", tmp_path / "ns.key")
    leaf = make_leaf("Leaf", make_ca("X"))
    leaf.write(tmp_path / "leaf.pem", tmp_path / "leaf.key")
    with pytest.raises(AuthorityError, match="not a CA"):
        SigningAuthority.load(tmp_path / "leaf.pem", tmp_path / "leaf.key")

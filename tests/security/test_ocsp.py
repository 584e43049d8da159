"""OCSP requests and answers against a real responder on 127.0.0.1."""

from __future__ import annotations

import datetime as dt

import pytest
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509 import ocsp as x509_ocsp

from csms.security import ocsp
from csms.security.hashdata import hash_data
from csms.security.ocsp import OcspError, OcspStatus
from tests.security.factories import make_ca, make_leaf, make_responder
from tests.security.services import OcspResponder


@pytest.fixture
def pki():
    root = make_ca("MO Root")
    sub = make_ca("MO Sub-CA", parent=root)
    return root, sub, make_leaf("EMAID-1", sub), make_leaf("EMAID-2", sub)


def test_the_request_names_the_certificate(pki) -> None:
    _, sub, leaf, _ = pki
    data = hash_data(leaf.certificate, sub.certificate, "SHA384")
    request = x509_ocsp.load_der_ocsp_request(ocsp.build_request(data))
    assert request.serial_number == leaf.certificate.serial_number
    assert request.issuer_key_hash.hex() == data.issuer_key_hash
    assert request.hash_algorithm.name == "sha384"


async def test_good_and_revoked_signed_by_the_issuing_ca(pki) -> None:
    _, sub, leaf, other = pki
    with OcspResponder(sub) as responder:
        responder.good(leaf)
        responder.revoke(other)
        good = await ocsp.query(responder.url, hash_data(leaf.certificate, sub.certificate),
                                timeout=5)
        revoked = await ocsp.query(responder.url, hash_data(other.certificate,
                                                            sub.certificate), timeout=5)
    assert good.status is OcspStatus.GOOD and good.verified and good.fresh()
    assert revoked.status is OcspStatus.REVOKED and revoked.revoked_at is not None
    assert responder.asked == [leaf.certificate.serial_number, other.certificate.serial_number]


async def test_a_delegated_responder_is_verified_through_its_ca(pki) -> None:
    _, sub, leaf, _ = pki
    delegate = make_responder(sub)
    with OcspResponder(sub, signer=delegate, include=(delegate,)) as responder:
        responder.good(leaf)
        data = hash_data(leaf.certificate, sub.certificate)
        unverified = await ocsp.query(responder.url, data, timeout=5)
        verified = await ocsp.query(responder.url, data, timeout=5, known=[sub.certificate])
    assert unverified.status is OcspStatus.GOOD and not unverified.verified
    assert verified.verified


async def test_a_signer_the_issuer_does_not_vouch_for_is_not_verified(pki) -> None:
    _, sub, leaf, _ = pki
    stranger = make_ca("Somebody else")
    with OcspResponder(sub, signer=stranger, include=(stranger,)) as responder:
        responder.good(leaf)
        answer = await ocsp.query(responder.url, hash_data(leaf.certificate, sub.certificate),
                                  timeout=5, known=[sub.certificate])
    assert not answer.verified


async def test_unknown_serials_and_answers_without_next_update(pki) -> None:
    _, sub, leaf, _ = pki
    with OcspResponder(sub, next_update=None) as responder:
        answer = await ocsp.query(responder.url, hash_data(leaf.certificate, sub.certificate),
                                  timeout=5)
    assert answer.status is OcspStatus.UNKNOWN and not answer.fresh()


async def test_an_answer_about_another_certificate_is_refused(pki) -> None:
    _, sub, leaf, other = pki
    with OcspResponder(sub) as responder:
        responder.good(other)
        der = (await ocsp.query(responder.url, hash_data(other.certificate, sub.certificate),
                                timeout=5)).der
    with pytest.raises(OcspError, match="not about serial"):
        ocsp.read_response(der, hash_data(leaf.certificate, sub.certificate))


async def test_a_forged_signature_is_refused(pki) -> None:
    _, sub, leaf, _ = pki
    with OcspResponder(sub) as responder:
        responder.good(leaf)
        data = hash_data(leaf.certificate, sub.certificate)
        der = bytearray((await ocsp.query(responder.url, data, timeout=5)).der)
    response = x509_ocsp.load_der_ocsp_response(bytes(der))
    at = bytes(der).index(response.signature) + len(response.signature) - 1
    der[at] ^= 0x01
    with pytest.raises(OcspError, match="signature"):
        ocsp.read_response(bytes(der), data)


async def test_unreachable_responders_and_error_answers(pki) -> None:
    _, sub, leaf, _ = pki
    data = hash_data(leaf.certificate, sub.certificate)
    with OcspResponder(sub) as responder:
        url = responder.url
    with pytest.raises(OcspError, match="could not be reached"):
        await ocsp.query(url, data, timeout=2)
    unauthorized = x509_ocsp.OCSPResponseBuilder.build_unsuccessful(
        x509_ocsp.OCSPResponseStatus.UNAUTHORIZED)
    with pytest.raises(OcspError, match="unauthorized"):
        ocsp.read_response(unauthorized.public_bytes(Encoding.DER), data)
    with pytest.raises(OcspError, match="not an OCSP response"):
        ocsp.read_response(b"garbage", data)


def test_freshness_follows_next_update() -> None:
    now = dt.datetime.now(dt.UTC)
    answer = ocsp.OcspAnswer(OcspStatus.GOOD, b"", now, now + dt.timedelta(minutes=1), None,
                             True)
    assert answer.fresh(now) and not answer.fresh(now + dt.timedelta(minutes=2))

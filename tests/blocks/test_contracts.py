"""C07: Authorize with a contract certificate (errata 2023-12, C07.FR.13 to C07.FR.17)."""

from __future__ import annotations

import datetime as dt

import asyncpg
import pytest

from csms.security.hashdata import describe, hash_data
from csms.store import certificates, tokens
from csms.store.certificates import CertificateSettings
from tests.security.factories import chain_pem, make_ca, make_leaf, make_responder
from tests.security.services import OcspResponder

EMAID = {"idToken": "DEABCC1234567", "type": "eMAID"}


@pytest.fixture
def mo():
    """A mobility operator's PKI: root, sub-CA, two contract certificates."""
    root = make_ca("MO Root")
    sub = make_ca("MO Sub-CA", parent=root)
    return root, sub, make_leaf("DEABCC1234567", sub), make_leaf("DEABCC7654321", sub)


@pytest.fixture
async def known_emaid(pool: asyncpg.Pool) -> None:
    await tokens.add_token(pool, EMAID["idToken"], "eMAID")


def hashes(leaf, sub, root, url: str | None = None) -> list[dict]:
    out = []
    for cert, issuer in ((leaf, sub), (sub, root)):
        data = hash_data(cert.certificate, issuer.certificate).to_wire()
        out.append({**data, "responderURL": url or "http://ocsp.mo.example/"})
    return out


async def responders(pool: asyncpg.Pool, *urls: str) -> None:
    await certificates.save_settings(pool, CertificateSettings(None, urls, 5.0))


async def authorize(call, *, chain: list[dict] | None = None,
                    pem: str | None = None) -> tuple[str | None, str]:
    """Authorize EMAID with its contract certificate as OCSP hash data (``chain``) or as a PEM
    chain (``pem``): the answer's (certificateStatus, idTokenInfo status)."""
    request: dict = {"idToken": EMAID}
    if chain is not None:
        request["iso15118CertificateHashData"] = chain
    if pem is not None:
        request["certificate"] = pem
    response = await call("Authorize", request)
    return response.get("certificateStatus"), response["idTokenInfo"]["status"]


async def test_without_ocsp_a_chain_not_on_the_list_is_accepted(call, mo, known_emaid) -> None:
    root, sub, leaf, _ = mo
    assert await authorize(call, chain=hashes(leaf, sub, root)) == ("Accepted", "Accepted")


async def test_c07_fr_16_a_revoked_certificate_on_the_list(pool: asyncpg.Pool, call, mo,
                                                           known_emaid) -> None:
    root, sub, leaf, _ = mo
    await certificates.add_revocation(pool, describe(leaf.certificate).serial_number,
                                      reason="contract ended")
    assert await authorize(call, chain=hashes(leaf, sub, root)) == ("CertificateRevoked",
                                                                    "Invalid")


async def test_a_listed_sub_ca_revokes_what_it_issued(pool: asyncpg.Pool, call, mo,
                                                      known_emaid) -> None:
    root, sub, leaf, _ = mo
    data = hash_data(sub.certificate, root.certificate)
    await certificates.add_revocation(pool, data.serial_number, hash_algorithm="SHA256",
                                      issuer_name_hash=data.issuer_name_hash,
                                      issuer_key_hash=data.issuer_key_hash)
    status, _ = await authorize(call, chain=hashes(leaf, sub, root))
    assert status == "CertificateRevoked"


async def test_a_list_entry_of_another_issuer_does_not_match(pool: asyncpg.Pool, call, mo,
                                                             known_emaid) -> None:
    root, sub, leaf, _ = mo
    data = hash_data(leaf.certificate, sub.certificate)
    await certificates.add_revocation(pool, data.serial_number, hash_algorithm="SHA256",
                                      issuer_name_hash="00" * 32, issuer_key_hash="11" * 32)
    status, _ = await authorize(call, chain=hashes(leaf, sub, root))
    assert status == "Accepted"


async def test_tc_c_50_ocsp_good_is_accepted(pool: asyncpg.Pool, call, mo, known_emaid) -> None:
    root, sub, leaf, _ = mo
    with OcspResponder(sub) as leaf_responder, OcspResponder(root) as root_responder:
        leaf_responder.good(leaf)
        root_responder.good(sub)
        await responders(pool, leaf_responder.url, root_responder.url)
        chain = hashes(leaf, sub, root, leaf_responder.url)
        chain[1]["responderURL"] = root_responder.url
        answer = await authorize(call, chain=chain)
    assert answer == ("Accepted", "Accepted")
    assert leaf_responder.asked == [leaf.certificate.serial_number]
    assert root_responder.asked == [sub.certificate.serial_number]


async def test_tc_c_51_ocsp_revoked_is_invalid(pool: asyncpg.Pool, call, mo,
                                               known_emaid) -> None:
    root, sub, leaf, _ = mo
    with OcspResponder(sub) as responder:
        responder.revoke(leaf)
        await responders(pool, responder.url)
        answer = await authorize(call, chain=hashes(leaf, sub, root, responder.url)[:1])
    assert answer == ("CertificateRevoked", "Invalid")


@pytest.mark.parametrize("case", ["unknown", "unreachable", "unverifiable"])
async def test_c07_fr_17_no_trustworthy_ocsp_answer_is_a_chain_error(
        pool: asyncpg.Pool, call, mo, known_emaid, case: str) -> None:
    root, sub, leaf, _ = mo
    stranger = make_ca("Stranger")
    signer = stranger if case == "unverifiable" else None
    with OcspResponder(sub, signer=signer) as responder:
        if case != "unknown":
            responder.good(leaf)
        url = responder.url
        await responders(pool, url)
        if case == "unreachable":
            responder.__exit__()
        answer = await authorize(call, chain=hashes(leaf, sub, root, url)[:1])
    assert answer == ("CertChainError", "Invalid")


async def test_a_responder_not_configured_is_not_asked(pool: asyncpg.Pool, call, mo,
                                                       known_emaid) -> None:
    root, sub, leaf, _ = mo
    with OcspResponder(sub) as responder:
        responder.revoke(leaf)
        await responders(pool, "http://ocsp.other.example")
        status, _ = await authorize(call, chain=hashes(leaf, sub, root, responder.url)[:1])
    assert status == "Accepted" and not responder.asked


@pytest.mark.parametrize("status", ["Blocked", "Expired", "Invalid"])
async def test_c07_fr_13_a_valid_certificate_of_a_refused_emaid(pool: asyncpg.Pool, call, mo,
                                                               status: str) -> None:
    root, sub, leaf, _ = mo
    await tokens.add_token(pool, EMAID["idToken"], "eMAID", status=status)
    assert await authorize(call, chain=hashes(leaf, sub, root)) == ("ContractCancelled", status)


async def test_c07_fr_13_an_unknown_emaid(call, mo) -> None:
    root, sub, leaf, _ = mo
    assert await authorize(call, chain=hashes(leaf, sub, root)) == ("ContractCancelled",
                                                                    "Unknown")


async def test_tokens_without_certificates_get_no_certificate_status(call, known_emaid) -> None:
    response = await call("Authorize", {"idToken": EMAID})
    assert "certificateStatus" not in response


# -- central validation: the chain itself in ``certificate`` -----------------------------------

async def trust(pool: asyncpg.Pool, root) -> None:
    info = describe(root.certificate)
    await certificates.add_contract_root(pool, "MORootCertificate", root.pem, info.subject,
                                         info.fingerprint, info.not_after)


async def test_tc_c_52_central_validation_with_ocsp_from_the_certificate(
        pool: asyncpg.Pool, call, known_emaid) -> None:
    root = make_ca("MO Root")
    with OcspResponder(root) as root_responder:
        sub = make_ca("MO Sub-CA", parent=root, ocsp_url=root_responder.url)
        with OcspResponder(sub) as responder:
            leaf = make_leaf("DEABCC1234567", sub, ocsp_url=responder.url)
            responder.good(leaf)
            root_responder.good(sub)
            await trust(pool, root)
            await responders(pool, "*")
            status, _ = await authorize(call, pem=chain_pem(leaf, sub))
    assert status == "Accepted"
    assert responder.asked == [leaf.certificate.serial_number]
    assert root_responder.asked == [sub.certificate.serial_number]


async def test_c07_fr_15_an_expired_certificate(pool: asyncpg.Pool, call, mo,
                                                known_emaid) -> None:
    root, sub, _, _ = mo
    long_ago = dt.datetime.now(dt.UTC) - dt.timedelta(days=30)
    old = make_leaf("DEABCC1234567", sub, days=1, not_before=long_ago)
    await trust(pool, root)
    assert await authorize(call, pem=chain_pem(old, sub)) == ("CertificateExpired", "Expired")


@pytest.mark.parametrize("case", ["no roots", "other root", "broken chain", "garbage"])
async def test_c07_fr_17_a_chain_that_does_not_verify(pool: asyncpg.Pool, call, mo,
                                                      known_emaid, case: str) -> None:
    root, sub, leaf, _ = mo
    if case == "other root":
        await trust(pool, make_ca("Another MO Root"))
    elif case != "no roots":
        await trust(pool, root)
    pem = {"broken chain": chain_pem(leaf, make_ca("Impostor Sub-CA", parent=root)),
           "garbage": "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"}.get(
        case, chain_pem(leaf, sub))
    assert await authorize(call, pem=pem) == ("CertChainError", "Invalid")


async def test_a_cached_answer_is_verified_with_what_the_authorize_knows(
        pool: asyncpg.Pool, call, known_emaid) -> None:
    root = make_ca("MO Root")
    sub = make_ca("MO Sub-CA", parent=root)
    delegate = make_responder(root)
    with OcspResponder(root, signer=delegate, include=(delegate,)) as responder:
        responder.good(sub)
        await responders(pool, responder.url)
        await trust(pool, root)
        sub_request = {**hash_data(sub.certificate, root.certificate).to_wire(),
                       "responderURL": responder.url}
        # A station's GetCertificateStatus: the delegate cannot be tied to the root here.
        assert (await call("GetCertificateStatus", {"ocspRequestData": sub_request})
                )["status"] == "Accepted"
        # The Authorize knows the trusted root: the cached answer is verified with it.
        status, _ = await authorize(call, chain=[sub_request])
    assert status == "Accepted"
    assert responder.asked == [sub.certificate.serial_number]

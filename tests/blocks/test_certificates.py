"""Blocks A and M, certificates: CSRs signed by the configured CA, EV contract certificates
from the contract backend, OCSP answers for stations, and the inventory kept from the
station's answers to the CSMS's certificate calls."""

from __future__ import annotations

import asyncio
import base64
from pathlib import Path

import asyncpg
import pytest
from cryptography.x509 import ocsp as x509_ocsp

from csms.blocks import certificates as block
from csms.security import pki
from csms.security.hashdata import hash_data, load_chain
from csms.store import certificates, station_certificates
from csms.store.certificates import CertificateSettings
from tests.blocks.conftest import STATION
from tests.security.factories import make_ca, make_csr, make_leaf
from tests.security.services import ContractBackend, OcspResponder

EXI = {"iso15118SchemaVersion": "urn:iso:15118:2:2013:MsgDef", "action": "Install",
       "exiRequest": "RVhJ"}


async def configure(pool: asyncpg.Pool, *, contract_url: str | None = None,
                    responders: tuple[str, ...] = ()) -> None:
    await certificates.save_settings(pool, CertificateSettings(contract_url, responders, 5.0))


async def deliveries_done() -> None:
    while block._DELIVERIES:
        await asyncio.gather(*block._DELIVERIES)


# -- SignCertificate (A02/A03) -----------------------------------------------------------------

async def test_without_a_ca_a_csr_is_rejected_and_kept(pool: asyncpg.Pool, call) -> None:
    response = await call("SignCertificate", {"csr": make_csr(STATION)[0],
                                              "certificateType": "ChargingStationCertificate"})
    assert response["status"] == "Rejected" and response["statusInfo"]["reasonCode"] == "NoCA"
    [signing] = await station_certificates.list_signings(pool, STATION)
    assert (signing.status, signing.reason_code) == ("Rejected", "NoCA")


async def test_a_good_csr_is_signed_by_the_configured_ca(pool: asyncpg.Pool, call,
                                                         tmp_path: Path) -> None:
    pki.init_ca(tmp_path)
    await certificates.set_authority(pool, "ChargingStationCertificate",
                                     str(tmp_path / "ca.pem"), str(tmp_path / "ca.key"), 90)
    response = await call("SignCertificate", {"csr": make_csr(STATION)[0]})
    assert response == {"status": "Accepted"}
    await deliveries_done()
    [signing] = await station_certificates.list_signings(pool, STATION)
    assert signing.status == "Accepted" and signing.csr_subject.startswith("CN=CS-001")
    chain = await pool.fetchval("SELECT certificate_chain FROM certificate_signings")
    [leaf] = load_chain(chain)
    assert format(leaf.serial_number, "x") == signing.serial_number
    assert 89 <= (leaf.not_valid_after_utc - leaf.not_valid_before_utc).days <= 90
    # CS-001 is not connected to any node here: the CertificateSigned could not go out.
    assert signing.command_id is None and "not connected" in signing.delivery_error


@pytest.mark.parametrize(("csr", "code"), [
    (make_csr("SOMEONE-ELSE")[0], "InvalidCommonName"),
    ("-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END CERTIFICATE REQUEST-----",
     "InvalidCSR"),
])
async def test_bad_csrs_are_rejected_with_the_reason(pool: asyncpg.Pool, call, tmp_path: Path,
                                                     csr: str, code: str) -> None:
    pki.init_ca(tmp_path)
    await certificates.set_authority(pool, "ChargingStationCertificate",
                                     str(tmp_path / "ca.pem"), str(tmp_path / "ca.key"), 90)
    response = await call("SignCertificate", {"csr": csr})
    assert response["status"] == "Rejected" and response["statusInfo"]["reasonCode"] == code


async def test_a_ca_whose_files_are_gone_rejects(pool: asyncpg.Pool, call,
                                                 tmp_path: Path) -> None:
    await certificates.set_authority(pool, "ChargingStationCertificate",
                                     str(tmp_path / "gone.pem"), str(tmp_path / "gone.key"), 9)
    response = await call("SignCertificate", {"csr": make_csr(STATION)[0]})
    assert response["statusInfo"]["reasonCode"] == "CAUnavailable"
    assert "gone.pem" in response["statusInfo"]["additionalInfo"]


# -- Get15118EVCertificate (M01/M02) -----------------------------------------------------------

async def test_without_a_backend_contracts_fail_saying_so(call) -> None:
    response = await call("Get15118EVCertificate", EXI)
    assert response["status"] == "Failed" and response["exiResponse"] == ""
    assert response["statusInfo"]["reasonCode"] == "NoContractBackend"


async def test_the_backend_answers_the_ev(pool: asyncpg.Pool, call, version: str) -> None:
    with ContractBackend() as backend:
        await configure(pool, contract_url=backend.url)
        response = await call("Get15118EVCertificate", EXI)
    assert response["status"] == "Accepted" and response["exiResponse"] == "RVhJLXJlc3BvbnNl"
    assert ("remainingContracts" in response) == (version == "2.1")
    assert backend.received[0]["stationId"] == STATION
    row = await pool.fetchrow("SELECT answer_status FROM certificate_requests")
    assert row["answer_status"] == "Accepted"


async def test_an_unreachable_backend_fails(pool: asyncpg.Pool, call) -> None:
    with ContractBackend() as backend:
        url = backend.url
    await configure(pool, contract_url=url)
    response = await call("Get15118EVCertificate", EXI)
    assert response["status"] == "Failed"
    assert response["statusInfo"]["reasonCode"] == "BackendUnavailable"


# -- GetCertificateStatus (M06) and GetCertificateChainStatus (2.1) ------------------------------

@pytest.fixture
def contract_pki():
    root = make_ca("MO Root")
    sub = make_ca("MO Sub-CA", parent=root)
    return sub, make_leaf("EMAID-1", sub), make_leaf("EMAID-2", sub)


def ocsp_data(leaf, issuer, url: str) -> dict:
    return {**hash_data(leaf.certificate, issuer.certificate).to_wire(), "responderURL": url}


async def test_without_responders_ocsp_fails_saying_so(call, contract_pki) -> None:
    sub, leaf, _ = contract_pki
    response = await call("GetCertificateStatus", {"ocspRequestData": ocsp_data(
        leaf, sub, "http://ocsp.example/")})
    assert response["status"] == "Failed"
    assert response["statusInfo"]["reasonCode"] == "OCSPNotConfigured"


async def test_the_responders_answer_is_passed_on_and_cached(pool: asyncpg.Pool, call,
                                                            contract_pki) -> None:
    sub, leaf, _ = contract_pki
    with OcspResponder(sub) as responder:
        responder.good(leaf)
        await configure(pool, responders=(responder.url,))
        request = {"ocspRequestData": ocsp_data(leaf, sub, responder.url)}
        first = await call("GetCertificateStatus", request)
        second = await call("GetCertificateStatus", request)
    assert first["status"] == "Accepted" and second == first
    assert len(responder.asked) == 1  # the second answer came from the cache
    answer = x509_ocsp.load_der_ocsp_response(base64.b64decode(first["ocspResult"]))
    assert answer.serial_number == leaf.certificate.serial_number


async def test_a_responder_not_configured_is_not_asked(pool: asyncpg.Pool, call,
                                                       contract_pki) -> None:
    sub, leaf, _ = contract_pki
    with OcspResponder(sub) as responder:
        await configure(pool, responders=("http://ocsp.operator.example",))
        response = await call("GetCertificateStatus", {"ocspRequestData": ocsp_data(
            leaf, sub, responder.url)})
    assert response["statusInfo"]["reasonCode"] == "OCSPNotAllowed" and not responder.asked


async def test_chain_status_per_certificate(pool: asyncpg.Pool, call21, contract_pki) -> None:
    sub, leaf, other = contract_pki
    with OcspResponder(sub) as responder:
        responder.good(leaf)
        responder.revoke(other)
        await configure(pool, responders=(responder.url,))
        hashes = [hash_data(c.certificate, sub.certificate).to_wire() for c in (leaf, other)]
        response = await call21("GetCertificateChainStatus", {"certificateStatusRequests": [
            {"source": "OCSP", "urls": [responder.url], "certificateHashData": hashes[0]},
            {"source": "OCSP", "urls": [responder.url], "certificateHashData": hashes[1]},
            {"source": "CRL", "urls": ["http://crl.example"], "certificateHashData": hashes[0]},
        ]})
    assert [s["status"] for s in response["certificateStatus"]] == ["Good", "Revoked", "Failed"]


# -- what the station's answers say ----------------------------------------------------------

async def test_answers_keep_the_inventory(pool: asyncpg.Pool) -> None:
    root, other = make_ca("CSMS Root"), make_ca("Manufacturer Root")
    install = {"certificateType": "CSMSRootCertificate", "certificate": root.pem}
    await block.record_answer(pool, STATION, "InstallCertificate", install,
                              {"status": "Accepted"})
    [entry] = await station_certificates.list_inventory(pool, STATION)
    assert entry.source == "installed" and entry.subject.startswith("CN=CSMS Root")
    # The station lists its certificates with SHA384: the list replaces what was believed,
    # and the entry is still tied to the PEM the CSMS installed.
    listed = [{"certificateType": "CSMSRootCertificate", "certificateHashData": hash_data(
        root.certificate, root.certificate, "SHA384").to_wire()},
              {"certificateType": "ManufacturerRootCertificate", "certificateHashData":
               hash_data(other.certificate, other.certificate).to_wire()}]
    await block.record_answer(pool, STATION, "GetInstalledCertificateIds", {},
                              {"status": "Accepted", "certificateHashDataChain": listed})
    entries = await station_certificates.list_inventory(pool, STATION)
    assert [(e.certificate_type, e.hash_algorithm, e.source) for e in entries] == [
        ("CSMSRootCertificate", "SHA384", "reported"),
        ("ManufacturerRootCertificate", "SHA256", "reported")]
    assert entries[0].install_id is not None and entries[1].install_id is None
    await block.record_answer(pool, STATION, "GetInstalledCertificateIds",
                              {"certificateType": ["ManufacturerRootCertificate"]},
                              {"status": "NotFound"})
    assert [e.certificate_type for e in await station_certificates.list_inventory(
        pool, STATION)] == ["CSMSRootCertificate"]
    await block.record_answer(pool, STATION, "DeleteCertificate",
                              {"certificateHashData": listed[0]["certificateHashData"]},
                              {"status": "Accepted"})
    assert await station_certificates.list_inventory(pool, STATION) == []


async def test_a_refused_install_is_kept_with_its_reason(pool: asyncpg.Pool) -> None:
    root = make_ca("Root")
    await block.record_answer(pool, STATION, "InstallCertificate",
                              {"certificateType": "V2GRootCertificate", "certificate": root.pem},
                              {"status": "Rejected", "statusInfo": {"reasonCode": "Expired"}})
    [install] = await station_certificates.list_installs(pool, STATION)
    assert (install.status, install.reason) == ("Rejected", "Expired")
    assert await station_certificates.list_inventory(pool, STATION) == []


async def test_the_station_answer_to_a_signed_certificate_is_kept(pool: asyncpg.Pool,
                                                                 call, tmp_path: Path) -> None:
    pki.init_ca(tmp_path)
    await certificates.set_authority(pool, "ChargingStationCertificate",
                                     str(tmp_path / "ca.pem"), str(tmp_path / "ca.key"), 90)
    await call("SignCertificate", {"csr": make_csr(STATION)[0]})
    await deliveries_done()
    chain = await pool.fetchval("SELECT certificate_chain FROM certificate_signings")
    await block.record_answer(pool, STATION, "CertificateSigned",
                              {"certificateChain": chain}, {"status": "Rejected"})
    [signing] = await station_certificates.list_signings(pool, STATION)
    assert signing.station_status == "Rejected" and signing.answered_at is not None

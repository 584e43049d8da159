"""Certificate management end to end (blocks A and M, use case C07): a live CSMS node, simulated
stations over real sockets, the ``csms certs`` commands, and a real OCSP responder and contract
backend on 127.0.0.1. Tests are named after the Part 6 cases they follow (TC_M_*, TC_A_*, and
TC_C_50 to TC_C_52 for C07); M02/M06 have no CSMS case in Part 6 and are named after the use
case."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.x509 import ocsp as x509_ocsp
from typer.testing import Result

from csms.config import ServerConfig
from csms.security import pki
from csms.security.hashdata import describe, hash_data
from csms.server import CentralSystem
from csms.store import reports, station_certificates, stations
from simulators.station import Station, StationConfig
from tests.cli.conftest import run_cli
from tests.operations.conftest import FLEET_PASSWORD, wait_for
from tests.security.factories import Issued, make_ca, make_csr, make_leaf
from tests.security.services import ContractBackend, OcspResponder

pytestmark = pytest.mark.e2e

QUICK = {"backoff_min_s": 0.2, "backoff_random_s": 0.2, "control_interval_s": 0.5,
         "heartbeat_s": 300}


async def cli(db: str, *args: str) -> Result:
    """``csms ARGS --database-url DB`` in-process, in a worker thread."""
    return await asyncio.to_thread(run_cli, *args, "--database-url", db)


async def cli_ok(db: str, *args: str) -> Result:
    result = await cli(db, *args)
    assert result.exit_code == 0, (result.exit_code, result.stdout, result.stderr)
    return result


@contextlib.asynccontextmanager
async def online(system: CentralSystem, config: StationConfig) -> AsyncIterator[Station]:
    """A simulated station, connected and booted, stopped on leaving."""
    station = Station(config)
    task = asyncio.create_task(station.run())
    try:
        async def ready() -> bool:
            return station.online and config.station_id in system.sessions
        await wait_for(ready, 20, interval=0.05)
        yield station
    finally:
        station.stop()
        with contextlib.suppress(asyncio.CancelledError, TimeoutError):
            await asyncio.wait_for(task, 5)


@pytest.fixture
async def station(csms: CentralSystem) -> AsyncIterator[Station]:
    config = StationConfig("CERT-CS1", f"ws://127.0.0.1:{csms.port}/ocpp",
                           password=FLEET_PASSWORD, **QUICK)
    async with online(csms, config) as running:
        yield running


@pytest.fixture
def dev_pki(tmp_path: Path) -> Path:
    directory = tmp_path / "pki"
    pki.init_ca(directory)
    return directory


def command_payloads(system: CentralSystem, action: str):
    async def fetch() -> list[dict]:
        rows = await system.pool.fetch("SELECT payload FROM commands WHERE action = $1 "
                                       "ORDER BY id", action)
        return [r["payload"] for r in rows]
    return fetch()


def write(issued: Issued, path: Path) -> Path:
    path.write_text(issued.pem)
    return path


# -- M05: install CA certificates -----------------------------------------------------------

@pytest.mark.parametrize(("case", "kind"), [("m_01", "CSMSRootCertificate"),
                                            ("m_02", "ManufacturerRootCertificate")])
async def test_tc_m_01_m_02_install_ca_certificate(csms: CentralSystem, database_url: str,
                                                   station: Station, tmp_path: Path,
                                                   case: str, kind: str) -> None:
    root = make_ca(f"Root for {case}")
    result = await cli_ok(database_url, "certs", "install", "CERT-CS1", "--type", kind,
                          "--file", str(write(root, tmp_path / "root.pem")))
    assert result.stdout.startswith("Accepted")
    assert [r.certificate for r in station.certificates.roots] == [root.certificate]
    [sent] = await command_payloads(csms, "InstallCertificate")
    assert sent == {"certificateType": kind, "certificate": root.pem}
    [entry] = await station_certificates.list_inventory(csms.pool, "CERT-CS1")
    assert (entry.certificate_type, entry.source) == (kind, "installed")
    [install] = await station_certificates.list_installs(csms.pool, "CERT-CS1")
    assert install.status == "Accepted" and install.serial_number == describe(
        root.certificate).serial_number


async def test_tc_m_05_install_ca_certificate_failed(csms: CentralSystem, database_url: str,
                                                     station: Station, tmp_path: Path) -> None:
    station.certificates.slots = 0  # a full certificate store
    result = await cli(database_url, "certs", "install", "CERT-CS1", "--type",
                       "CSMSRootCertificate", "--file",
                       str(write(make_ca("Root"), tmp_path / "root.pem")))
    assert result.exit_code == 5 and "answered InstallCertificate with Failed" in result.stderr
    [install] = await station_certificates.list_installs(csms.pool, "CERT-CS1")
    assert install.status == "Failed" and "OutOfStorage" in install.reason
    assert await station_certificates.list_inventory(csms.pool, "CERT-CS1") == []


# -- M03: retrieve certificates -------------------------------------------------------------

async def install_roots(db: str, tmp_path: Path, *kinds: str) -> dict[str, Issued]:
    roots = {}
    for kind in kinds:
        roots[kind] = make_ca(f"{kind} of the test")
        await cli_ok(db, "certs", "install", "CERT-CS1", "--type", kind, "--file",
                     str(write(roots[kind], tmp_path / f"{kind}.pem")))
    return roots


async def test_tc_m_13_retrieve_manufacturer_root_certificate(
        csms: CentralSystem, database_url: str, station: Station, tmp_path: Path) -> None:
    roots = await install_roots(database_url, tmp_path, "ManufacturerRootCertificate",
                                "CSMSRootCertificate")
    station.certificates.hash_algorithm = "SHA384"
    result = await cli_ok(database_url, "certs", "installed", "CERT-CS1", "--type",
                          "ManufacturerRootCertificate", "--refresh", "--json")
    [entry] = json.loads(result.stdout)
    root = roots["ManufacturerRootCertificate"].certificate
    assert entry["certificateHashData"] == hash_data(root, root, "SHA384").to_wire()
    assert entry["source"] == "reported" and entry["subject"].startswith("CN=Manufacturer")
    assert (await command_payloads(csms, "GetInstalledCertificateIds"))[-1] == {
        "certificateType": ["ManufacturerRootCertificate"]}


async def test_tc_m_18_retrieve_all_certificate_types(
        csms: CentralSystem, database_url: str, station: Station, tmp_path: Path) -> None:
    await install_roots(database_url, tmp_path, "ManufacturerRootCertificate",
                        "CSMSRootCertificate", "V2GRootCertificate")
    result = await cli_ok(database_url, "certs", "installed", "CERT-CS1", "--refresh")
    for kind in ("ManufacturerRootCertificate", "CSMSRootCertificate", "V2GRootCertificate"):
        assert kind in result.stdout
    assert (await command_payloads(csms, "GetInstalledCertificateIds"))[-1] == {}
    entries = await station_certificates.list_inventory(csms.pool, "CERT-CS1")
    assert {e.source for e in entries} == {"reported"} and len(entries) == 3


async def test_tc_m_19_retrieve_certificates_no_matching_certificate(
        csms: CentralSystem, database_url: str, station: Station, tmp_path: Path) -> None:
    await install_roots(database_url, tmp_path, "CSMSRootCertificate")
    result = await cli_ok(database_url, "certs", "installed", "CERT-CS1", "--type",
                          "MORootCertificate", "--refresh", "--json")
    assert json.loads(result.stdout) == []
    [kept] = await station_certificates.list_inventory(csms.pool, "CERT-CS1")
    assert kept.certificate_type == "CSMSRootCertificate"  # other types are untouched


# -- M04: delete a certificate --------------------------------------------------------------

@pytest.mark.parametrize("algorithm", ["SHA256", "SHA384", "SHA512"])
async def test_tc_m_20_delete_a_certificate_success(csms: CentralSystem, database_url: str,
                                                    station: Station, tmp_path: Path,
                                                    algorithm: str) -> None:
    station.certificates.hash_algorithm = algorithm
    roots = await install_roots(database_url, tmp_path, "CSMSRootCertificate")
    serial = describe(roots["CSMSRootCertificate"].certificate).serial_number
    result = await cli_ok(database_url, "certs", "delete", "CERT-CS1", "--serial", serial)
    assert result.stdout.startswith("Accepted")
    # M04.FR.07: the CSMS asked the station first and used the station's hash algorithm.
    assert (await command_payloads(csms, "GetInstalledCertificateIds"))[-1] == {
        "certificateType": ["CSMSRootCertificate"]}
    [sent] = await command_payloads(csms, "DeleteCertificate")
    assert sent["certificateHashData"]["hashAlgorithm"] == algorithm
    assert station.certificates.roots == []
    assert await station_certificates.list_inventory(csms.pool, "CERT-CS1") == []
    again = await cli(database_url, "certs", "delete", "CERT-CS1", "--serial", serial)
    assert again.exit_code == 3 and "no certificate with serial" in again.stderr


async def test_delete_by_hash_data_of_an_unknown_certificate(
        csms: CentralSystem, database_url: str, station: Station) -> None:
    stranger = make_ca("Never installed")
    data = hash_data(stranger.certificate, stranger.certificate).to_wire()
    result = await cli(database_url, "certs", "delete", "CERT-CS1", "--hash-data",
                       json.dumps(data))
    assert result.exit_code == 3 and "has no certificate" in result.stderr


@pytest.fixture
async def tls_csms(database_url: str, dev_pki: Path) -> AsyncIterator[CentralSystem]:
    system = CentralSystem(ServerConfig(
        host="127.0.0.1", port=0, database_url=database_url, heartbeat_interval=60,
        call_timeout=10.0, tls_cert=str(dev_pki / "server.pem"),
        tls_key=str(dev_pki / "server.key"), tls_client_ca=str(dev_pki / "ca.pem")))
    await system.start()
    try:
        yield system
    finally:
        await system.stop()


def tls_config(system: CentralSystem, dev_pki: Path, station_id: str, **kw) -> StationConfig:
    return StationConfig(station_id, f"wss://localhost:{system.port}/ocpp",
                         ca_file=str(dev_pki / "ca.pem"), **QUICK, **kw)


async def test_tc_m_21_delete_a_certificate_failed(tls_csms: CentralSystem, database_url: str,
                                                   dev_pki: Path) -> None:
    await stations.register_station(tls_csms.pool, "CERT-TLS", FLEET_PASSWORD,
                                    security_profile=2)
    config = tls_config(tls_csms, dev_pki, "CERT-TLS", password=FLEET_PASSWORD)
    async with online(tls_csms, config):
        await cli_ok(database_url, "certs", "install", "CERT-TLS", "--type",
                     "CSMSRootCertificate", "--file", str(dev_pki / "ca.pem"))
        listed = await cli_ok(database_url, "certs", "installed", "CERT-TLS", "--refresh",
                              "--json")
        [entry] = json.loads(listed.stdout)
        # The only CSMS root of a TLS connection: the station refuses to delete it.
        result = await cli(database_url, "certs", "delete", "CERT-TLS", "--hash-data",
                           json.dumps(entry["certificateHashData"]))
    assert result.exit_code == 5 and "answered DeleteCertificate with Failed" in result.stderr
    assert len(await station_certificates.list_inventory(tls_csms.pool, "CERT-TLS")) == 1


# -- A02: the station's certificate renewed at the CSMS's request ----------------------------

async def test_tc_a_11_update_charging_station_certificate(
        csms: CentralSystem, database_url: str, station: Station, dev_pki: Path) -> None:
    await cli_ok(database_url, "certs", "ca", "--dir", str(dev_pki), "--days", "30")
    result = await cli_ok(database_url, "certs", "renew", "CERT-CS1", "--timeout", "20")
    assert result.stdout.startswith("Accepted: CERT-CS1 installed its new")
    assert (await command_payloads(csms, "TriggerMessage")) == [
        {"requestedMessage": "SignChargingStationCertificate"}]
    [signing] = await station_certificates.list_signings(csms.pool, "CERT-CS1")
    assert (signing.status, signing.delivery, signing.station_status) == (
        "Accepted", "answered", "Accepted")
    [sent] = await command_payloads(csms, "CertificateSigned")
    assert sent["certificateType"] == "ChargingStationCertificate"
    leaf = x509.load_pem_x509_certificate(sent["certificateChain"].encode())
    leaf.verify_directly_issued_by(x509.load_pem_x509_certificate(
        (dev_pki / "ca.pem").read_bytes()))
    assert station.certificates.client is not None
    listed = await cli_ok(database_url, "certs", "requests", "CERT-CS1", "--json")
    assert json.loads(listed.stdout)[0]["station_status"] == "Accepted"


async def test_tc_a_14_update_charging_station_certificate_invalid(
        csms: CentralSystem, database_url: str, station: Station, dev_pki: Path,
        tmp_path: Path) -> None:
    # The station trusts another CSMS root: the chain the CSMS signs does not end in it.
    await cli_ok(database_url, "certs", "install", "CERT-CS1", "--type", "CSMSRootCertificate",
                 "--file", str(write(make_ca("Another operator"), tmp_path / "other.pem")))
    await cli_ok(database_url, "certs", "ca", "--dir", str(dev_pki))
    result = await cli(database_url, "certs", "renew", "CERT-CS1", "--timeout", "20")
    assert result.exit_code == 5 and "rejected its new certificate" in result.stderr
    [signing] = await station_certificates.list_signings(csms.pool, "CERT-CS1")
    assert signing.station_status == "Rejected"

    async def reported():
        events = await reports.list_security_events(csms.pool, "CERT-CS1")
        return [e for e in events if e["type"] == "InvalidChargingStationCertificate"]

    assert await wait_for(reported, 10)
    assert station.certificates.client is None


async def test_a02_renewal_without_a_ca_is_refused_before_triggering(
        csms: CentralSystem, database_url: str, station: Station) -> None:
    result = await cli(database_url, "certs", "renew", "CERT-CS1")
    assert result.exit_code == 2 and "csms certs ca" in result.stderr
    assert await command_payloads(csms, "TriggerMessage") == []


async def test_a02_bad_csrs_are_rejected_and_nothing_is_sent(
        csms: CentralSystem, database_url: str, station: Station, dev_pki: Path) -> None:
    await cli_ok(database_url, "certs", "ca", "--dir", str(dev_pki))
    answer = await station.request("SignCertificate", {
        "csr": make_csr("SOMEONE-ELSE")[0], "certificateType": "ChargingStationCertificate"})
    assert answer["status"] == "Rejected"
    assert answer["statusInfo"]["reasonCode"] == "InvalidCommonName"
    listed = await cli_ok(database_url, "certs", "requests", "--json")
    [row] = json.loads(listed.stdout)
    assert (row["status"], row["reason_code"], row["serial_number"]) == (
        "Rejected", "InvalidCommonName", None)
    await asyncio.sleep(0.3)
    assert await command_payloads(csms, "CertificateSigned") == []


def peer_serial(system: CentralSystem, station_id: str) -> int | None:
    session = system.sessions.get(station_id)
    if session is None:
        return None
    ssl_object = session.websocket.transport.get_extra_info("ssl_object")
    der = ssl_object.getpeercert(binary_form=True) if ssl_object else None
    return x509.load_der_x509_certificate(der).serial_number if der else None


async def test_tc_a_11_security_profile_3_station_renews_and_reconnects_with_it(
        tls_csms: CentralSystem, database_url: str, dev_pki: Path) -> None:
    await stations.register_station(tls_csms.pool, "CERT-SP3", None, security_profile=3)
    files = pki.issue_station(dev_pki, "CERT-SP3")
    old = x509.load_pem_x509_certificate(files.certificate.read_bytes()).serial_number
    config = tls_config(tls_csms, dev_pki, "CERT-SP3", cert_file=str(files.certificate),
                        key_file=str(files.key))
    await cli_ok(database_url, "certs", "ca", "--dir", str(dev_pki))
    async with online(tls_csms, config) as sp3:
        assert peer_serial(tls_csms, "CERT-SP3") == old
        connects = sp3.stats.connects
        result = await cli_ok(database_url, "certs", "renew", "CERT-SP3", "--timeout", "20")
        assert result.stdout.startswith("Accepted")
        [signing] = await station_certificates.list_signings(tls_csms.pool, "CERT-SP3")
        new = int(signing.serial_number, 16)

        async def reconnected() -> bool:
            return sp3.stats.connects > connects and peer_serial(tls_csms, "CERT-SP3") == new

        await wait_for(reconnected, 20, interval=0.1)
        assert new != old
        detail = await stations.get_station(tls_csms.pool, "CERT-SP3")
        assert detail.boot_status == "Accepted"


# -- M06 and M01/M02: what stations ask on their EVs' behalf ---------------------------------

@pytest.fixture
def contract_pki():
    root = make_ca("MO Root")
    sub = make_ca("MO Sub-CA", parent=root)
    return root, sub, make_leaf("DEABCC1234567", sub)


async def test_m06_get_certificate_status_through_the_configured_responder(
        database_url: str, station: Station, contract_pki) -> None:
    _, sub, leaf = contract_pki
    with OcspResponder(sub) as responder:
        request = {"ocspRequestData": {**hash_data(leaf.certificate, sub.certificate).to_wire(),
                                       "responderURL": responder.url}}
        refused = await station.request("GetCertificateStatus", request)
        assert refused["status"] == "Failed"
        assert refused["statusInfo"]["reasonCode"] == "OCSPNotConfigured"
        responder.good(leaf)
        await cli_ok(database_url, "certs", "settings", "--ocsp-responder", responder.url)
        answer = await station.request("GetCertificateStatus", request)
    assert answer["status"] == "Accepted"
    ocsp_answer = x509_ocsp.load_der_ocsp_response(base64.b64decode(answer["ocspResult"]))
    assert ocsp_answer.certificate_status is x509_ocsp.OCSPCertStatus.GOOD


async def test_m02_get_15118_ev_certificate_through_the_contract_backend(
        database_url: str, station: Station) -> None:
    request = {"iso15118SchemaVersion": "urn:iso:15118:2:2013:MsgDef", "action": "Install",
               "exiRequest": "RVhJ"}
    refused = await station.request("Get15118EVCertificate", request)
    assert (refused["status"], refused["statusInfo"]["reasonCode"]) == (
        "Failed", "NoContractBackend")
    with ContractBackend() as backend:
        await cli_ok(database_url, "certs", "settings", "--contract-url", backend.url)
        answer = await station.request("Get15118EVCertificate", request)
    assert answer["status"] == "Accepted" and answer["exiResponse"] == "RVhJLXJlc3BvbnNl"
    assert backend.received == [{"stationId": "CERT-CS1", **request}]


# -- C07: authorization with contract certificates --------------------------------------------

EMAID = {"idToken": "DEABCC1234567", "type": "eMAID"}


async def test_tc_c_50_local_contract_validation_accepted(
        database_url: str, station: Station, contract_pki) -> None:
    _, sub, leaf = contract_pki
    await cli_ok(database_url, "tokens", "add", EMAID["idToken"], "--type", "eMAID")
    with OcspResponder(sub) as responder:
        responder.good(leaf)
        await cli_ok(database_url, "certs", "settings", "--ocsp-responder", responder.url)
        answer = await station.request("Authorize", {"idToken": EMAID,
                                                     "iso15118CertificateHashData": [{
            **hash_data(leaf.certificate, sub.certificate).to_wire(),
            "responderURL": responder.url}]})
    assert answer["idTokenInfo"]["status"] == "Accepted"
    assert answer["certificateStatus"] == "Accepted"
    assert responder.asked == [leaf.certificate.serial_number]


async def test_tc_c_51_local_contract_validation_revoked(
        database_url: str, station: Station, contract_pki) -> None:
    _, sub, leaf = contract_pki
    await cli_ok(database_url, "tokens", "add", EMAID["idToken"], "--type", "eMAID")
    hashes = [{**hash_data(leaf.certificate, sub.certificate).to_wire(),
               "responderURL": "http://ocsp.mo.example/"}]
    with OcspResponder(sub) as responder:
        responder.revoke(leaf)
        await cli_ok(database_url, "certs", "settings", "--ocsp-responder", responder.url)
        hashes_here = [{**hashes[0], "responderURL": responder.url}]
        by_ocsp = await station.request("Authorize", {"idToken": EMAID,
                                                      "iso15118CertificateHashData":
                                                      hashes_here})
    assert (by_ocsp["idTokenInfo"]["status"], by_ocsp["certificateStatus"]) == (
        "Invalid", "CertificateRevoked")
    # Without OCSP, the operator's revocation list says the same (C07.FR.16).
    await cli_ok(database_url, "certs", "settings", "--no-ocsp")
    await cli_ok(database_url, "certs", "revoke", "--serial",
                 describe(leaf.certificate).serial_number, "--reason", "contract ended")
    by_list = await station.request("Authorize", {"idToken": EMAID,
                                                  "iso15118CertificateHashData": hashes})
    assert (by_list["idTokenInfo"]["status"], by_list["certificateStatus"]) == (
        "Invalid", "CertificateRevoked")


async def test_tc_c_52_central_contract_validation_accepted(
        database_url: str, station: Station, tmp_path: Path) -> None:
    root = make_ca("MO Root")
    await cli_ok(database_url, "tokens", "add", EMAID["idToken"], "--type", "eMAID")
    await cli_ok(database_url, "certs", "roots", "--add", str(write(root, tmp_path / "mo.pem")))
    with OcspResponder(root) as responder:
        leaf = make_leaf("DEABCC1234567", root, ocsp_url=responder.url)
        responder.good(leaf)
        await cli_ok(database_url, "certs", "settings", "--ocsp-responder", responder.url)
        answer = await station.request("Authorize", {"idToken": EMAID,
                                                     "certificate": leaf.pem})
    assert (answer["idTokenInfo"]["status"], answer["certificateStatus"]) == (
        "Accepted", "Accepted")
    assert responder.asked == [leaf.certificate.serial_number]

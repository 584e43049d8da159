"""The simulated station's certificates: roots installed, listed and deleted (M03 to M05, as
the TC_M_*_CS cases expect of a station), and its certificate renewed on request (A02)."""

from __future__ import annotations

import datetime as dt
import time

from cryptography import x509
from cryptography.x509.oid import NameOID

from csms.security.hashdata import CertificateHashData, hash_data
from csms.security.signing import SigningAuthority, check_csr, issue
from tests.security.factories import make_ca, make_leaf
from tests.simulators.minicsms import MiniCsms

ROOT = "CSMSRootCertificate"


async def test_tc_m_01_m_12_m_18_m_19_install_and_list(csms: MiniCsms, run_station) -> None:
    station = run_station("CERT1")
    root, maker = make_ca("CSMS Root"), make_ca("Manufacturer Root")
    assert (await csms.call("CERT1", "InstallCertificate", {
        "certificateType": ROOT, "certificate": root.pem}))["status"] == "Accepted"
    assert (await csms.call("CERT1", "InstallCertificate", {
        "certificateType": "ManufacturerRootCertificate", "certificate": maker.pem})
    )["status"] == "Accepted"
    assert station.model.get("SecurityCtrlr", "CertificateEntries") == "2"
    listed = await csms.call("CERT1", "GetInstalledCertificateIds", {"certificateType": [ROOT]})
    assert listed["status"] == "Accepted"
    [entry] = listed["certificateHashDataChain"]
    # The station's hash data equal the CSMS's own computation.
    assert CertificateHashData.from_wire(entry["certificateHashData"]) == hash_data(
        root.certificate, root.certificate)
    every = await csms.call("CERT1", "GetInstalledCertificateIds", {})
    assert {e["certificateType"] for e in every["certificateHashDataChain"]} == {
        ROOT, "ManufacturerRootCertificate"}
    none = await csms.call("CERT1", "GetInstalledCertificateIds",
                           {"certificateType": ["MORootCertificate"]})
    assert none == {"status": "NotFound"}


async def test_tc_m_07_invalid_certificates_are_rejected(csms: MiniCsms, run_station) -> None:
    run_station("CERT2")
    long_ago = dt.datetime.now(dt.UTC) - dt.timedelta(days=30)
    expired = make_ca("Old Root", days=1, not_before=long_ago)
    leaf = make_leaf("Not a CA", make_ca("Some Root"))
    for pem in (expired.pem, leaf.pem, "garbage"):
        answer = await csms.call("CERT2", "InstallCertificate",
                                 {"certificateType": ROOT, "certificate": pem})
        assert answer["status"] == "Rejected"
    assert (await csms.call("CERT2", "GetInstalledCertificateIds", {}))["status"] == "NotFound"


async def test_a_full_store_fails_the_install(csms: MiniCsms, run_station) -> None:
    station = run_station("CERT3")
    station.certificates.slots = 1
    first, second = make_ca("Root 1"), make_ca("Root 2")
    await csms.call("CERT3", "InstallCertificate", {"certificateType": ROOT,
                                                    "certificate": first.pem})
    answer = await csms.call("CERT3", "InstallCertificate", {"certificateType": ROOT,
                                                             "certificate": second.pem})
    assert answer["status"] == "Failed"


async def test_tc_m_20_m_22_delete_with_the_stations_algorithm(csms: MiniCsms,
                                                               run_station) -> None:
    station = run_station("CERT4")
    station.certificates.hash_algorithm = "SHA512"
    root = make_ca("CSMS Root")
    await csms.call("CERT4", "InstallCertificate", {"certificateType": ROOT,
                                                    "certificate": root.pem})
    [entry] = (await csms.call("CERT4", "GetInstalledCertificateIds", {})
               )["certificateHashDataChain"]
    assert entry["certificateHashData"]["hashAlgorithm"] == "SHA512"
    delete = {"certificateHashData": entry["certificateHashData"]}
    assert (await csms.call("CERT4", "DeleteCertificate", delete))["status"] == "Accepted"
    assert (await csms.call("CERT4", "DeleteCertificate", delete))["status"] == "NotFound"
    assert station.model.get("SecurityCtrlr", "CertificateEntries") == "0"


async def sign(csms: MiniCsms, station_id: str, authority: SigningAuthority,
               kind: str = "ChargingStationCertificate") -> str:
    """Wait for the station's SignCertificate and sign its CSR."""
    request = await csms.wait_for(lambda: next(iter(csms.messages("SignCertificate",
                                                                  station_id)), None))
    csr = check_csr(request["csr"], station_id, kind)
    return issue(authority, csr, kind).chain_pem


async def test_tc_a_11_renewal_on_request(csms: MiniCsms, run_station, tmp_path) -> None:
    station = run_station("CERT5")
    ca = make_ca("Operator CA")
    ca.write(tmp_path / "ca.pem", tmp_path / "ca.key")
    authority = SigningAuthority.load(tmp_path / "ca.pem", tmp_path / "ca.key")
    trigger = await csms.call("CERT5", "TriggerMessage",
                              {"requestedMessage": "SignChargingStationCertificate"})
    assert trigger["status"] == "Accepted"
    chain = await sign(csms, "CERT5", authority)
    csr = x509.load_pem_x509_csr(csms.messages("SignCertificate")[0]["csr"].encode())
    assert csr.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)[0].value == \
        station.model.get("SecurityCtrlr", "OrganizationName")
    answer = await csms.call("CERT5", "CertificateSigned", {
        "certificateChain": chain, "certificateType": "ChargingStationCertificate"})
    assert answer["status"] == "Accepted"
    assert station.certificates.client is not None and not station.certificates.pending


async def test_tc_a_14_an_invalid_certificate_is_discarded_and_reported(
        csms: MiniCsms, run_station, tmp_path) -> None:
    station = run_station("CERT6")
    ca = make_ca("Operator CA")
    ca.write(tmp_path / "ca.pem", tmp_path / "ca.key")
    authority = SigningAuthority.load(tmp_path / "ca.pem", tmp_path / "ca.key")
    await csms.call("CERT6", "TriggerMessage",
                    {"requestedMessage": "SignChargingStationCertificate"})
    await sign(csms, "CERT6", authority)
    someone_else = make_leaf("CERT6", ca)  # the right name, another key
    answer = await csms.call("CERT6", "CertificateSigned", {"certificateChain": someone_else.pem})
    assert answer["status"] == "Rejected"
    event = await csms.wait_for(lambda: csms.messages("SecurityEventNotification", "CERT6"))
    assert event[0]["type"] == "InvalidChargingStationCertificate"
    assert station.certificates.client is None


async def test_a_chain_outside_the_installed_csms_root_is_refused(
        csms: MiniCsms, run_station, tmp_path) -> None:
    run_station("CERT7")
    await csms.call("CERT7", "InstallCertificate", {"certificateType": ROOT,
                                                    "certificate": make_ca("Real Root").pem})
    rogue = make_ca("Rogue CA")
    rogue.write(tmp_path / "ca.pem", tmp_path / "ca.key")
    await csms.call("CERT7", "TriggerMessage",
                    {"requestedMessage": "SignChargingStationCertificate"})
    chain = await sign(csms, "CERT7", SigningAuthority.load(tmp_path / "ca.pem",
                                                            tmp_path / "ca.key"))
    answer = await csms.call("CERT7", "CertificateSigned", {"certificateChain": chain})
    assert answer["status"] == "Rejected"
    assert "CSMSRootCertificate" in answer["statusInfo"]["additionalInfo"]


async def test_tc_a_23_the_csr_is_sent_again_while_no_certificate_comes(
        csms: MiniCsms, run_station) -> None:
    station = run_station("CERT8")
    station.model.set("SecurityCtrlr", "CertSigningWaitMinimum", "1")
    station.model.set("SecurityCtrlr", "CertSigningRepeatTimes", "1")
    started = time.monotonic()
    await csms.call("CERT8", "TriggerMessage",
                    {"requestedMessage": "SignChargingStationCertificate"})
    await csms.wait_for(lambda: len(csms.messages("SignCertificate", "CERT8")) == 2)
    times = [t for s, a, _, t in csms.received if s == "CERT8" and a == "SignCertificate"]
    assert times[1] - times[0] >= 0.95 and times[0] >= started

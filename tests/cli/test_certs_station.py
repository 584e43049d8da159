"""``csms certs install | installed | delete | renew | requests``: arguments, what is sent, and
how each outcome ends the command (the server node's side played by tests.cli.node)."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from csms.security import pki
from csms.security.hashdata import hash_data
from csms.store import certificates, station_certificates
from csms.store.station_certificates import HashFields, NewEntry
from csms.store.stations import register_station
from tests.cli.conftest import Invoke, assert_error, assert_ok, run_cli_async, with_db
from tests.cli.node import connect_station, serve_one
from tests.security.factories import make_ca, make_leaf

ROOT_ARGS = ["--type", "CSMSRootCertificate"]


@pytest.fixture
def root_file(tmp_path: Path) -> Path:
    path = tmp_path / "root.pem"
    path.write_text(make_ca("CSMS Root").pem)
    return path


@pytest.fixture
def offline(csms: Invoke, database_url: str) -> Invoke:
    with_db(database_url, lambda db: register_station(db, "CP-1", "correct-horse-battery"))
    return csms


def test_unknown_and_offline_stations(csms: Invoke, database_url: str, root_file: Path) -> None:
    for args in (["install", "CP-9", *ROOT_ARGS, "--file", str(root_file)],
                 ["installed", "CP-9"], ["delete", "CP-9", "--serial", "1"], ["renew", "CP-9"]):
        assert_error(csms("certs", *args), 3, "unknown station CP-9")
    with_db(database_url, lambda db: register_station(db, "CP-1", "correct-horse-battery"))
    assert_error(csms("certs", "install", "CP-1", *ROOT_ARGS, "--file", str(root_file)), 4,
                 "not connected")
    assert_error(csms("certs", "installed", "CP-1", "--refresh"), 4, "not connected")


@pytest.mark.parametrize(("args", "fragment"), [
    (["install", "CP-1", "--type", "ChargingStationCertificate", "--file", "x.pem"], "--type"),
    (["install", "CP-1", *ROOT_ARGS, "--file", "/nonexistent.pem"], "--file"),
    (["installed", "CP-1", "--type", "Everything"], "--type"),
    (["delete", "CP-1"], "give exactly one"),
    (["delete", "CP-1", "--serial", "1", "--hash-data", "{}"], "give exactly one"),
    (["delete", "CP-1", "--serial", "g1"], "--serial"),
    (["delete", "CP-1", "--hash-data", "[1]"], "--hash-data"),
    (["delete", "CP-1", "--issuer", "x", "--hash-data", '{"hashAlgorithm": "SHA256", '
      '"issuerNameHash": "aa", "issuerKeyHash": "bb", "serialNumber": "1"}'], "--issuer"),
    (["renew", "CP-1", "--type", "CSMSRootCertificate"], "--type"),
])
def test_argument_errors_name_the_argument(offline: Invoke, args: list[str],
                                           fragment: str) -> None:
    assert_error(offline("certs", *args), 2, fragment)


def test_only_valid_ca_certificates_are_sent(offline: Invoke, tmp_path: Path) -> None:
    leaf = tmp_path / "leaf.pem"
    leaf.write_text(make_leaf("Leaf", make_ca("Root")).pem)
    assert_error(offline("certs", "install", "CP-1", *ROOT_ARGS, "--file", str(leaf)), 2,
                 "is not a CA certificate")
    (tmp_path / "junk.pem").write_text("hello")
    assert_error(offline("certs", "install", "CP-1", *ROOT_ARGS, "--file",
                         str(tmp_path / "junk.pem")), 2, "no PEM certificate")


def test_installed_shows_the_inventory_without_asking(offline: Invoke,
                                                      database_url: str) -> None:
    root = make_ca("Root")
    data = hash_data(root.certificate, root.certificate)
    entry = NewEntry("CSMSRootCertificate", HashFields(*data.to_wire().values()))
    with_db(database_url, lambda db: station_certificates.replace_inventory(
        db, "CP-1", None, [entry]))
    rows = json.loads(assert_ok(offline("certs", "installed", "CP-1", "--json")).stdout)
    assert [r["certificateHashData"] for r in rows] == [data.to_wire()]
    assert "CSMSRootCertificate" in assert_ok(offline("certs", "installed", "CP-1")).stdout
    assert json.loads(assert_ok(offline("certs", "installed", "CP-1", "--type",
                                        "V2GRootCertificate", "--json")).stdout) == []


async def test_install_outcomes(database_url: str, root_file: Path) -> None:
    await connect_station(database_url)
    args = ["certs", "install", "CP-1", *ROOT_ARGS, "--file", str(root_file),
            "--database-url", database_url]
    result, command = await asyncio.gather(
        run_cli_async(*args), serve_one(database_url, "CP-1", response={"status": "Accepted"}))
    assert_ok(result)
    assert command.payload["certificateType"] == "CSMSRootCertificate"
    result, _ = await asyncio.gather(
        run_cli_async(*args), serve_one(database_url, "CP-1", response={
            "status": "Rejected", "statusInfo": {"reasonCode": "Expired"}}))
    assert_error(result, 5, "answered InstallCertificate with Rejected: Expired")
    result, _ = await asyncio.gather(
        run_cli_async(*args), serve_one(database_url, "CP-1", status="error",
                                        error_code="NotSupported", error_description="no"))
    assert_error(result, 5, "CALLERROR NotSupported")
    result, _ = await asyncio.gather(
        run_cli_async(*args, "--timeout", "0.5"), serve_one(database_url, "CP-1",
                                                            finish=False))
    assert_error(result, 6, "did not answer InstallCertificate")


async def test_delete_by_serial_needs_one_match(database_url: str) -> None:
    await connect_station(database_url)
    root = make_ca("Root")
    data = hash_data(root.certificate, root.certificate)
    fields = HashFields(*data.to_wire().values())
    entries = [NewEntry("CSMSRootCertificate", fields), NewEntry("V2GRootCertificate", fields)]
    await asyncio.to_thread(with_db, database_url, lambda db: station_certificates
                            .replace_inventory(db, "CP-1", None, entries))
    base = ["certs", "delete", "CP-1", "--serial", data.serial_number.upper(),
            "--database-url", database_url]
    assert_error(await run_cli_async(*base), 2, "names 2 certificates", "--type")
    result, command = await asyncio.gather(
        run_cli_async(*base, "--type", "V2GRootCertificate"),
        serve_one(database_url, "CP-1", response={"status": "Accepted"}))
    assert_ok(result)
    assert command.payload == {"certificateHashData": data.to_wire()}
    result, _ = await asyncio.gather(
        run_cli_async(*base, "--type", "V2GRootCertificate"),
        serve_one(database_url, "CP-1", response={"status": "NotFound"}))
    assert_error(result, 3, "has no certificate with serial")


async def test_renew_outcomes(database_url: str, tmp_path: Path) -> None:
    await connect_station(database_url)
    base = ["certs", "renew", "CP-1", "--timeout", "1", "--database-url", database_url]
    assert_error(await run_cli_async(*base), 2, "no certificate authority", "csms certs ca")
    pki.init_ca(tmp_path)
    await asyncio.to_thread(with_db, database_url, lambda db: certificates.set_authority(
        db, "ChargingStationCertificate", str(tmp_path / "ca.pem"), str(tmp_path / "ca.key"),
        30))
    result, command = await asyncio.gather(
        run_cli_async(*base), serve_one(database_url, "CP-1", response={
            "status": "Rejected", "statusInfo": {"reasonCode": "NotEnabled"}}))
    assert command.payload == {"requestedMessage": "SignChargingStationCertificate"}
    assert_error(result, 5, "answered TriggerMessage with Rejected: NotEnabled")
    result, _ = await asyncio.gather(
        run_cli_async(*base), serve_one(database_url, "CP-1", response={"status": "Accepted"}))
    assert_error(result, 6, "sent no SignCertificate within 1 s")


def test_requests_lists_nothing_yet(csms: Invoke) -> None:
    assert "no certificate signing requests" in assert_ok(csms("certs", "requests")).stdout
    assert json.loads(assert_ok(csms("certs", "requests", "--json")).stdout) == []


async def test_delete_by_serial_and_issuer(database_url: str) -> None:
    await connect_station(database_url)
    ours = HashFields("SHA256", "aa" * 32, "bb" * 32, "1f")
    theirs = HashFields("SHA256", "cc" * 32, "dd" * 32, "1f")
    entries = [NewEntry("CSMSRootCertificate", ours), NewEntry("CSMSRootCertificate", theirs)]
    await asyncio.to_thread(with_db, database_url, lambda db: station_certificates
                            .replace_inventory(db, "CP-1", None, entries))
    base = ["certs", "delete", "CP-1", "--serial", "1F", "--database-url", database_url]
    assert_error(await run_cli_async(*base), 2, "names 2 certificates", "--issuer")
    result, command = await asyncio.gather(
        run_cli_async(*base, "--issuer", "CCCC"),
        serve_one(database_url, "CP-1", response={"status": "Accepted"}))
    assert_ok(result)
    assert command.payload["certificateHashData"]["issuerKeyHash"] == "dd" * 32

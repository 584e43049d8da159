"""``csms certs ca | settings | roots | revoke | revocations``: the CSMS's own certificate
settings from the command line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from csms.security import pki
from csms.security.hashdata import describe, hash_data
from tests.cli.conftest import Invoke, assert_error, assert_ok
from tests.security.factories import make_ca, make_leaf


@pytest.fixture
def dev_pki(tmp_path: Path) -> Path:
    pki.init_ca(tmp_path / "pki")
    return tmp_path / "pki"


def test_the_signing_ca_is_checked_and_kept(csms: Invoke, dev_pki: Path) -> None:
    assert "no CA configured" in assert_ok(csms("certs", "ca")).stdout
    assert_ok(csms("certs", "ca", "--dir", str(dev_pki), "--days", "90"))
    [row] = json.loads(assert_ok(csms("certs", "ca", "--json")).stdout)
    assert row["type"] == "ChargingStationCertificate" and row["days"] == 90
    assert row["subject"].startswith("CN=V2G CSMS development CA") and row["problem"] is None
    assert row["cert_file"] == str((dev_pki / "ca.pem").resolve())
    (dev_pki / "ca.pem").unlink()
    [row] = json.loads(assert_ok(csms("certs", "ca", "--json")).stdout)
    assert "cannot read" in row["problem"]  # shown, for the operator to mend
    assert_ok(csms("certs", "ca", "--remove"))
    assert json.loads(assert_ok(csms("certs", "ca", "--json")).stdout) == []


def test_ca_errors_name_the_option(csms: Invoke, dev_pki: Path, tmp_path: Path) -> None:
    assert_error(csms("certs", "ca", "--dir", str(tmp_path / "none")), 2, "--dir",
                 "cannot read")
    assert_error(csms("certs", "ca", "--cert", str(dev_pki / "server.pem"), "--key",
                      str(dev_pki / "server.key")), 2, "--cert / --key", "not a CA")
    assert_error(csms("certs", "ca", "--cert", str(dev_pki / "ca.pem")), 2, "give both")
    assert_error(csms("certs", "ca", "--dir", str(dev_pki), "--type", "Nope"), 2, "--type")
    assert_error(csms("certs", "ca", "--remove", "--type", "V2GCertificate"), 3,
                 "no CA is configured for V2GCertificate")


def test_settings_change_what_they_name(csms: Invoke) -> None:
    out = assert_ok(csms("certs", "settings")).stdout
    assert "none: Get15118EVCertificate answers Failed" in out
    assert_ok(csms("certs", "settings", "--contract-url", "https://contracts.example/v1",
                   "--ocsp-responder", "http://ocsp.example", "--ocsp-responder", "*"))
    assert_ok(csms("certs", "settings", "--http-timeout", "4"))
    shown = json.loads(assert_ok(csms("certs", "settings", "--json")).stdout)
    assert shown["contract_url"] == "https://contracts.example/v1"
    assert shown["ocsp_responders"] == ["http://ocsp.example", "*"]
    assert shown["http_timeout_s"] == 4
    assert_ok(csms("certs", "settings", "--no-contract-url", "--no-ocsp"))
    shown = json.loads(assert_ok(csms("certs", "settings", "--json")).stdout)
    assert (shown["contract_url"], shown["ocsp_responders"]) == (None, [])


@pytest.mark.parametrize(("args", "fragment"), [
    (("--contract-url", "ftp://x"), "--contract-url"),
    (("--ocsp-responder", "ocsp.example"), "--ocsp-responder"),
    (("--contract-url", "http://x", "--no-contract-url"), "not both"),
    (("--ocsp-responder", "http://x", "--no-ocsp"), "not both"),
])
def test_settings_errors(csms: Invoke, args: tuple[str, ...], fragment: str) -> None:
    assert_error(csms("certs", "settings", *args), 2, fragment)


def test_trusted_contract_roots(csms: Invoke, tmp_path: Path) -> None:
    root = make_ca("MO Root")
    (tmp_path / "mo.pem").write_text(root.pem)
    (tmp_path / "leaf.pem").write_text(make_leaf("Leaf", root).pem)
    assert_ok(csms("certs", "roots", "--add", str(tmp_path / "mo.pem"), "--type",
                   "V2GRootCertificate"))
    [row] = json.loads(assert_ok(csms("certs", "roots", "--json")).stdout)
    assert row["type"] == "V2GRootCertificate"
    assert row["fingerprint"] == describe(root.certificate).fingerprint
    assert_error(csms("certs", "roots", "--add", str(tmp_path / "leaf.pem")), 2,
                 "not a self-signed CA")
    assert_error(csms("certs", "roots", "--remove", "ffff"), 3, "--remove")
    assert_ok(csms("certs", "roots", "--remove", row["fingerprint"][:8]))
    assert "no trusted contract roots" in assert_ok(csms("certs", "roots")).stdout


def test_the_revocation_list(csms: Invoke, tmp_path: Path) -> None:
    ca = make_ca("MO Sub-CA")
    leaf = make_leaf("DEABCC1", ca)
    (tmp_path / "leaf.pem").write_text(leaf.pem)
    (tmp_path / "ca.pem").write_text(ca.pem)
    assert "of any issuer" in assert_ok(csms("certs", "revoke", "--serial", "0x00Ab",
                                             "--reason", "card lost")).stdout
    assert "of that issuer" in assert_ok(csms(
        "certs", "revoke", "--file", str(tmp_path / "leaf.pem"), "--issuer-file",
        str(tmp_path / "ca.pem"))).stdout
    data = hash_data(leaf.certificate, ca.certificate, "SHA384").to_wire()
    assert_ok(csms("certs", "revoke", "--hash-data", json.dumps(data)))
    entries = json.loads(assert_ok(csms("certs", "revocations", "--json")).stdout)
    assert [e["serial_number"] for e in entries] == [
        "ab", describe(leaf.certificate).serial_number, data["serialNumber"]]
    assert entries[1]["issuer_key_hash"] == hash_data(leaf.certificate,
                                                      ca.certificate).issuer_key_hash
    assert entries[2]["hash_algorithm"] == "SHA384"
    assert_ok(csms("certs", "revocations", "--remove", str(entries[0]["id"])))
    assert "card lost" not in assert_ok(csms("certs", "revocations")).stdout


@pytest.mark.parametrize(("args", "code", "fragment"), [
    ((), 2, "give exactly one"),
    (("--serial", "1", "--file", "x.pem"), 2, "give exactly one"),
    (("--serial", "xyz"), 2, "--serial"),
    (("--hash-data", "{"), 2, "--hash-data"),
    (("--hash-data", '{"hashAlgorithm": "SHA1"}'), 2, "--hash-data"),
    (("--file", "/nonexistent.pem"), 2, "--file"),
])
def test_revoke_errors(csms: Invoke, args: tuple[str, ...], code: int, fragment: str) -> None:
    assert_error(csms("certs", "revoke", *args), code, fragment)


def test_removing_an_unknown_revocation(csms: Invoke) -> None:
    assert_error(csms("certs", "revocations", "--remove", "7"), 3, "no revocation entry 7")

"""``csms certs``: the development PKI from the command line."""

from __future__ import annotations

from pathlib import Path

from cryptography import x509
from cryptography.x509.oid import NameOID

from tests.cli.conftest import assert_error, assert_ok, run_cli


def common_name(path: Path) -> str:
    cert = x509.load_pem_x509_certificate(path.read_bytes())
    return cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value


def test_init_then_station_writes_a_chain_with_the_identity_as_cn(tmp_path: Path) -> None:
    out = assert_ok(run_cli("certs", "init", "--dir", str(tmp_path))).stdout
    assert {Path(line).name for line in out.split()} == {
        "ca.pem", "ca.key", "server.pem", "server.key"}
    assert (tmp_path / "ca.key").stat().st_mode & 0o077 == 0
    assert_ok(run_cli("certs", "station", "CP-7", "--dir", str(tmp_path)))
    assert common_name(tmp_path / "CP-7.pem") == "CP-7"
    ca = x509.load_pem_x509_certificate((tmp_path / "ca.pem").read_bytes())
    station = x509.load_pem_x509_certificate((tmp_path / "CP-7.pem").read_bytes())
    station.verify_directly_issued_by(ca)


def test_existing_ca_is_kept_unless_forced(tmp_path: Path) -> None:
    assert_ok(run_cli("certs", "init", "--dir", str(tmp_path)))
    before = (tmp_path / "ca.pem").read_bytes()
    assert_error(run_cli("certs", "init", "--dir", str(tmp_path)), 8, "--force")
    assert (tmp_path / "ca.pem").read_bytes() == before
    assert_ok(run_cli("certs", "init", "--dir", str(tmp_path), "--force"))
    assert (tmp_path / "ca.pem").read_bytes() != before


def test_station_errors_name_the_argument(tmp_path: Path) -> None:
    assert_error(run_cli("certs", "station", "CP-1", "--dir", str(tmp_path)), 2, "--dir",
                 "certs init")
    assert_ok(run_cli("certs", "init", "--dir", str(tmp_path)))
    assert_error(run_cli("certs", "station", "a:b", "--dir", str(tmp_path)), 2, "STATION_ID")

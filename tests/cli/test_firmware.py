"""``csms firmware``: wrong arguments are one line and exit 2; unknown stations exit 3;
status and campaigns of an empty database."""

from __future__ import annotations

from pathlib import Path

from tests.cli.conftest import Invoke, assert_error, assert_ok


def test_update_argument_errors(csms: Invoke, tmp_path: Path):
    pem = tmp_path / "cert.pem"
    pem.write_text("not a certificate")
    assert_error(csms("firmware", "update", "CP-1", "--location", "https://fw/x.bin",
                      "--signature", "c2ln"), 2, "--signature and --signing-certificate")
    assert_error(csms("firmware", "update", "CP-1", "--location", "https://fw/x.bin",
                      "--signature", "c2ln", "--signing-certificate", str(pem)), 2,
                 "--signing-certificate", "not a PEM certificate")
    assert_error(csms("firmware", "update", "CP-1", "CP-1", "--location", "https://fw/x"), 2,
                 "ID: CP-1 is given twice")
    assert_error(csms("firmware", "update", "CP-1", "--location", "https://fw/x",
                      "--retrieve-at", "+2h", "--install-at", "+1h"), 2, "--install-at")
    assert_error(csms("firmware", "update", "CP-1", "--location", "https://fw/x",
                      "--retrieve-at", "tomorrowish"), 2, "--retrieve-at")
    assert_error(csms("firmware", "update", "CP-1", "--location", "https://fw/x",
                      "--queue-for", "0s"), 2, "--queue-for")


def test_update_of_an_unknown_station_sends_nothing(csms: Invoke):
    assert_error(csms("firmware", "update", "NOPE", "--location", "https://fw/x.bin"), 3,
                 "NOPE")
    assert assert_ok(csms("firmware", "campaigns")).stdout.strip() == "(no campaigns)"


def test_status_of_nothing(csms: Invoke):
    assert assert_ok(csms("firmware", "status")).stdout.strip() == "(no firmware updates)"
    assert assert_ok(csms("firmware", "status", "--json")).stdout.strip() == "[]"
    assert_error(csms("firmware", "status", "--campaign", "7"), 3, "no campaign 7")
    assert_error(csms("firmware", "status", "--station", "NOPE"), 3, "unknown station NOPE")

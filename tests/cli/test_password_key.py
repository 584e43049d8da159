"""``csms password-key rotate|status``: the password key file as an operator handles it."""

from __future__ import annotations

import json
import os
from pathlib import Path

from csms.security.password_key import load_keys
from csms.store.passwords import hash_password
from csms.store.stations import register_station, store_password_verifiers
from tests.cli.conftest import Invoke, assert_error, assert_ok, run_cli, with_db


def test_rotate_retires_the_current_key_and_status_counts_the_stations(
    csms: Invoke, database_url: str, tmp_path: Path
):
    path = tmp_path / "password-key"
    first = load_keys(path, create=True)
    stored = hash_password("a-password-of-16+", log2_n=10)

    async def seed(db):
        for i in range(3):
            await register_station(db, f"CP-{i}", None, password_hash=stored)
        await store_password_verifiers(db, [
            (f"CP-{i}", stored, first.verifier(f"CP-{i}", "a-password-of-16+", stored))
            for i in range(2)])

    with_db(database_url, seed)
    out = assert_ok(run_cli("password-key", "rotate", "--password-key-file", str(path)))
    second = load_keys(path)
    assert second.retired == (first.current,)
    assert second.current_id in out.stdout and first.current_id in out.stdout
    status = json.loads(assert_ok(csms("password-key", "status", "--password-key-file",
                                       str(path), "--json")).stdout)
    assert status["current_key"] == second.current_id
    assert status["retired_keys"] == [first.current_id]
    assert status["stations"] == {"current_key": 0, "retired_keys": 2, "unknown_key": 0,
                                  "no_verifier": 1}
    # Rotating again with --keep 0: the first key is gone, its verifiers are unknown.
    assert_ok(run_cli("password-key", "rotate", "--password-key-file", str(path),
                      "--keep", "0"))
    status = json.loads(assert_ok(csms("password-key", "status", "--password-key-file",
                                       str(path), "--json")).stdout)
    assert status["retired_keys"] == []
    assert status["stations"]["unknown_key"] == 2


def test_a_missing_or_open_key_file_is_one_line_naming_the_option(tmp_path: Path):
    path = tmp_path / "password-key"
    assert_error(run_cli("password-key", "rotate", "--password-key-file", str(path)), 2,
                 "--password-key-file", "does not exist")
    load_keys(path, create=True)
    os.chmod(path, 0o640)
    assert_error(run_cli("password-key", "rotate", "--password-key-file", str(path)), 2,
                 "--password-key-file", "chmod 600")


def test_serve_refuses_a_key_file_open_to_others(tmp_path: Path):
    path = tmp_path / "password-key"
    load_keys(path, create=True)
    os.chmod(path, 0o604)
    assert_error(run_cli("serve", "--port", "0", "--data-dir", str(tmp_path),
                         "--database-url", "postgresql://127.0.0.1:1/none",
                         "--password-key-file", str(path)), 2, "chmod 600")


def test_stations_set_up_with_the_key_at_hand_get_their_verifiers_at_once(
    csms: Invoke, database_url: str, tmp_path: Path, monkeypatch
):
    from csms.security.password_key import VerifierCheck
    from csms.store.stations import get_station_credentials

    path = tmp_path / "password-key"
    keys = load_keys(path, create=True)
    monkeypatch.setenv("CSMS_PASSWORD_KEY_FILE", str(path))
    assert_ok(csms("stations", "import", "--id-prefix", "IMP-", "--count", "2",
                   "--password", "fleet-password-0001"))
    assert_ok(csms("stations", "add", "ADD-1", "--password", "an-own-password-002"))
    for station, password in (("IMP-1", "fleet-password-0001"), ("IMP-2", "fleet-password-0001"),
                              ("ADD-1", "an-own-password-002")):
        known = with_db(database_url, lambda db, s=station: get_station_credentials(db, s))
        assert keys.check(station, password, known.password_hash,
                          known.password_verifier) is VerifierCheck.MATCH, station
    # Without a key file nothing is stored: the first login pays scrypt and stores it.
    monkeypatch.setenv("CSMS_PASSWORD_KEY_FILE", str(tmp_path / "absent"))
    assert_ok(csms("stations", "add", "ADD-2", "--password", "an-own-password-002"))
    known = with_db(database_url, lambda db: get_station_credentials(db, "ADD-2"))
    assert known.password_verifier is None

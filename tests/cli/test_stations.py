"""``csms stations``: add, list, show, remove, set-password against the real database."""

from __future__ import annotations

import csv
import json
import stat
from datetime import UTC, datetime
from pathlib import Path

import asyncpg

from csms.store.charging import store_charging_needs
from csms.store.passwords import CHOSEN_LOG2_N, GENERATED_LOG2_N, verify_password
from csms.store.reports import store_security_event
from csms.store.stations import (
    get_station_credentials,
    mark_connected,
    record_boot,
    record_connector_status,
)
from tests.cli.conftest import Invoke, assert_error, assert_ok, with_db

PASSWORD = "correct-horse-battery"


def test_add_then_list_shows_the_station(csms: Invoke) -> None:
    out = assert_ok(csms("stations", "add", "CP-1", "--password", PASSWORD)).stdout
    assert "CP-1" in out
    listed = json.loads(assert_ok(csms("stations", "list", "--json")).stdout)
    assert [s["id"] for s in listed] == ["CP-1"]
    assert listed[0]["security_profile"] == 1
    assert listed[0]["connected"] is False
    table = assert_ok(csms("stations", "list")).stdout.splitlines()
    assert table[0].split()[:2] == ["ID", "STATE"]
    assert table[1].split()[:2] == ["CP-1", "offline"]


def test_list_empty(csms: Invoke) -> None:
    assert assert_ok(csms("stations", "list")).stdout.strip() == "no stations"
    assert json.loads(assert_ok(csms("stations", "list", "--json")).stdout) == []


def test_add_stores_only_a_hash_that_verifies(csms: Invoke, database_url: str) -> None:
    assert_ok(csms("stations", "add", "CP-2", "--password", PASSWORD, "--security-profile", "2"))
    creds = with_db(database_url, lambda db: get_station_credentials(db, "CP-2"))
    assert creds.security_profile == 2
    assert PASSWORD not in creds.password_hash
    assert verify_password(PASSWORD, creds.password_hash)


def test_profile_3_needs_no_password(csms: Invoke) -> None:
    assert_ok(csms("stations", "add", "CP-TLS", "--security-profile", "3"))


def test_add_twice_is_a_conflict(csms: Invoke) -> None:
    assert_ok(csms("stations", "add", "CP-1", "--password", PASSWORD))
    assert_error(csms("stations", "add", "CP-1", "--password", PASSWORD), 8, "already exists")


def test_add_refuses_bad_arguments(csms: Invoke) -> None:
    assert_error(csms("stations", "add", "CP-1", "--password", "short"), 2, "--password", "16")
    assert_error(csms("stations", "add", "CP-1", "--password", "x" * 41), 2, "--password")
    assert_error(csms("stations", "add", "CP-1"), 2, "--password", "required")
    assert_error(csms("stations", "add", "CP:1", "--password", PASSWORD), 2, "ID", "colon")
    # The server's rule: a space could never reach it in the URL path, so it is refused here.
    assert_error(csms("stations", "add", "CP 1", "--password", PASSWORD), 2, "ID", "spaces")
    assert_error(csms("stations", "add", "C" * 49, "--password", PASSWORD), 2, "ID", "48")
    assert_error(
        csms("stations", "add", "CP-1", "--password", PASSWORD, "--security-profile", "4"),
        2,
        "--security-profile",
    )
    assert_error(csms("stations", "add", "--password", PASSWORD), 2, "ID")
    # nothing was stored by any of the refused commands
    assert json.loads(assert_ok(csms("stations", "list", "--json")).stdout) == []


def test_show_reports_boot_connectors_and_connection(csms: Invoke, database_url: str) -> None:
    assert_ok(csms("stations", "add", "CP-1", "--password", PASSWORD))

    async def seed(db: asyncpg.Pool) -> None:
        await record_boot(
            db, "CP-1", status="Accepted", reason="PowerUp", vendor_name="Acme", model="V2G-11"
        )
        await record_connector_status(db, "CP-1", 1, 1, "Occupied", datetime.now(UTC))
        await mark_connected(db, "CP-1", "node-a", "ocpp2.1", "127.0.0.1")

    with_db(database_url, seed)
    data = json.loads(assert_ok(csms("stations", "show", "CP-1", "--json")).stdout)
    assert data["vendor_name"] == "Acme"
    assert data["subprotocol"] == "ocpp2.1"
    assert data["connectors"][0]["status"] == "Occupied"
    text = assert_ok(csms("stations", "show", "CP-1")).stdout
    assert "model: V2G-11" in text
    assert "Occupied" in text
    assert "active transactions: none" in text
    assert "no charging needs reported" in text
    assert data["charging_needs"] == []


def test_show_unknown_station(csms: Invoke) -> None:
    assert_error(csms("stations", "show", "nope"), 3, "unknown station", "nope")
    assert_error(csms("stations", "show", "nope", "--json"), 3, "unknown station")


def test_show_gives_the_latest_charging_needs_of_each_evse(csms: Invoke,
                                                           database_url: str) -> None:
    assert_ok(csms("stations", "add", "CP-1", "--password", PASSWORD))
    departure = datetime(2026, 6, 1, 21, tzinfo=UTC)

    def dc(energy_wh: int) -> dict:
        return {"evMaxCurrent": 125, "evMaxVoltage": 400, "energyAmount": energy_wh}

    ac = {"energyAmount": 11000, "evMinCurrent": 6, "evMaxCurrent": 16, "evMaxVoltage": 400}

    async def seed(db: asyncpg.Pool) -> None:
        await store_charging_needs(db, "CP-1", 1, {"requestedEnergyTransfer": "DC",
                                                   "dcChargingParameters": dc(8000)}, None, None)
        await store_charging_needs(db, "CP-1", 1, {"requestedEnergyTransfer": "DC_BPT",
                                                   "dcChargingParameters": dc(20000)},
                                   3, departure)
        await store_charging_needs(db, "CP-1", 2, {"requestedEnergyTransfer": "AC_three_phase",
                                                   "acChargingParameters": ac}, None, None)

    with_db(database_url, seed)
    data = json.loads(assert_ok(csms("stations", "show", "CP-1", "--json")).stdout)
    needs = data["charging_needs"]
    assert [(n["evse_id"], n["requested_energy_transfer"]) for n in needs] == [
        (1, "DC_BPT"), (2, "AC_three_phase")]
    assert needs[0]["departure_time"] == "2026-06-01T21:00:00+00:00"
    assert needs[0]["max_schedule_tuples"] == 3
    assert needs[0]["charging_needs"]["dcChargingParameters"]["energyAmount"] == 20000
    lines = assert_ok(csms("stations", "show", "CP-1")).stdout.splitlines()
    header = next(i for i, line in enumerate(lines) if line.startswith("EVSE ID  TRANSFER"))
    assert lines[header + 1].split()[:4] == ["1", "DC_BPT", "2026-06-01T21:00:00+00:00", "20000"]
    assert lines[header + 2].split()[:3] == ["2", "AC_three_phase", "11000"]


def test_security_events_are_listed_newest_first(csms: Invoke, database_url: str) -> None:
    assert_ok(csms("stations", "add", "CP-1", "--password", PASSWORD))
    assert assert_ok(csms("stations", "security-events", "CP-1")).stdout.strip() == (
        "no security events")

    async def seed(db: asyncpg.Pool) -> None:
        await store_security_event(db, "CP-1", "StartupOfTheDevice",
                                   datetime(2026, 6, 1, 16, tzinfo=UTC), None)
        await store_security_event(db, "CP-1", "InvalidCsmsCertificate",
                                   datetime(2026, 6, 1, 17, tzinfo=UTC), "expired")

    with_db(database_url, seed)
    events = json.loads(assert_ok(csms("stations", "security-events", "CP-1", "--json")).stdout)
    assert [(e["type"], e["tech_info"]) for e in events] == [
        ("InvalidCsmsCertificate", "expired"), ("StartupOfTheDevice", None)]
    assert events[0]["timestamp"] == "2026-06-01T17:00:00+00:00"
    lines = assert_ok(csms("stations", "security-events", "CP-1", "--limit", "1")).stdout
    assert lines.splitlines()[0].split()[:3] == ["TIMESTAMP", "TYPE", "TECH"]
    assert [line.split()[1] for line in lines.splitlines()[1:]] == ["InvalidCsmsCertificate"]
    assert_error(csms("stations", "security-events", "nope"), 3, "unknown station", "nope")
    assert_error(csms("stations", "security-events", "CP-1", "--limit", "0"), 2, "--limit")


def test_remove(csms: Invoke) -> None:
    assert_ok(csms("stations", "add", "CP-1", "--password", PASSWORD))
    assert_ok(csms("stations", "remove", "CP-1"))
    assert_error(csms("stations", "show", "CP-1"), 3)
    assert_error(csms("stations", "remove", "CP-1"), 3, "unknown station")


def test_set_password_offline_replaces_the_hash(csms: Invoke, database_url: str) -> None:
    assert_ok(csms("stations", "add", "CP-1", "--password", PASSWORD))
    new = "another-password-1234"
    # An offline station cannot be told: the stored hash changes only when asked explicitly.
    assert_error(csms("stations", "set-password", "CP-1", "--password", new), 4, "--offline")
    creds = with_db(database_url, lambda db: get_station_credentials(db, "CP-1"))
    assert verify_password(PASSWORD, creds.password_hash)
    assert_ok(csms("stations", "set-password", "CP-1", "--password", new, "--offline"))
    creds = with_db(database_url, lambda db: get_station_credentials(db, "CP-1"))
    assert verify_password(new, creds.password_hash)
    assert not verify_password(PASSWORD, creds.password_hash)


def test_set_password_errors(csms: Invoke) -> None:
    assert_error(csms("stations", "set-password", "CP-9", "--password", PASSWORD), 3, "CP-9")
    assert_error(csms("stations", "set-password", "CP-9", "--password", "tiny"), 2, "--password")
    assert_error(csms("stations", "set-password", "CP-9"), 2, "--password")


def test_import_registers_a_fleet_and_skips_existing(csms: Invoke, database_url: str) -> None:
    assert_ok(csms("stations", "add", "SIM2", "--password", "another-password-99"))
    out = assert_ok(csms("stations", "import", "--id-prefix", "SIM", "--count", "3",
                         "--password", PASSWORD)).stdout
    assert "2 stations added, 1 skipped" in out
    credentials = with_db(database_url, lambda db: get_station_credentials(db, "SIM3"))
    assert verify_password(PASSWORD, credentials.password_hash)
    # The existing station keeps its own password.
    kept = with_db(database_url, lambda db: get_station_credentials(db, "SIM2"))
    assert verify_password("another-password-99", kept.password_hash)


def test_import_refuses_a_bad_password_and_registers_nothing(csms: Invoke) -> None:
    assert_error(csms("stations", "import", "--id-prefix", "SIM", "--count", "3",
                      "--password", "short"), 2, "--password")
    assert json.loads(assert_ok(csms("stations", "list", "--json")).stdout) == []


def _cost(stored_hash: str) -> int:
    return int(stored_hash.split("$")[1])


def test_add_with_a_generated_password_prints_it_once_and_hashes_it_at_the_generated_cost(
        csms: Invoke, database_url: str) -> None:
    out = assert_ok(csms("stations", "add", "CP-G", "--generate-password")).stdout
    password = out.split("password: ", 1)[1].split()[0]
    assert len(password) == 32
    creds = with_db(database_url, lambda db: get_station_credentials(db, "CP-G"))
    assert verify_password(password, creds.password_hash)
    assert _cost(creds.password_hash) == GENERATED_LOG2_N
    # A password a person chose keeps the full cost.
    assert_ok(csms("stations", "add", "CP-H", "--password", PASSWORD))
    chosen = with_db(database_url, lambda db: get_station_credentials(db, "CP-H"))
    assert _cost(chosen.password_hash) == CHOSEN_LOG2_N
    assert_error(csms("stations", "add", "CP-X", "--password", PASSWORD, "--generate-password"),
                 2, "--generate-password", "not both")


def test_import_with_generated_passwords_writes_them_for_the_installer(
        csms: Invoke, database_url: str, tmp_path: Path) -> None:
    assert_ok(csms("stations", "add", "GEN2", "--password", "another-password-99"))
    target = tmp_path / "fleet-passwords.csv"
    out = assert_ok(csms("stations", "import", "--id-prefix", "GEN", "--count", "4",
                         "--generate-passwords", str(target))).stdout
    assert "3 stations added, 1 skipped" in out
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    with target.open(newline="") as f:
        rows = list(csv.DictReader(f))
    assert [r["station_id"] for r in rows] == ["GEN1", "GEN3", "GEN4"]  # not the skipped one
    assert len({r["password"] for r in rows}) == 3
    for row in rows:
        creds = with_db(database_url, lambda db, i=row["station_id"]:
                        get_station_credentials(db, i))
        assert verify_password(row["password"], creds.password_hash)
        assert _cost(creds.password_hash) == GENERATED_LOG2_N
    # The file is never overwritten, and one password source is required.
    assert_error(csms("stations", "import", "--id-prefix", "NEW", "--count", "1",
                      "--generate-passwords", str(target)), 2, "--generate-passwords", "exists")
    assert_error(csms("stations", "import", "--id-prefix", "NEW", "--count", "1"),
                 2, "--password")
    assert_error(csms("stations", "import", "--id-prefix", "NEW", "--count", "1",
                      "--password", PASSWORD, "--generate-passwords", str(tmp_path / "x.csv")),
                 2, "--password")
    assert not (tmp_path / "x.csv").exists()


def test_set_password_offline_with_a_generated_password(csms: Invoke, database_url: str) -> None:
    assert_ok(csms("stations", "add", "CP-O", "--password", PASSWORD))
    out = assert_ok(csms("stations", "set-password", "CP-O", "--generate", "--offline")).stdout
    password = out.split("password: ", 1)[1].split()[0]
    creds = with_db(database_url, lambda db: get_station_credentials(db, "CP-O"))
    assert verify_password(password, creds.password_hash)
    assert not verify_password(PASSWORD, creds.password_hash)
    assert _cost(creds.password_hash) == GENERATED_LOG2_N


def test_import_with_an_id_format(csms: Invoke, database_url: str) -> None:
    out = assert_ok(csms("stations", "import", "--id-format", "CS-KEBA-OCPP2-{:05d}",
                         "--count", "3", "--password", PASSWORD)).stdout
    assert "3 stations added" in out and "CS-KEBA-OCPP2-00001 .. CS-KEBA-OCPP2-00003" in out
    listed = json.loads(assert_ok(csms("stations", "list", "--json")).stdout)
    assert [s["id"] for s in listed] == [f"CS-KEBA-OCPP2-{n:05d}" for n in (1, 2, 3)]
    # the prefix goes before the formatted number, and --first still counts from there
    assert_ok(csms("stations", "import", "--id-prefix", "KEBA-", "--id-format", "{:03d}",
                   "--first", "9", "--count", "2", "--password", PASSWORD))
    creds = with_db(database_url, lambda db: get_station_credentials(db, "KEBA-010"))
    assert verify_password(PASSWORD, creds.password_hash)


def test_import_refuses_bad_id_formats_and_registers_nothing(csms: Invoke) -> None:
    base = ("stations", "import", "--count", "3", "--password", PASSWORD)
    for fmt, fragment in (("CS-{", "not a format string"),
                          ("CS-1", "does not use the station number"),
                          ("CS-{name}", "other than the station number"),
                          ("CS-{:s}", "cannot format a whole number"),
                          ("CS-{!s:.0}", "gives the identity CS- more than once"),
                          ("CS:{}", "colon"),
                          ("CS-{:050d}", "48 characters")):
        line = assert_error(csms(*base, "--id-format", fmt), 2, "--id-format", fragment)
        assert "'" not in line
    assert_error(csms("stations", "import", "--count", "3", "--password", PASSWORD), 2,
                 "--id-prefix", "--id-format")
    assert json.loads(assert_ok(csms("stations", "list", "--json")).stdout) == []


def test_import_with_a_security_profile(csms: Invoke, database_url: str) -> None:
    assert_ok(csms("stations", "import", "--id-prefix", "TLS-", "--count", "2",
                   "--password", PASSWORD, "--security-profile", "2"))
    creds = with_db(database_url, lambda db: get_station_credentials(db, "TLS-2"))
    assert creds.security_profile == 2
    assert verify_password(PASSWORD, creds.password_hash)
    # profile 3 (mutual TLS) needs no password; profiles 1 and 2 do
    assert_ok(csms("stations", "import", "--id-prefix", "MTLS-", "--count", "2",
                   "--security-profile", "3"))
    creds = with_db(database_url, lambda db: get_station_credentials(db, "MTLS-1"))
    assert creds.security_profile == 3 and creds.password_hash is None
    assert_error(csms("stations", "import", "--id-prefix", "X-", "--count", "2",
                      "--security-profile", "2"), 2, "--password", "security profile 2")
    for bad in ("0", "4", "two"):
        assert_error(csms("stations", "import", "--id-prefix", "X-", "--count", "2",
                          "--password", PASSWORD, "--security-profile", bad),
                     2, "--security-profile")

"""``csms stations set-boot``: arguments, the stored status and the default, offline stations."""

from __future__ import annotations

import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from csms.store import stations
from tests.cli.conftest import (
    Invoke,
    assert_error,
    assert_never_a_traceback,
    assert_ok,
    run_cli,
    with_db,
)
from tests.cli.test_random_arguments import WORDS

PASSWORD = "correct-horse-battery"


def test_wrong_arguments_name_what_is_wrong(csms: Invoke) -> None:
    assert_error(csms("stations", "set-boot"), 2, "ID --status")
    assert_error(csms("stations", "set-boot", "CP-1"), 2, "ID --status")
    assert_error(csms("stations", "set-boot", "--status", "Accepted"), 2, "ID --status")
    assert_error(csms("stations", "set-boot", "CP-1", "--status", "Maybe"), 2,
                 "--status: Maybe is not one of Accepted, Pending, Rejected")
    assert_error(csms("stations", "set-boot", "--default", "Soon"), 2, "--default: Soon")
    assert_error(csms("stations", "set-boot", "CP-1", "--default", "Pending"), 2,
                 "--default", "without ID")
    assert_error(csms("stations", "set-boot", "nobody", "--status", "Accepted"), 3,
                 "unknown station nobody")


def test_an_offline_station_gets_its_status_at_its_next_boot(csms: Invoke,
                                                             database_url: str) -> None:
    assert_ok(csms("stations", "add", "CP-1", "--password", PASSWORD))
    out = assert_ok(csms("stations", "set-boot", "CP-1", "--status", "pending")).stdout
    assert out.strip() == "CP-1: Pending from its next BootNotification (it has not booted yet)"
    data = json.loads(assert_ok(csms("stations", "set-boot", "CP-1", "--status", "Accepted",
                                     "--json")).stdout)
    assert data["registration_status"] == "Accepted" and data["effect"] == "next-boot"
    assert data["trigger"] is None and data["connected"] is False
    shown = json.loads(assert_ok(csms("stations", "show", "CP-1", "--json")).stdout)
    assert shown["registration_status"] == "Accepted"
    assert "registration_status: Accepted" in assert_ok(csms("stations", "show", "CP-1")).stdout


def test_the_default_for_new_stations_is_stored(csms: Invoke, database_url: str) -> None:
    out = assert_ok(csms("stations", "set-boot", "--default", "Pending")).stdout
    assert out.strip() == "new stations: Pending at their first BootNotification"
    assert json.loads(assert_ok(csms("stations", "set-boot", "--default", "Rejected",
                                     "--json")).stdout) == {"default": "Rejected"}
    stored = "SELECT registration_status FROM boot_defaults"
    assert with_db(database_url, lambda db: db.fetchval(stored)) == "Rejected"
    assert_ok(csms("stations", "add", "CP-2", "--password", PASSWORD))
    detail = with_db(database_url, lambda db: stations.get_station(db, "CP-2"))
    assert detail.registration_status == "Rejected"


COMMANDS = [(["stations", "set-boot"], ["--timeout", "0.2"]),
            (["stations", "set-boot", "CP-1"], ["--timeout", "0.2"])]
OPTIONS_HERE = ["--status", "--default", "--trigger", "--no-trigger", "Accepted", "Pending",
                "Rejected", "--json"]




@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(command=st.sampled_from(COMMANDS), words=st.lists(st.one_of(WORDS, st.sampled_from(
    OPTIONS_HERE)), max_size=6))
def test_random_arguments_never_a_traceback(with_station: str,
                                            command: tuple[list[str], list[str]],
                                            words: list[str]) -> None:
    prefix, suffix = command
    result = run_cli(*prefix, *words, *suffix, "--database-url", with_station)
    assert_never_a_traceback(result)

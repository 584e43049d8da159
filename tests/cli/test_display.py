"""``csms display``: wrong arguments name what is wrong; the stored record lists without a
station; a station that is not connected is said to be so."""

from __future__ import annotations

import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from csms.store.display import DisplayMessage, record_set
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


def test_wrong_arguments(csms: Invoke) -> None:
    assert_error(csms("display", "set", "CP-1"), 2, "--message")
    assert_error(csms("display", "set", "CP-1", "--message", "hi", "--priority", "Top"), 2,
                 "--priority: Top is not one of AlwaysFront, InFront, NormalCycle")
    assert_error(csms("display", "set", "CP-1", "--message", "hi", "--format", "PDF"), 2,
                 "--format: PDF is not one of ASCII, HTML, URI, UTF8, QRCODE")
    assert_error(csms("display", "set", "CP-1", "--message", "hi", "--state", "Asleep"), 2,
                 "--state: Asleep")
    assert_error(csms("display", "set", "CP-1", "--message", "hi", "--until", "-1h"), 2,
                 "--until: must be later")
    assert_error(csms("display", "set", "CP-1", "--message", "hi", "--id", "-1"), 2, "--id")
    assert_error(csms("display", "get", "CP-1", "--priority", "x"), 2, "--priority")
    assert_error(csms("display", "clear", "CP-1", "one"), 2, "MESSAGE_ID")


def test_unknown_and_offline_stations(csms: Invoke) -> None:
    assert_error(csms("display", "set", "nobody", "--message", "hi"), 3,
                 "unknown station nobody")
    assert_ok(csms("stations", "add", "CP-1", "--password", PASSWORD))
    # never connected: the message is checked against every version it could speak
    assert_error(csms("display", "set", "CP-1", "--message", "x" * 600), 2,
                 "--message: at most 512 characters in OCPP 2.0.1")
    assert_error(csms("display", "set", "CP-1", "--message", "hi"), 4, "not connected")
    assert_error(csms("display", "get", "CP-1"), 4, "not connected")
    assert_error(csms("display", "clear", "CP-1", "1"), 4, "not connected")


def test_list_shows_the_record(csms: Invoke, database_url: str) -> None:
    assert_error(csms("display", "list", "CP-1"), 3, "unknown station CP-1")
    assert_ok(csms("stations", "add", "CP-1", "--password", PASSWORD))
    assert assert_ok(csms("display", "list", "CP-1")).stdout.strip() == "no messages"
    with_db(database_url, lambda db: record_set(db, "CP-1", DisplayMessage(
        "Welcome", "InFront", id=4)))
    text = assert_ok(csms("display", "list", "CP-1")).stdout
    assert "Welcome" in text and "InFront" in text and "operator" in text
    [row] = json.loads(assert_ok(csms("display", "list", "CP-1", "--json")).stdout)
    assert (row["id"], row["status"], row["content"]) == (4, "active", "Welcome")


COMMANDS = [(["display", "set", "CP-1"], ["--timeout", "0.2"]),
            (["display", "get", "CP-1"], ["--timeout", "0.2"]),
            (["display", "clear", "CP-1"], ["--timeout", "0.2"]), (["display", "list"], []),
            (["display", "set"], ["--timeout", "0.2"])]
OPTIONS_HERE = ["--message", "--priority", "--state", "--format", "--from", "--until",
                "--transaction", "--language", "--id", "--all", "--json", "AlwaysFront",
                "Charging", "HTML"]




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

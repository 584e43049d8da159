"""``csms reservations``: arguments, refusals before sending, and the record of a reservation
that could not reach its station."""

from __future__ import annotations

import json

import pytest

from csms.cli.errors import ExitCode
from csms.store.stations import register_station
from csms.store.tokens import add_token
from tests.cli.conftest import Invoke, assert_error, assert_ok, with_db


@pytest.fixture
def offline(database_url: str) -> str:
    """CP-1 is registered and not connected; token DRIVER is known."""

    async def seed(db) -> None:
        await register_station(db, "CP-1", "correct-horse-battery")
        await add_token(db, "DRIVER")
        await add_token(db, "LOST", status="Blocked")

    with_db(database_url, seed)
    return "CP-1"


@pytest.mark.parametrize(("args", "fragment"), [
    (["--expires-in", "1h", "--expires-at", "+2h"], "--expires-in / --expires-at"),
    (["--expires-at", "2020-01-01T00:00:00Z"], "--expires-at: 2020-01-01T00:00:00Z is not in"),
    (["--expires-in", "0"], "--expires-in: must be longer than zero"),
    (["--expires-in", "soon"], "--expires-in"),
    (["--evse", "0"], "--evse"),
    (["--token-type", "X" * 21], "--token-type"),
])
def test_create_refuses_wrong_arguments(csms: Invoke, offline: str, args: list[str],
                                        fragment: str) -> None:
    assert_error(csms("reservations", "create", offline, "--token", "DRIVER", *args),
                 ExitCode.USAGE, fragment)


def test_create_refuses_tokens_the_csms_would_not_authorize(csms: Invoke, offline: str) -> None:
    assert_error(csms("reservations", "create", offline, "--token", "STRANGER"),
                 ExitCode.USAGE, "token STRANGER (ISO14443) is not known to the CSMS")
    assert_error(csms("reservations", "create", offline, "--token", "LOST"),
                 ExitCode.USAGE, "token LOST (ISO14443) is Blocked")
    assert_error(csms("reservations", "create", "NOPE", "--token", "DRIVER"),
                 ExitCode.NOT_FOUND, "unknown station NOPE")


def test_a_reservation_for_an_offline_station_is_kept_as_failed(csms: Invoke,
                                                               offline: str) -> None:
    result = csms("reservations", "create", offline, "--token", "DRIVER", "--evse", "1",
                  "--json")
    assert_error(result, ExitCode.OFFLINE, "reservation 1: station CP-1 is not connected")
    assert json.loads(result.stdout)["status"] == "Failed"
    [row] = json.loads(assert_ok(csms("reservations", "list", "--json")).stdout)
    assert (row["id"], row["status"], row["evse_id"]) == (1, "Failed", 1)
    assert json.loads(assert_ok(csms("reservations", "list", "--active", "--json")).stdout) == []
    assert "Failed" in assert_ok(csms("reservations", "show", "1")).stdout
    assert_error(csms("reservations", "cancel", "1"), ExitCode.USAGE,
                 "reservation 1 is Failed, not active")


def test_unknown_reservations(csms: Invoke) -> None:
    assert assert_ok(csms("reservations", "list")).stdout.strip() == "no reservations"
    assert_error(csms("reservations", "show", "5"), ExitCode.NOT_FOUND, "unknown reservation 5")
    assert_error(csms("reservations", "cancel", "5"), ExitCode.NOT_FOUND,
                 "unknown reservation 5")

"""``csms local-list``: arguments and the failures that need no station online."""

from __future__ import annotations

import json

import pytest

from csms.cli.errors import ExitCode
from csms.store.stations import register_station
from tests.cli.conftest import Invoke, assert_error, assert_ok, with_db


@pytest.fixture
def offline(database_url: str) -> str:
    """CP-1 is registered and not connected."""
    with_db(database_url, lambda db: register_station(db, "CP-1", "correct-horse-battery"))
    return "CP-1"


def test_send_needs_full_or_diff(csms: Invoke) -> None:
    assert_error(csms("local-list", "send", "CP-1"), ExitCode.USAGE, "--full")


def test_send_to_an_unknown_station(csms: Invoke) -> None:
    assert_error(csms("local-list", "send", "NOPE", "--full"), ExitCode.NOT_FOUND,
                 "unknown station NOPE")


def test_send_to_an_offline_station(csms: Invoke, offline: str) -> None:
    line = assert_error(csms("local-list", "send", offline, "--diff", "--timeout", "1"),
                        ExitCode.OFFLINE, "station CP-1 is not connected")
    assert "'" not in line and "None" not in line


def test_several_stations_fail_in_one_line(csms: Invoke, offline: str) -> None:
    result = csms("local-list", "send", offline, "NOPE", offline, "--full", "--json")
    assert_error(result, ExitCode.OFFLINE, "2 of 2 stations failed", "NOPE")
    assert [r["station_id"] for r in json.loads(result.stdout)] == ["CP-1", "NOPE"]


def test_version_of_an_offline_station(csms: Invoke, offline: str) -> None:
    assert_error(csms("local-list", "version", offline), ExitCode.OFFLINE, "not connected")


def test_show(csms: Invoke, offline: str) -> None:
    out = assert_ok(csms("local-list", "show", offline)).stdout
    assert "version: 0" in out and "(no entries)" in out
    assert json.loads(assert_ok(csms("local-list", "show", offline, "--json")).stdout)[
        "entries"] == []
    assert_error(csms("local-list", "show", "NOPE"), ExitCode.NOT_FOUND, "unknown station NOPE")

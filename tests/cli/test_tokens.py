"""``csms tokens``: add, list, remove."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from tests.cli.conftest import Invoke, assert_error, assert_ok


def test_add_list_remove(csms: Invoke) -> None:
    assert_ok(csms("tokens", "add", "04A2B3C4", "--group", "FLEET-1"))
    assert_ok(csms("tokens", "add", "EMP-7", "--type", "eMAID", "--status", "Blocked"))
    tokens = json.loads(assert_ok(csms("tokens", "list", "--json")).stdout)
    by_token = {t["id_token"]: t for t in tokens}
    assert by_token["04A2B3C4"]["token_type"] == "ISO14443"
    assert by_token["04A2B3C4"]["status"] == "Accepted"
    assert by_token["04A2B3C4"]["group_id_token"] == "FLEET-1"
    assert by_token["EMP-7"]["token_type"] == "eMAID"
    assert by_token["EMP-7"]["status"] == "Blocked"
    table = assert_ok(csms("tokens", "list")).stdout.splitlines()
    assert table[0].split()[:3] == ["ID", "TOKEN", "TOKEN"]  # "ID TOKEN", "TOKEN TYPE" headers
    assert len(table) == 3

    assert_ok(csms("tokens", "remove", "EMP-7"))
    tokens = json.loads(assert_ok(csms("tokens", "list", "--json")).stdout)
    assert [t["id_token"] for t in tokens] == ["04A2B3C4"]


def test_add_again_updates_the_status(csms: Invoke) -> None:
    assert_ok(csms("tokens", "add", "T1"))
    assert_ok(csms("tokens", "add", "T1", "--status", "Blocked"))
    (token,) = json.loads(assert_ok(csms("tokens", "list", "--json")).stdout)
    assert token["status"] == "Blocked"


def test_expiry_accepts_iso_and_relative_times(csms: Invoke) -> None:
    assert_ok(csms("tokens", "add", "ISO", "--expires", "2030-01-02T03:04:05Z"))
    before = datetime.now(UTC)
    assert_ok(csms("tokens", "add", "REL", "--expires", "+2h"))
    tokens = {t["id_token"]: t for t in json.loads(csms("tokens", "list", "--json").stdout)}
    assert datetime.fromisoformat(tokens["ISO"]["expires_at"]) == datetime(
        2030, 1, 2, 3, 4, 5, tzinfo=UTC
    )
    rel = datetime.fromisoformat(tokens["REL"]["expires_at"])
    assert before + timedelta(hours=2) <= rel <= datetime.now(UTC) + timedelta(hours=2)


def test_remove_by_type_keeps_other_types(csms: Invoke) -> None:
    assert_ok(csms("tokens", "add", "SAME"))
    assert_ok(csms("tokens", "add", "SAME", "--type", "Central"))
    assert_error(csms("tokens", "remove", "SAME", "--type", "eMAID"), 3, "SAME", "eMAID")
    assert_ok(csms("tokens", "remove", "SAME", "--type", "Central"))
    (token,) = json.loads(assert_ok(csms("tokens", "list", "--json")).stdout)
    assert token["token_type"] == "ISO14443"


def test_token_errors(csms: Invoke) -> None:
    assert_error(csms("tokens", "add", "T1", "--status", "Happy"), 2, "--status", "Happy")
    assert_error(csms("tokens", "add", "T1", "--expires", "tomorrowish"), 2, "--expires")
    assert_error(csms("tokens", "add", "T1", "--type", "X" * 21), 2, "--type")
    assert_error(csms("tokens", "add", "X" * 256), 2, "TOKEN")
    assert_error(csms("tokens", "remove", "GHOST"), 3, "unknown token", "GHOST")
    assert_error(csms("tokens", "add"), 2, "TOKEN")
    assert json.loads(assert_ok(csms("tokens", "list", "--json")).stdout) == []


def test_empty_list(csms: Invoke) -> None:
    assert assert_ok(csms("tokens", "list")).stdout.strip() == "no tokens"

"""``csms programs add|update --display-message``: the earnings message drivers see during
events."""

from __future__ import annotations

import json

from tests.cli.conftest import Invoke, assert_error, assert_ok


def test_display_message_is_checked_stored_and_changed(csms: Invoke) -> None:
    assert_error(csms("programs", "add", "P", "--display-message", "earned {money}"), 2,
                 "--display-message: {money} is not one of {earned}, "
                 "{kwh}, {until}")
    assert_error(csms("programs", "add", "P", "--display-message", "x" * 513), 2,
                 "--display-message", "512")
    assert_ok(csms("programs", "add", "P", "--display-message",
                   "V2G event: ${earned} so far"))
    shown = json.loads(assert_ok(csms("programs", "show", "P", "--json")).stdout)
    assert shown["display_message"] == "V2G event: ${earned} so far"
    out = assert_ok(csms("programs", "update", "P", "--display-message", "{kwh} kWh given"))
    assert out.stdout.strip() == "program P: display message {kwh} kWh given"
    assert_ok(csms("programs", "update", "P", "--no-display-message"))
    shown = json.loads(assert_ok(csms("programs", "show", "P", "--json")).stdout)
    assert shown["display_message"] is None
    # replacing the program keeps what it is told, settings and message alike
    assert_ok(csms("programs", "add", "P", "--replace", "--rate-per-kwh", "0.5",
                   "--display-message", "${earned}"))
    shown = json.loads(assert_ok(csms("programs", "show", "P", "--json")).stdout)
    assert (shown["rate_per_kwh"], shown["display_message"]) == (0.5, "${earned}")


def test_update_needs_one_choice_and_a_program(csms: Invoke) -> None:
    assert_error(csms("programs", "update", "P"), 2, "--display-message")
    assert_error(csms("programs", "update", "P", "--display-message", "x",
                      "--no-display-message"), 2, "--display-message")
    assert_error(csms("programs", "update", "P", "--display-message", "{x}"), 2,
                 "--display-message: {x} is not one of")
    assert_error(csms("programs", "update", "nope", "--no-display-message"), 3,
                 "no program nope")

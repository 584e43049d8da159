"""``csms logs``, ``csms monitoring``, ``csms customer-info`` and ``csms stations events``:
wrong arguments are one line and exit 2; an unknown station exits 3."""

from __future__ import annotations

from tests.cli.conftest import Invoke, assert_error, assert_ok


def test_logs_argument_errors(csms: Invoke):
    assert_error(csms("logs", "get", "CP-1", "--type", "KernelLog"), 2, "--type")
    assert_error(csms("logs", "get", "CP-1", "--from", "+1h", "--until", "-1h"), 2, "--until")
    assert_error(csms("logs", "get", "NOPE", "--location", "http://x/y"), 3, "NOPE")
    assert assert_ok(csms("logs", "list")).stdout.strip() == "(no log requests)"


def test_logs_without_a_running_node(csms: Invoke):
    csms("stations", "add", "CP-1", "--password", "correct-horse-battery")
    assert_error(csms("logs", "get", "CP-1"), 2, "no running CSMS node accepts log uploads")


def test_monitoring_argument_errors(csms: Invoke):
    assert_error(csms("monitoring", "set", "CP-1", "--component", "EVSE@1", "--variable",
                      "Power", "--type", "Sometimes", "--value", "1", "--severity", "1"), 2,
                 "--type")
    assert_error(csms("monitoring", "set", "CP-1", "--component", "EVSE@x", "--variable",
                      "Power", "--type", "Delta", "--value", "1", "--severity", "1"), 2,
                 "--component")
    assert_error(csms("monitoring", "base", "CP-1", "Everything"), 2, "BASE")
    assert_error(csms("monitoring", "report", "CP-1", "--variable", "Power"), 2, "--component")
    assert_error(csms("monitoring", "report", "CP-1", "--criterion", "Odd"), 2, "--criterion")
    assert_error(csms("monitoring", "level", "NOPE", "3"), 3, "NOPE")


def test_customer_info_argument_errors(csms: Invoke):
    assert_error(csms("customer-info", "CP-1"), 2, "give exactly one")
    assert_error(csms("customer-info", "CP-1", "--token", "A", "--customer-id", "B"), 2,
                 "give exactly one")
    assert_error(csms("customer-info", "CP-1", "--certificate-hash", "MD5:a:b:c"), 2,
                 "--certificate-hash")
    assert_error(csms("customer-info", "NOPE", "--token", "A"), 3, "NOPE")


def test_station_events(csms: Invoke):
    assert_error(csms("stations", "events", "NOPE"), 3, "unknown station NOPE")
    csms("stations", "add", "CP-1", "--password", "correct-horse-battery")
    assert assert_ok(csms("stations", "events", "CP-1")).stdout.strip() == "(no events)"
    assert_error(csms("stations", "events", "CP-1", "--since", "soonish"), 2, "--since")

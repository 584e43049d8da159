"""``csms data``: retention settings as operators type them, and disk usage."""

from __future__ import annotations

import json

from tests.cli.conftest import Invoke, assert_error, assert_ok


def test_retention_is_stored_and_shown(csms: Invoke) -> None:
    shown = json.loads(assert_ok(csms("data", "retention", "--json")).stdout)
    assert (shown["raw"], shown["compact"], shown["rollups"]) == ("7d", "forever", "forever")
    assert_ok(csms("data", "retention", "--raw", "90d", "--compact", "2y", "--rollups", "10y"))
    shown = json.loads(assert_ok(csms("data", "retention", "--json")).stdout)
    assert (shown["raw_days"], shown["compact_days"], shown["rollup_days"]) == (90, 730, 3650)
    assert (shown["raw"], shown["compact"], shown["rollups"]) == ("90d", "2y", "10y")
    assert_ok(csms("data", "retention", "--compact", "forever"))
    shown = json.loads(assert_ok(csms("data", "retention", "--json")).stdout)
    assert (shown["raw_days"], shown["compact_days"]) == (90, None)


def test_retention_refuses_what_would_lose_data_or_is_not_a_span(csms: Invoke) -> None:
    assert_error(csms("data", "retention", "--raw", "90 days"), 2, "--raw", "90 days")
    assert_error(csms("data", "retention", "--rollups", "0d"), 2, "--rollups")
    assert_error(csms("data", "retention", "--raw", "forever"), 2, "--raw")
    assert_error(csms("data", "retention", "--raw", "30d", "--compact", "2w"), 2,
                 "--compact must be at least --raw")
    shown = json.loads(assert_ok(csms("data", "retention", "--json")).stdout)
    assert shown["raw_days"] == 7  # nothing changed


def test_usage_lists_each_form_of_meter_data(csms: Invoke) -> None:
    tables = json.loads(assert_ok(csms("data", "usage", "--json")).stdout)
    by_name = {t["table"]: t for t in tables}
    assert {"meter_raw", "meter_compact", "meter_rollups", "meter_kinds"} <= set(by_name)
    assert by_name["meter_raw"]["samples"] == 0 and by_name["meter_raw"]["bytes"] > 0
    assert by_name["meter_raw"]["bytes_per_sample"] is None
    assert "meter_raw" in assert_ok(csms("data", "usage")).stdout

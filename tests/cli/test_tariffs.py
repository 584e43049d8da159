"""``csms tariffs``: set, list, remove, and a transaction's cost."""

from __future__ import annotations

import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from csms.store.devicemodel import VariableAttribute, upsert_variable_attributes
from csms.store.grid.events import save_program
from csms.store.grid.records import Program
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
    assert_error(csms("tariffs", "set", "--currency", "USD"), 2, "--energy-price")
    assert_error(csms("tariffs", "set", "--energy-price", "cheap", "--currency", "USD"), 2,
                 "--energy-price: cheap is not a price")
    assert_error(csms("tariffs", "set", "--energy-price", "-1", "--currency", "USD"), 2,
                 "--energy-price: must be from 0")
    assert_error(csms("tariffs", "set", "--energy-price", "NaN", "--currency", "USD"), 2,
                 "--energy-price")
    assert_error(csms("tariffs", "set", "--energy-price", "0.1234567", "--currency", "USD"), 2,
                 "at most 6 decimals")
    assert_error(csms("tariffs", "set", "--energy-price", "1", "--currency", "dollars"), 2,
                 "--currency: dollars is not an ISO 4217 code")
    assert_error(csms("tariffs", "set", "--energy-price", "1", "--currency", "USD",
                      "--discharge-credit", "1", "--credit-program", "P"), 2,
                 "--credit-program")
    assert_error(csms("tariffs", "set", "--energy-price", "1", "--currency", "USD",
                      "--station", "nobody"), 3, "unknown station nobody")
    assert_error(csms("tariffs", "set", "--energy-price", "1", "--currency", "USD",
                      "--credit-program", "nope"), 3, "no program nope")
    assert_error(csms("tariffs", "remove"), 3, "no default tariff")
    assert_error(csms("tariffs", "remove", "--station", "nobody"), 3,
                 "--station: unknown station nobody")
    assert_error(csms("tariffs", "cost", "CP-1", "TX-1"), 3, "unknown station CP-1")
    assert_ok(csms("stations", "add", "CP-1", "--password", PASSWORD))
    assert_error(csms("tariffs", "remove", "--station", "CP-1"), 3, "no tariff of CP-1")
    assert_error(csms("tariffs", "cost", "CP-1", "TX-1"), 3, "no cost for transaction TX-1")


def test_set_list_remove(csms: Invoke, database_url: str) -> None:
    assert assert_ok(csms("tariffs", "list")).stdout.strip() == "no tariffs"
    out = assert_ok(csms("tariffs", "set", "--energy-price", "0.30", "--currency", "usd",
                         "--discharge-credit", "0.12")).stdout
    assert out.strip() == "default tariff: 0.30 USD/kWh, exported kWh credited 0.12 USD"
    assert_ok(csms("stations", "add", "CP-1", "--password", PASSWORD))
    with_db(database_url, lambda db: save_program(db, Program("V2G", rate_per_kwh=0.5)))
    out = assert_ok(csms("tariffs", "set", "--station", "CP-1", "--energy-price", "0.25",
                         "--currency", "EUR", "--credit-program", "V2G")).stdout
    assert out.strip() == "tariff of CP-1: 0.25 EUR/kWh, exported kWh credited at program " \
                          "V2G's rate"
    found = json.loads(assert_ok(csms("tariffs", "list", "--json")).stdout)
    assert [(t["station_id"], t["currency"], t["credit"]) for t in found] == [
        (None, "USD", 0.12), ("CP-1", "EUR", 0.4)]
    text = assert_ok(csms("tariffs", "list")).stdout
    assert "(default)" in text and "CP-1" in text
    with_db(database_url, lambda db: save_program(db, Program("DSGS", compensation="dsgs")))
    assert_error(csms("tariffs", "set", "--energy-price", "1", "--currency", "USD",
                      "--credit-program", "DSGS"), 2, "--credit-program: DSGS pays per "
                 "kW-month (dsgs), not per kWh")
    assert assert_ok(csms("tariffs", "remove", "--station", "CP-1")).stdout.strip() == \
        "tariff of CP-1 removed"
    assert_ok(csms("tariffs", "remove"))
    assert assert_ok(csms("tariffs", "list")).stdout.strip() == "no tariffs"


def test_a_station_showing_another_currency_is_pointed_out(csms: Invoke,
                                                          database_url: str) -> None:
    assert_ok(csms("stations", "add", "CP-1", "--password", PASSWORD))
    with_db(database_url, lambda db: upsert_variable_attributes(db, "CP-1", [
        VariableAttribute("TariffCostCtrlr", "Currency", value="USD")]))
    out = assert_ok(csms("tariffs", "set", "--energy-price", "0.3", "--currency", "EUR")).stdout
    assert out.splitlines()[1] == "note: CP-1 shows costs in USD (TariffCostCtrlr.Currency); " \
                                  "csms set-variables CP-1 TariffCostCtrlr.Currency=EUR"
    out = assert_ok(csms("tariffs", "set", "--energy-price", "0.3", "--currency", "USD",
                         "--station", "CP-1")).stdout
    assert "note" not in out
    # the default no longer applies to CP-1: nothing to point out
    out = assert_ok(csms("tariffs", "set", "--energy-price", "0.3", "--currency", "EUR")).stdout
    assert "note" not in out


COMMANDS = [(["tariffs", "set"], []), (["tariffs", "list"], []),
            (["tariffs", "remove"], []), (["tariffs", "cost", "CP-1"], [])]
OPTIONS_HERE = ["--energy-price", "--currency", "--discharge-credit", "--credit-program",
                "--station", "CP-1", "USD", "0.30", "--json"]




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

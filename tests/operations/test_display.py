"""The rules of the display flows that need no station: what a version allows, and the grid's
earnings message and when it is due."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from csms.grid.earnings_display import (
    EARNINGS_LINGER,
    earnings_due,
    earnings_message,
    render_earnings,
)
from csms.operations.display import message_problem
from csms.store.display import GRID_MESSAGE_BASE, DisplayCapabilities, DisplayMessage
from csms.store.grid.records import GridEvent, GridInputError, Program

START = datetime(2026, 11, 5, 16, tzinfo=UTC)


@pytest.mark.parametrize("message,field", [
    (DisplayMessage(""), "content"),
    (DisplayMessage("x" * 513), "content"),
    (DisplayMessage("x", priority="Front"), "priority"),
    (DisplayMessage("x", format="QRCODE"), "format"),
    (DisplayMessage("x", state="Discharging"), "state"),
    (DisplayMessage("x", language="en-GB-oxendict"), "language"),
    (DisplayMessage("x", transaction_id="t" * 37), "transaction_id"),
    (DisplayMessage("x", start=START, end=START), "end"),
])
def test_what_2_0_1_cannot_be_sent(message, field):
    problem = message_problem("2.0.1", message)
    assert problem is not None and problem.field == field, problem


def test_2_1_allows_more():
    for message in (DisplayMessage("x" * 1024), DisplayMessage("x", format="QRCODE"),
                    DisplayMessage("x", state="Discharging")):
        assert message_problem("2.1", message) is None
    assert message_problem("2.1", DisplayMessage("x" * 1025)).field == "content"
    problem = message_problem("2.0.1", DisplayMessage("x", state="Discharging"))
    assert problem.text == "Discharging is not one of Charging, Faulted, Idle, Unavailable " \
                           "in OCPP 2.0.1"


def test_render_earnings():
    text = render_earnings("V2G event, you have earned ${earned} for {kwh} kWh until {until}",
                           earned=1.2345, kwh=3.04, until=START + timedelta(hours=1))
    assert text == "V2G event, you have earned $1.23 for 3.0 kWh until 17:00 UTC"
    assert render_earnings("{{earned}} {earned}", earned=2, kwh=0, until=START) == \
        "{earned} 2.00"
    for bad in ("{earned.__class__}", "{earned!r}", "{earned:>9}", "{name}", "{", ""):
        with pytest.raises(GridInputError):
            render_earnings(bad, earned=1, kwh=1, until=START)
    with pytest.raises(GridInputError, match="display_message"):
        Program("p", display_message="you earned {money}")


def test_earnings_are_due_at_the_first_step_then_every_minute_or_interval():
    event = GridEvent(1, "p", START, START + timedelta(hours=1), 100.0)
    program = Program("p", control_interval_s=20, settle_s=10)
    due = [s for s in range(0, 400, 20)
           if earnings_due(event, program, START + timedelta(seconds=s))]
    assert due == [0, 60, 120, 180, 240, 300, 360]
    slow = Program("p", control_interval_s=90, settle_s=10)
    assert all(earnings_due(event, slow, START + timedelta(seconds=s))
               for s in range(0, 900, 90))
    assert earnings_due(event, program, START + timedelta(seconds=30), every_s=0)
    assert not earnings_due(event, program, START + timedelta(seconds=30))


def test_earnings_message_fits_the_display():
    end = START + timedelta(hours=1)
    message = earnings_message("earned $1", 2, "tx-1", end, DisplayCapabilities())
    assert (message.id, message.priority, message.format) == (GRID_MESSAGE_BASE + 2, "InFront",
                                                              "UTF8")
    assert message.transaction_id == "tx-1" and message.end == end + EARNINGS_LINGER
    plain = DisplayCapabilities(formats=frozenset({"ASCII"}),
                                priorities=frozenset({"NormalCycle", "AlwaysFront"}))
    message = earnings_message("earned $1", 1, "tx-1", end, plain)
    assert (message.priority, message.format) == ("NormalCycle", "ASCII")

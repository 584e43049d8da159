"""The fleet scheduler: overlapping events arbitrated by priority then value, an EV held by
one event at a time, forecasts that subtract what other events hold."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from csms.grid.scheduler import Claim, FleetScheduler, arbitrate, value_per_kwh
from csms.grid.service import create_event, forecast
from csms.store import commands, stations, transactions
from csms.store.db import open_pool
from csms.store.grid import events as grid_events
from csms.store.grid.records import Program
from csms.store.metering import MeterSample
from csms.store.transactions import TxEvent
from tests.grid.factories import at, ev

FLEET = [ev(n, soc=0.9) for n in range(1, 7)]  # six EVs of 20 kW each for an hour


def claim(event_id: int, target: float | None, priority: int = 0, value: float = 0.0,
          start: float = 0, end: float = 60) -> Claim:
    return Claim(event_id, priority, value, at(start), at(end), target, 0.0)


def test_the_higher_priority_is_served_first_and_nothing_is_given_twice() -> None:
    result = arbitrate([claim(1, 60.0, priority=0), claim(2, 50.0, priority=5)], FLEET, at(0))
    by_event = {e: sorted(k for k, v in result.assigned.items() if v == e) for e in (1, 2)}
    assert len(by_event[2]) == 3  # 50 kW: three 20 kW EVs
    assert len(by_event[1]) == 3  # what is left: 60 kW asked, 60 kW there
    assert not set(by_event[1]) & set(by_event[2])
    assert result.given_kw == {2: pytest.approx(60.0), 1: pytest.approx(60.0)}
    # over capacity, the lower priority is the one short
    short = arbitrate([claim(1, 80.0), claim(2, 80.0, priority=1)], FLEET, at(0))
    assert short.given_kw[2] == pytest.approx(80.0) and short.given_kw[1] == pytest.approx(40.0)


def test_equal_priority_goes_by_value_and_an_event_keeps_its_evs() -> None:
    result = arbitrate([claim(1, 40.0, value=0.2), claim(2, 100.0, value=1.5)], FLEET, at(0))
    assert result.given_kw[2] == pytest.approx(100.0) and result.given_kw[1] == pytest.approx(
        20.0)
    current = {"CP6/1": 1, "CP5/1": 1}
    kept = arbitrate([claim(1, 40.0)], FLEET, at(0), current)
    assert {k for k, e in kept.assigned.items() if e == 1} == {"CP5/1", "CP6/1"}
    assert kept.spare == frozenset(f"CP{n}/1" for n in range(1, 5))


def test_dsgs_value_follows_the_month_rate() -> None:
    dsgs = Program("d", compensation="dsgs")
    assert value_per_kwh(dsgs, datetime(2025, 9, 1, tzinfo=UTC)) > value_per_kwh(
        dsgs, datetime(2025, 6, 1, tzinfo=UTC)) > 0
    assert value_per_kwh(dsgs, datetime(2025, 1, 1, tzinfo=UTC)) == 0.0
    assert value_per_kwh(Program("k", rate_per_kwh=0.4), at(0)) == 0.4


def test_one_holder_per_ev_and_release_frees_them() -> None:
    scheduler = FleetScheduler()
    scheduler.register(claim(1, None))
    assert scheduler.grant(1, FLEET, at(0)) == {e.key for e in FLEET}
    scheduler.register(claim(2, 30.0, priority=1))
    mine = scheduler.grant(2, FLEET, at(1))
    assert len(mine) == 2 and all(scheduler.owns(2, k) and not scheduler.owns(1, k)
                                  for k in mine)
    assert scheduler.grant(1, FLEET, at(1)) == {e.key for e in FLEET} - mine
    # an EV that left the fleet is nobody's
    assert "CP1/1" not in scheduler.grant(1, FLEET[1:], at(2)) | scheduler.grant(
        2, FLEET[1:], at(2))
    scheduler.release(2)
    assert scheduler.grant(1, FLEET[1:], at(3)) == {e.key for e in FLEET[1:]}


async def test_capacity_and_creation_subtract_what_other_events_hold(database_url: str
                                                                    ) -> None:
    pool = await open_pool(database_url)
    try:
        now = datetime.now(UTC)
        await commands.register_node(pool, "node-x")
        for n in (1, 2, 3):
            station = f"CP-{n}"
            await stations.register_station(pool, station, "sched-test-password-1")
            await stations.mark_connected(pool, station, "node-x", "ocpp2.0.1", None)
            event = TxEvent(transaction_id=f"tx-{n}", seq_no=0, event_type="Started",
                            timestamp=now, trigger_reason="CablePluggedIn", evse_id=1,
                            connector_id=1)
            soc = MeterSample(evse_id=1, transaction_id=f"tx-{n}", timestamp=now,
                              measurand="SoC", value=90.0, unit="Percent", phase=None,
                              location="EV", context="Transaction.Begin")
            await transactions.record_transaction_event(pool, station, event, [soc])
        low, high = Program("low"), Program("high", priority=10)
        for p in (low, high):
            await grid_events.save_program(pool, p)
        start, end = now + timedelta(hours=1), now + timedelta(hours=2)
        alone = await forecast(pool, low, start, end)
        assert alone.total_kw == pytest.approx(60.0) and alone.committed_kw == 0.0
        first = await create_event(pool, "low", start, end, 30.0)
        assert first.shortfall_kw == 0.0
        # 30 kW (two EVs) are committed to the first event: one EV is left
        left = await forecast(pool, low, start, end)
        assert left.total_kw == pytest.approx(20.0)
        assert left.committed_kw == pytest.approx(40.0)
        second = await create_event(pool, "low", start, end, 30.0)
        assert second.shortfall_kw == pytest.approx(10.0)
        # a program that outranks them is offered everything it asks for
        top = await forecast(pool, high, start, end, target_kw=40.0)
        assert top.total_kw >= 40.0
    finally:
        await pool.close()

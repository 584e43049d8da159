"""Transaction message retries (E13), reconnect back-off (Part 4, 5.3) and password change (A01)."""

from __future__ import annotations

import asyncio
import statistics
from collections import Counter
from typing import Any

from simulators.station import Station, StationConfig
from tests.simulators.conftest import StationFactory, leaf_visit
from tests.simulators.minicsms import MiniCsms
from tests.simulators.test_station_offline import _until


def _tx_seqs(csms: MiniCsms) -> list[int]:
    return [e["seqNo"] for e in csms.messages("TransactionEvent")]


def _fail_first(times: int, code: str, seq_no: int = 1):
    """A fault that answers the first ``times`` transmissions of one seqNo with ``code``."""
    seen: Counter[int] = Counter()

    def fault(station: str, action: str, payload: dict[str, Any]) -> str | None:
        if action != "TransactionEvent" or payload["seqNo"] != seq_no:
            return None
        seen[seq_no] += 1
        return code if seen[seq_no] <= times else None

    return fault


async def test_tc_e_51_callerror_is_retried_until_processed_and_order_is_kept(
        csms: MiniCsms, run_station: StationFactory) -> None:
    csms.fault = _fail_first(2, "InternalError")
    station = run_station("SIM1", visit=leaf_visit(soc=0.5), message_attempts=3,
                          message_attempt_interval_s=1)
    await csms.wait_for(lambda: _tx_seqs(csms).count(1) == 3 and 2 in _tx_seqs(csms))
    seqs = _tx_seqs(csms)
    # E13.FR.02: sent three times; nothing behind it overtook it.
    assert seqs[:4] == [0, 1, 1, 1]
    assert seqs[4:] == sorted(seqs[4:]) and seqs[4] == 2
    assert station.stats.retries == 2 and station.stats.discarded == 0
    assert station.stats.connects == 1


async def test_tc_e_50_discarded_after_message_attempts_callerrors(
        csms: MiniCsms, run_station: StationFactory) -> None:
    csms.fault = _fail_first(99, "InternalError")
    station = run_station("SIM1", visit=leaf_visit(soc=0.5), message_attempts=2,
                          message_attempt_interval_s=1)
    await csms.wait_for(lambda: 2 in _tx_seqs(csms))
    # E13.FR.04: two transmissions, then the station moves on to the next message.
    assert _tx_seqs(csms)[:4] == [0, 1, 1, 2]
    assert station.stats.discarded == 1 and station.stats.retries == 1


async def test_tc_e_42_unanswered_transaction_event_is_sent_again(
        csms: MiniCsms, run_station: StationFactory) -> None:
    csms.silence_s = 1.0
    csms.fault = _fail_first(1, "silence")
    station = run_station("SIM1", visit=leaf_visit(soc=0.5), message_attempts=3,
                          message_attempt_interval_s=1, call_timeout_s=0.5)
    await csms.wait_for(lambda: _tx_seqs(csms).count(1) == 2 and 2 in _tx_seqs(csms))
    assert _tx_seqs(csms)[:4] == [0, 1, 1, 2]
    assert station.stats.timeouts == 1 and station.stats.retries == 1
    assert station.stats.connects == 1  # a missing answer is no reason to reconnect


async def test_retried_event_waits_for_the_next_connection_when_the_socket_drops(
        csms: MiniCsms, run_station: StationFactory) -> None:
    csms.fault = _fail_first(1, "InternalError")
    station = run_station("SIM1", visit=leaf_visit(soc=0.5), message_attempts=3,
                          message_attempt_interval_s=30)
    await csms.wait_for(lambda: _tx_seqs(csms).count(1) == 1)
    port = csms.port
    await csms.stop()  # the CSMS goes away during the 30 s pause
    await _until(lambda: not station.online)
    await csms.start(port)
    await csms.wait_for(lambda: 2 in _tx_seqs(csms))
    seqs = _tx_seqs(csms)
    assert seqs[: seqs.index(2)] == [0, 1, 1] or seqs[: seqs.index(2)] == [0, 1, 0, 1]
    assert set(range(max(seqs) + 1)) == set(seqs) and station.stats.discarded == 0


def test_reconnect_back_off_follows_part_4_with_jitter() -> None:
    configs = [StationConfig(station_id=f"S{i}", url="ws://h/ocpp", backoff_min_s=2.0,
                             backoff_random_s=4.0, backoff_repeat_times=3) for i in range(300)]
    stations = [Station(c) for c in configs]
    first = [s._backoff(0) for s in stations]
    # RetryBackOffWaitMinimum plus a random value of at most RetryBackOffRandomRange ...
    assert all(2.0 <= d <= 6.0 for d in first)
    # ... spread over the whole range, so a fleet does not come back at one instant.
    assert max(first) - min(first) > 3.5
    assert 0.9 < statistics.pstdev(first) < 1.4  # uniform over 4 s: 1.15
    # Doubled after every failed attempt, RetryBackOffRepeatTimes times, then constant.
    station = stations[0]
    for attempt, base in [(1, 4.0), (2, 8.0), (3, 16.0), (4, 16.0), (10, 16.0)]:
        assert base <= station._backoff(attempt) <= base + 4.0


async def test_fleet_reconnects_spread_over_the_random_range(
        csms: MiniCsms, run_station: StationFactory) -> None:
    stations = [run_station(f"SIM{i}", backoff_min_s=0.2, backoff_random_s=2.0)
                for i in range(12)]
    await _until(lambda: all(s.online for s in stations))
    port = csms.port
    await csms.stop()
    await _until(lambda: not any(s.online for s in stations))
    lost = asyncio.get_running_loop().time()
    await csms.start(port)
    await _until(lambda: all(s.stats.connects == 2 for s in stations), timeout=30)
    waits = [s.stats.connected_at[1] - lost for s in stations]
    assert max(waits) - min(waits) > 0.5, waits


async def test_tc_a_09_new_basic_auth_password_is_accepted_and_used_to_reconnect(
        csms: MiniCsms, run_station: StationFactory) -> None:
    csms.password = "first-password-0001"
    station = run_station("SIM1", password="first-password-0001")
    await _until(lambda: station.online)
    csms.password = "second-password-0002"
    answer = await csms.call("SIM1", "SetVariables", {"setVariableData": [{
        "component": {"name": "SecurityCtrlr"}, "variable": {"name": "BasicAuthPassword"},
        "attributeValue": "second-password-0002"}]})
    assert answer["setVariableResult"][0]["attributeStatus"] == "Accepted"
    await _until(lambda: station.stats.connects == 2 and station.online)
    assert csms.rejected_auth == 0
    assert len(csms.messages("BootNotification", "SIM1")) == 2


async def test_tc_a_10_password_of_the_wrong_length_is_rejected_and_the_old_one_kept(
        csms: MiniCsms, run_station: StationFactory) -> None:
    csms.password = "first-password-0001"
    station = run_station("SIM1", password="first-password-0001")
    await _until(lambda: station.online)
    answer = await csms.call("SIM1", "SetVariables", {"setVariableData": [{
        "component": {"name": "SecurityCtrlr"}, "variable": {"name": "BasicAuthPassword"},
        "attributeValue": "too-short"}]})
    assert answer["setVariableResult"][0]["attributeStatus"] == "Rejected"
    assert station.model.get("SecurityCtrlr", "BasicAuthPassword") == "first-password-0001"
    assert station.online and station.stats.connects == 1

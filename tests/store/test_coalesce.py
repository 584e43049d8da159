"""Calls of the same moment share one statement (csms.store.coalesce), without I/O."""

from __future__ import annotations

import asyncio

import pytest

from csms.store.coalesce import Coalesced


class Recorder:
    def __init__(self, fail: bool = False) -> None:
        self.batches: list[dict[str, int]] = []
        self.fail = fail
        self.release = asyncio.Event()
        self.release.set()

    async def __call__(self, batch: dict[str, int]) -> dict[str, int]:
        self.batches.append(batch)
        await self.release.wait()
        if self.fail:
            raise RuntimeError("the statement failed")
        return {k: v * 10 for k, v in batch.items() if k != "unknown"}


async def test_callers_of_one_moment_share_one_call_and_each_gets_its_own_result():
    run = Recorder()
    coalesced = Coalesced(run)
    results = await asyncio.gather(*(coalesced(f"k{i}", i) for i in range(5)),
                                   coalesced("unknown", 1))
    assert results == [0, 10, 20, 30, 40, None]
    assert len(run.batches) == 1 and coalesced.calls == 1 and coalesced.keys == 6


async def test_callers_arriving_while_a_call_runs_share_the_next_one():
    run = Recorder()
    run.release.clear()
    coalesced = Coalesced(run)
    first = asyncio.ensure_future(coalesced("a", 1))
    await asyncio.sleep(0.01)  # "a" is in flight
    later = [asyncio.ensure_future(coalesced(k, 2)) for k in "bcd"]
    await asyncio.sleep(0.01)
    run.release.set()
    assert await first == 10 and [await f for f in later] == [20, 20, 20]
    assert [sorted(b) for b in run.batches] == [["a"], ["b", "c", "d"]]


async def test_the_limit_splits_a_burst_and_a_repeated_key_is_one_row_with_the_latest_value():
    run = Recorder()
    coalesced = Coalesced(run, limit=2)
    results = await asyncio.gather(coalesced("a", 1), coalesced("b", 2), coalesced("a", 3),
                                   coalesced("c", 4))
    assert results == [30, 20, 30, 40]
    assert run.batches == [{"a": 3, "b": 2}, {"c": 4}]


async def test_a_failure_fails_every_caller_of_that_call_and_a_cancelled_caller_is_skipped():
    run = Recorder(fail=True)
    run.release.clear()
    coalesced = Coalesced(run)
    waiting = [asyncio.ensure_future(coalesced(k, 1)) for k in "abc"]
    await asyncio.sleep(0.01)
    waiting[1].cancel()  # a handshake that timed out
    run.release.set()
    outcomes = await asyncio.gather(*waiting, return_exceptions=True)
    assert isinstance(outcomes[0], RuntimeError) and isinstance(outcomes[2], RuntimeError)
    assert isinstance(outcomes[1], asyncio.CancelledError)
    # the next moment's callers get a new call
    run.fail = False
    assert await coalesced("d", 5) == 50


@pytest.mark.parametrize("callers", [1, 3])
async def test_no_call_is_left_waiting(callers: int):
    coalesced = Coalesced(Recorder())
    await asyncio.gather(*(coalesced(str(i), i) for i in range(callers)))
    assert coalesced._task is None and not coalesced._waiting

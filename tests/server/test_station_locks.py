"""Commands for one station run one after the other; the node forgets a station's lock after."""

from __future__ import annotations

import asyncio

from csms.node import StationLocks


async def test_commands_for_one_station_run_in_turn_and_leave_no_lock_behind():
    locks = StationLocks()
    order: list[str] = []

    async def command(station: str, name: str, hold_s: float) -> None:
        async with locks.hold(station):
            order.append(f"{name} start")
            await asyncio.sleep(hold_s)
            order.append(f"{name} end")

    first = asyncio.create_task(command("CS-1", "a", 0.02))
    await asyncio.sleep(0)
    second = asyncio.create_task(command("CS-1", "b", 0))
    other = asyncio.create_task(command("CS-2", "c", 0))
    await asyncio.sleep(0.005)
    # CS-2 does not wait for CS-1; CS-1's second command waits for its first.
    assert order == ["a start", "c start", "c end"]
    assert len(locks) == 1
    await asyncio.gather(first, second, other)
    assert order == ["a start", "c start", "c end", "a end", "b start", "b end"]
    assert len(locks) == 0


async def test_a_failed_or_cancelled_command_releases_its_station():
    locks = StationLocks()

    async def failing() -> None:
        async with locks.hold("CS-1"):
            raise RuntimeError("the station went away")

    async def waiting_forever() -> None:
        async with locks.hold("CS-1"):
            await asyncio.Event().wait()

    try:
        await failing()
    except RuntimeError:
        pass
    assert len(locks) == 0
    task = asyncio.create_task(waiting_forever())
    await asyncio.sleep(0)
    assert len(locks) == 1
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    assert len(locks) == 0
    async with locks.hold("CS-1"):  # the station can be commanded again at once
        assert len(locks) == 1

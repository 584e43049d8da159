"""CommandWaiter: many commands' outcomes over one LISTEN connection, against PostgreSQL."""

from __future__ import annotations

import asyncio

import asyncpg

from csms.store import commands


async def _listeners(pool: asyncpg.Pool) -> int:
    """Backends of this database listening for command outcomes (pg_stat_activity shows the
    last statement of each: the LISTEN)."""
    return await pool.fetchval(
        "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
        " AND query ILIKE 'LISTEN %csms_command_done%'")


async def test_many_waits_share_one_listener_and_each_gets_its_own_outcome(
        pool: asyncpg.Pool, station: str, migrated_url: str) -> None:
    await commands.register_node(pool, "node-a")
    ids = [await commands.submit_command(pool, station, "Reset", {"type": "Immediate"})
           for _ in range(20)]
    async with commands.CommandWaiter(pool, migrated_url) as waiter:
        waits = [asyncio.create_task(waiter.wait(i, timeout=10, offline_grace=10)) for i in ids]
        await asyncio.sleep(0.2)
        assert await _listeners(pool) == 1
        for command_id in reversed(ids):  # a node answers them, in reverse order
            claimed = await commands.claim_command(pool, command_id, "node-a")
            assert claimed is not None
            await commands.finish_command(pool, command_id, "answered",
                                          response={"status": f"s{command_id}"})
        results = await asyncio.wait_for(asyncio.gather(*waits), 10)
    assert [r.id for r in results] == ids
    assert [r.response for r in results] == [{"status": f"s{i}"} for i in ids]
    assert {r.status for r in results} == {"answered"}
    assert await _listeners(pool) == 0


async def test_unclaimed_command_fails_offline_and_a_sent_one_times_out(
        pool: asyncpg.Pool, station: str, migrated_url: str) -> None:
    unclaimed = await commands.submit_command(pool, station, "Reset", {"type": "Immediate"})
    sent = await commands.submit_command(pool, station, "Reset", {"type": "Immediate"})
    await commands.register_node(pool, "node-a")
    assert await commands.claim_command(pool, sent, "node-a") is not None
    async with commands.CommandWaiter(pool, migrated_url) as waiter:
        offline, timed_out = await asyncio.gather(
            waiter.wait(unclaimed, timeout=5, offline_grace=0.3),
            waiter.wait(sent, timeout=0.8, offline_grace=0.3))
    assert offline.status == "offline"
    assert timed_out.status == "timeout" and "0.8" in (timed_out.error_description or "")


async def test_a_missed_notification_is_caught_by_the_poll(
        pool: asyncpg.Pool, station: str, migrated_url: str) -> None:
    """An outcome recorded without its NOTIFY (a listener that was reconnecting) is still
    seen, within the poll interval."""
    command_id = await commands.submit_command(pool, station, "Reset", {"type": "Immediate"})
    await commands.register_node(pool, "node-a")
    assert await commands.claim_command(pool, command_id, "node-a") is not None
    async with commands.CommandWaiter(pool, migrated_url, poll_s=0.2) as waiter:
        wait = asyncio.create_task(waiter.wait(command_id, timeout=10, offline_grace=10))
        await asyncio.sleep(0.1)
        await pool.execute("UPDATE commands SET status = 'answered', answered_at = now(),"
                           " response = '{}'::jsonb WHERE id = $1", command_id)
        result = await asyncio.wait_for(wait, 3)
    assert result.status == "answered"


async def test_waits_in_progress_end_when_the_waiter_stops(
        pool: asyncpg.Pool, station: str, migrated_url: str) -> None:
    command_id = await commands.submit_command(pool, station, "Reset", {"type": "Immediate"})
    waiter = commands.CommandWaiter(pool, migrated_url)
    await waiter.start()
    wait = asyncio.create_task(waiter.wait(command_id, timeout=30, offline_grace=30))
    await asyncio.sleep(0.2)
    await waiter.stop()
    result = await asyncio.wait_for(wait, 3)
    assert (result.status, result.error_description) == ("timeout", "stopped")

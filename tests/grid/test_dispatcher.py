"""The dispatcher runs on exactly one node: the advisory lock holder; another takes over when
it stops. A scheduled event whose window passed with no dispatcher running is closed as missed.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from csms.grid.dispatcher import GridDispatcher
from csms.operations import Operations
from csms.store.db import open_pool
from csms.store.grid import events as store
from csms.store.grid.records import Program


async def test_one_leader_and_takeover(database_url: str) -> None:
    pool = await open_pool(database_url)
    ops = Operations(pool, database_url)
    a = GridDispatcher(ops, "node-a", tick_s=0.1, lock_retry_s=0.2)
    b = GridDispatcher(ops, "node-b", tick_s=0.1, lock_retry_s=0.2)
    try:
        await a.start()
        await asyncio.wait_for(a.leading.wait(), 10)
        await b.start()
        await asyncio.sleep(1.0)  # several lock attempts by b
        assert a.leading.is_set() and not b.leading.is_set()
        await a.stop()
        await asyncio.wait_for(b.leading.wait(), 10)
    finally:
        await a.stop()
        await b.stop()
        await pool.close()


async def test_missed_event_is_closed_with_a_note(database_url: str) -> None:
    pool = await open_pool(database_url)
    dispatcher = GridDispatcher(Operations(pool, database_url), "node-a", tick_s=0.1)
    try:
        await store.save_program(pool, Program("p"))
        now = datetime.now(UTC)
        event_id = await store.create_event(pool, "p", now - timedelta(hours=2),
                                            now - timedelta(hours=1), 50.0)
        await dispatcher.start()

        async def closed() -> bool:
            record = await store.get_event(pool, event_id)
            return record is not None and record.finished_at is not None

        for _ in range(100):
            if await closed():
                break
            await asyncio.sleep(0.1)
        record = await store.get_event(pool, event_id)
        assert record is not None and record.event.status == "cancelled"
        assert record.note is not None and record.note.startswith("missed")
    finally:
        await dispatcher.stop()
        await pool.close()

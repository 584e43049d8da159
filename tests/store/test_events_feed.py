"""The feed and the webhook outbox: written together, in the caller's transaction."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import asyncpg
import pytest

from csms.store import events_feed, webhooks
from csms.store.events_feed import FeedType
from csms.store.metering import MeterSample
from csms.store.transactions import TxEvent, record_transaction_event

T0 = datetime(2025, 6, 1, 8, tzinfo=UTC)


async def test_outbox_rows_only_for_matching_subscriptions(pool: asyncpg.Pool):
    ended = await webhooks.add_webhook(pool, "http://x/a", ["transaction.ended"], "s" * 16)
    both = await webhooks.add_webhook(pool, "http://x/b", ["transaction.ended",
                                                          "station.connected"], "s" * 16)
    await events_feed.emit(pool, FeedType.STATION_CONNECTED, {"station_id": "CP-1"})
    await events_feed.emit(pool, FeedType.TRANSACTION_ENDED, {"transaction_id": "T1"})
    feed = await events_feed.events_after(pool, 0)
    assert [e.type for e in feed] == ["station.connected", "transaction.ended"]
    assert feed[0].data == {"station_id": "CP-1"}
    for_ended = await webhooks.list_deliveries(pool, ended.id)
    for_both = await webhooks.list_deliveries(pool, both.id)
    assert [d.event_type for d in for_ended] == ["transaction.ended"]
    assert [d.event_type for d in for_both] == ["transaction.ended", "station.connected"]
    assert await webhooks.backlog(pool) == 3


async def test_a_rolled_back_change_leaves_no_event_nor_delivery(pool: asyncpg.Pool):
    await webhooks.add_webhook(pool, "http://x/a", ["station.connected"], "s" * 16)
    async with pool.acquire() as conn:
        with pytest.raises(RuntimeError):
            async with conn.transaction():
                await events_feed.emit(conn, FeedType.STATION_CONNECTED, {"station_id": "X"})
                raise RuntimeError("the change failed")
    assert await events_feed.events_after(pool, 0) == []
    assert await webhooks.backlog(pool) == 0


async def test_transaction_started_and_ended_once(pool: asyncpg.Pool, station: str):
    def sample(at: datetime) -> list[MeterSample]:
        return [MeterSample(1, "T1", at, "Energy.Active.Import.Register", None, "Outlet",
                            "Wh", "Sample.Periodic", 10.0)]

    started = TxEvent("T1", 0, "Started", T0, "CablePluggedIn", evse_id=1, id_token="TOK")
    updated = TxEvent("T1", 1, "Updated", T0 + timedelta(minutes=1), "MeterValuePeriodic")
    ended = TxEvent("T1", 2, "Ended", T0 + timedelta(minutes=2), "EVDeparted",
                    stopped_reason="EVDisconnected")
    for event in (started, updated, ended, started):  # the last is a repeat: nothing new
        await record_transaction_event(pool, station, event, sample(event.timestamp))
    feed = await events_feed.events_after(pool, 0)
    assert [e.type for e in feed] == ["transaction.started", "transaction.ended"]
    assert feed[0].data["station_id"] == station and feed[0].data["id_token"] == "TOK"
    assert feed[1].data["stopped_reason"] == "EVDisconnected"


async def test_prune_keeps_what_a_pending_delivery_needs(pool: asyncpg.Pool):
    hook = await webhooks.add_webhook(pool, "http://x/a", ["event.step"], "s" * 16)
    await events_feed.emit(pool, FeedType.EVENT_STEP, {"event_id": 1})
    await events_feed.emit(pool, FeedType.EVENT_STARTED, {"event_id": 2})
    await pool.execute("UPDATE feed_events SET at = now() - interval '8 days'")
    assert await events_feed.prune(pool) == 1  # the started event; the step awaits delivery
    [kept] = await events_feed.events_after(pool, 0)
    assert kept.type == "event.step"
    [delivery] = await webhooks.list_deliveries(pool, hook.id)
    await webhooks.finish(pool, delivery.id, "delivered", 200, None)
    await pool.execute("UPDATE webhook_deliveries SET created_at = now() - interval '8 days'")
    assert await events_feed.prune(pool) == 1
    assert await webhooks.list_deliveries(pool, hook.id) == []

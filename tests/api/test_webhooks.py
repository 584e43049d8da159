"""Webhooks: signed, in order per subscription, retried, and every delivery made after the
API process is killed (SIGKILL) and started again."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import AsyncIterator

import httpx
import pytest

from csms.store import events_feed, webhooks
from csms.store.db import open_pool
from csms.store.events_feed import FeedType
from tests.api.conftest import Api, make_keys
from tests.api.processes import api_process
from tests.api.receiver import Receiver
from tests.api.stations_live import until

SECRET = "receiver-secret-0001"


async def emit_connected(database_url: str, names: list[str]) -> list[int]:
    pool = await open_pool(database_url)
    try:
        before = await events_feed.last_event_id(pool)
        for name in names:
            await events_feed.emit(pool, FeedType.STATION_CONNECTED, {"station_id": name})
        return [e.id for e in await events_feed.events_after(pool, before)]
    finally:
        await pool.close()


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    server = await Receiver(SECRET).start()
    try:
        yield server
    finally:
        await server.stop()


async def test_every_delivery_survives_a_killed_api_process(database_url: str,
                                                            receiver: Receiver):
    keys = await make_keys(database_url)
    headers = {"Authorization": f"Bearer {keys['admin']}"}
    async with api_process(database_url) as (first, url), httpx.AsyncClient(
            base_url=url, headers=headers) as http:
        made = await http.post("/v1/webhooks", json={
            "url": receiver.url, "types": ["station.connected"], "secret": SECRET})
        assert made.status_code == 201, made.text
        hook_id = made.json()["id"]
        receiver.fail_once.add("S2")  # answered 503 once: retried, the rest waits for it
        ids = await emit_connected(database_url, [f"S{n}" for n in range(10)])
        await until(lambda: _got(receiver, ids[5]), 20)
        receiver.stalled.set()  # the next delivery hangs in flight ...
        ids += await emit_connected(database_url, [f"S{n}" for n in range(10, 20)])
        await asyncio.sleep(0.5)
        first.send_signal(signal.SIGKILL)  # ... when the API process dies
        await first.wait()
    receiver.stalled.clear()
    async with api_process(database_url) as (_second, url):
        await until(lambda: _got(receiver, ids[-1]), 30)
        async with httpx.AsyncClient(base_url=url, headers=headers) as http:
            deliveries = (await http.get(f"/v1/webhooks/{hook_id}/deliveries",
                                         params={"limit": 100})).json()["items"]
    got = receiver.event_ids()
    assert set(got) == set(ids)  # every event, at least once
    first_seen = list(dict.fromkeys(got))
    assert first_seen == sorted(first_seen) == ids  # in order
    assert got.count(ids[2]) == 2  # retried after its 503
    assert all(r.signature_ok for r in receiver.received)
    assert all(r.delivery.isdigit() and r.type == "station.connected"
               for r in receiver.received)
    assert {d["status"] for d in deliveries} == {"delivered"} and len(deliveries) == 20
    failed_once = next(d for d in deliveries if d["event_id"] == ids[2])
    assert failed_once["attempts"] == 2


async def _got(receiver: Receiver, event_id: int) -> bool:
    return event_id in receiver.event_ids()


async def test_subscriptions_routes_and_given_up_delivery(api: Api, receiver: Receiver):
    async with api.client("admin") as http:
        bad_type = await http.post("/v1/webhooks", json={
            "url": receiver.url, "types": ["nope"], "secret": SECRET})
        short_secret = await http.post("/v1/webhooks", json={
            "url": receiver.url, "types": ["station.connected"], "secret": "short"})
        not_http = await http.post("/v1/webhooks", json={
            "url": "ftp://x/y", "types": ["station.connected"], "secret": SECRET})
        made = (await http.post("/v1/webhooks", json={
            "url": receiver.url, "types": ["transaction.ended"], "secret": SECRET,
            "description": "settlement"})).json()
        listed = (await http.get("/v1/webhooks")).json()["items"]
        shown = (await http.get(f"/v1/webhooks/{made['id']}")).json()
        pool = await open_pool(api.database_url)
        try:
            await events_feed.emit(pool, FeedType.STATION_CONNECTED, {"station_id": "X"})
            await events_feed.emit(pool, FeedType.TRANSACTION_ENDED, {"transaction_id": "T"})
            await until(lambda: _got_type(receiver, "transaction.ended"), 10)
            assert [r.type for r in receiver.received] == ["transaction.ended"]
            assert await webhooks.backlog(pool) == 0
        finally:
            await pool.close()
        deleted = await http.delete(f"/v1/webhooks/{made['id']}")
        gone = await http.get(f"/v1/webhooks/{made['id']}/deliveries")
    assert bad_type.status_code == short_secret.status_code == not_http.status_code == 422
    assert [h["id"] for h in listed] == [made["id"]] and "secret" not in shown
    assert shown["description"] == "settlement"
    assert deleted.status_code == 204 and gone.status_code == 404


async def _got_type(receiver: Receiver, kind: str) -> bool:
    return any(r.type == kind for r in receiver.received)

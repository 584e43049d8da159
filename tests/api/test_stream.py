"""``GET /v1/stream``: feed events pushed as they happen (LISTEN/NOTIFY), filtered by type,
and replayed after Last-Event-ID."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import httpx

from csms.store import commands
from tests.api.conftest import Api
from tests.api.stations_live import QUICK, node, station, until


async def sse(response: httpx.Response, opened: asyncio.Event) -> AsyncIterator[dict]:
    """The events of a server-sent event stream, with the time each was received; ``opened``
    is set at its first line (the server has subscribed by then)."""
    fields: dict[str, str] = {}
    async for line in response.aiter_lines():
        opened.set()
        if line == "":
            if "data" in fields:
                yield {**fields, "received": time.time(), "json": json.loads(fields["data"])}
            fields = {}
        elif not line.startswith(":"):
            name, _, value = line.partition(":")
            fields[name] = value.removeprefix(" ")


async def collect(api: Api, types: str | None, into: list[dict], ready: asyncio.Event,
                  headers: dict[str, str] | None = None) -> None:
    params = {"types": types} if types else {}
    async with api.client("read", timeout=None) as http, http.stream(
            "GET", "/v1/stream", params=params, headers=headers or {}) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        async for event in sse(response, ready):
            into.append(event)


async def test_station_connected_within_a_second_and_transactions(api: Api):
    everything: list[dict] = []
    connections: list[dict] = []
    telemetry: list[dict] = []
    ready = [asyncio.Event(), asyncio.Event(), asyncio.Event()]
    readers = [asyncio.create_task(collect(api, None, everything, ready[0])),
               asyncio.create_task(collect(api, "station.connected,station.disconnected",
                                           connections, ready[1])),
               asyncio.create_task(collect(api, "meter.sampled,evse.status", telemetry,
                                           ready[2]))]
    try:
        await asyncio.wait_for(asyncio.gather(*(r.wait() for r in ready)), 10)
        async with node(api.database_url) as system:
            async with station(system, "SIM1", car=True):
                await until(lambda: commands.station_online(system.pool, "SIM1"))
                online_at = time.time()

                async def started():
                    return any(e["event"] == "transaction.started" for e in everything)

                await until(started)

                async def sampled():
                    return any({"soc_percent", "import_kw"} <= e["json"]["data"].keys()
                               for e in telemetry if e["event"] == "meter.sampled")

                await until(sampled)
            await until(lambda: _has(connections, "station.disconnected"))
    finally:
        for reader in readers:
            reader.cancel()
        await asyncio.gather(*readers, return_exceptions=True)
    [connected] = [e for e in everything if e["event"] == "station.connected"]
    body = connected["json"]
    assert body["type"] == "station.connected" and body["data"]["station_id"] == "SIM1"
    assert int(connected["id"]) == body["id"]
    # pushed, not polled: received within a second of being recorded, and of the station
    # being seen online
    recorded = datetime.fromisoformat(body["at"]).timestamp()
    assert connected["received"] - recorded < 1.0
    assert connected["received"] - online_at < 1.0
    [tx] = [e for e in everything if e["event"] == "transaction.started"]
    assert tx["json"]["data"]["station_id"] == "SIM1" and tx["json"]["data"]["transaction_id"]
    assert [e["event"] for e in connections] == ["station.connected", "station.disconnected"]
    # live telemetry only to the stream that named it; without a feed id (never replayed)
    assert not {"meter.sampled", "evse.status"} & {e["event"] for e in everything}
    status = [e for e in telemetry if e["event"] == "evse.status"]
    assert status and status[0]["json"]["data"]["station_id"] == "SIM1"
    sample = next(e["json"] for e in telemetry
                  if {"soc_percent", "import_kw"} <= e["json"]["data"].keys())
    assert "id" not in sample and all("id" not in e for e in telemetry)
    data = sample["data"]
    assert data["station_id"] == "SIM1" and data["evse_id"] == 1 and data["transaction_id"]
    assert 0 < data["soc_percent"] <= 100 and data["import_kw"] >= 0  # kW, not W
    assert data["import_kw"] <= QUICK.max_charge_kw


async def _has(events: list[dict], name: str) -> bool:
    return any(e["event"] == name for e in events)


async def test_replay_after_last_event_id_and_unknown_types(api: Api):
    async with node(api.database_url) as system:
        for name in ("R1", "R2"):
            async with station(system, name):
                await until(lambda n=name: commands.station_online(system.pool, n))
    replayed: list[dict] = []
    ready = asyncio.Event()
    reader = asyncio.create_task(collect(api, "station.connected", replayed, ready,
                                         headers={"Last-Event-ID": "0"}))
    try:
        await until(lambda: _count(replayed, 2), timeout=10)
    finally:
        reader.cancel()
        await asyncio.gather(reader, return_exceptions=True)
    assert [e["json"]["data"]["station_id"] for e in replayed] == ["R1", "R2"]
    async with api.client("read") as http:
        bad = await http.get("/v1/stream", params={"types": "station.exploded"})
    assert bad.status_code == 422 and "station.exploded" in bad.json()["error"]["message"]


async def _count(events: list[dict], n: int) -> bool:
    return len(events) >= n


async def test_grid_event_started_steps_and_completed(api: Api):
    from csms.grid.dispatcher import GridDispatcher
    from csms.operations import Operations
    from csms.store.db import open_pool

    events: list[dict] = []
    ready = asyncio.Event()
    reader = asyncio.create_task(collect(api, "event.started,event.step,event.completed",
                                         events, ready))
    pool = await open_pool(api.database_url)
    dispatcher = GridDispatcher(Operations(pool, api.database_url), "node-g", tick_s=0.2)
    try:
        await asyncio.wait_for(ready.wait(), 10)
        await dispatcher.start()
        async with api.client("dispatch") as http:
            made = await http.post("/v1/programs", json={
                "name": "fast", "control_interval_s": 1, "settle_s": 0.5,
                "event_meter_interval_s": 1})
            assert made.status_code == 201, made.text
            start = datetime.now(UTC)
            created = await http.post("/v1/events", json={
                "start": start.isoformat(), "duration_s": 2.5, "target_kw": 20,
                "program": "fast"})
            assert created.status_code == 201, created.text
        event_id = created.json()["id"]
        await until(lambda: _has(events, "event.completed"), 20)
    finally:
        await dispatcher.stop()
        await pool.close()
        reader.cancel()
        await asyncio.gather(reader, return_exceptions=True)
    kinds = [e["event"] for e in events]
    assert kinds[0] == "event.started" and kinds[-1] == "event.completed"
    assert "event.step" in kinds
    step = next(e["json"]["data"] for e in events if e["event"] == "event.step")
    assert step["event_id"] == event_id and step["target_kw"] == 20
    assert step["measured_kw"] == 0 and step["setpoints"] == {}
    assert events[-1]["json"]["data"] == {"event_id": event_id, "cancelled": False,
                                          "steps": len([k for k in kinds if k == "event.step"])}


async def test_an_event_committed_after_a_later_one_still_arrives(api: Api):
    """Feed ids are taken at insert and seen at commit: a smaller id committed late is not
    skipped."""
    from csms.store import events_feed
    from csms.store.db import open_pool
    from csms.store.events_feed import FeedType

    events: list[dict] = []
    ready = asyncio.Event()
    reader = asyncio.create_task(collect(api, None, events, ready))
    pool = await open_pool(api.database_url)
    try:
        await asyncio.wait_for(ready.wait(), 10)
        async with pool.acquire() as slow:
            transaction = slow.transaction()
            await transaction.start()
            await events_feed.emit(slow, FeedType.STATION_CONNECTED, {"station_id": "EARLY"})
            await events_feed.emit(pool, FeedType.STATION_CONNECTED, {"station_id": "LATE"})
            await until(lambda: _count(events, 1), 10)
            await transaction.commit()
        await until(lambda: _count(events, 2), 10)
    finally:
        await pool.close()
        reader.cancel()
        await asyncio.gather(reader, return_exceptions=True)
    assert [e["json"]["data"]["station_id"] for e in events] == ["LATE", "EARLY"]
    assert int(events[0]["id"]) > int(events[1]["id"])

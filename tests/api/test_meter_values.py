"""``GET /v1/meter-values``: JSON pages that follow the cursor through ties, and CSV streamed
in memory that does not grow with the number of rows."""

from __future__ import annotations

import csv
import io
import tracemalloc
from datetime import UTC, datetime, timedelta

from csms.store.db import open_pool
from tests.api.conftest import Api

T0 = datetime(2025, 6, 1, tzinfo=UTC)


async def seed(database_url: str, station_id: str, rows: int, per_instant: int = 5) -> None:
    """``rows`` values of ``station_id``, ``per_instant`` of them at each second."""
    pool = await open_pool(database_url)
    try:
        await pool.execute(
            "INSERT INTO meter_values (station_id, evse_id, transaction_id, timestamp,"
            " measurand, phase, location, unit, context, value)"
            " SELECT $1, 1, 'T1', $2::timestamptz + make_interval(secs => n / $4),"
            " 'M' || (n % $4), NULL,"
            " 'Outlet', 'W', 'Sample.Periodic', n FROM generate_series(0, $3 - 1) AS n",
            station_id, T0, rows, per_instant)
    finally:
        await pool.close()


async def test_json_pages_walk_every_value_once(api: Api):
    await seed(api.database_url, "A", 23, per_instant=4)
    await seed(api.database_url, "B", 5, per_instant=5)
    values = []
    cursor = None
    async with api.client("read") as http:
        while True:
            params = {"limit": 3} | ({"cursor": cursor} if cursor else {})
            page = (await http.get("/v1/meter-values", params=params)).json()
            values += [(v["station_id"], v["timestamp"], v["measurand"], v["value"])
                       for v in page["items"]]
            cursor = page["next_cursor"]
            if cursor is None:
                break
        only_b = (await http.get("/v1/meter-values", params={"station": "B"})).json()
        window = (await http.get("/v1/meter-values", params={
            "station": "A", "from": (T0 + timedelta(seconds=2)).isoformat(),
            "to": (T0 + timedelta(seconds=4)).isoformat()})).json()
        backwards = await http.get("/v1/meter-values", params={
            "from": T0.isoformat(), "to": T0.isoformat()})
    assert len(values) == 28 and len(set(values)) == 28
    assert [v[0] for v in values] == ["A"] * 23 + ["B"] * 5
    assert len(only_b["items"]) == 5 and only_b["next_cursor"] is None
    assert len(window["items"]) == 8
    assert backwards.status_code == 422


async def _csv_peak(api: Api, station_id: str) -> tuple[int, int]:
    """(rows received, peak traced memory in bytes) of streaming a station's CSV."""
    rows = 0
    tail = b""
    tracemalloc.start()
    try:
        async with api.client("read") as http, http.stream(
                "GET", "/v1/meter-values", params={"station": station_id},
                headers={"Accept": "text/csv"}) as response:
            assert response.status_code == 200
            assert response.headers["content-type"].startswith("text/csv")
            async for chunk in response.aiter_bytes():
                data = tail + chunk
                lines = data.split(b"\n")
                tail = lines.pop()
                rows += len(lines)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return rows - 1, peak


async def test_csv_streams_in_bounded_memory(api: Api):
    await seed(api.database_url, "SMALL", 10_000)
    await seed(api.database_url, "BIG", 50_000)
    small_rows, small_peak = await _csv_peak(api, "SMALL")
    big_rows, big_peak = await _csv_peak(api, "BIG")
    assert (small_rows, big_rows) == (10_000, 50_000)
    # 5x the rows: memory held in full would grow about 5x; streamed it stays level
    assert big_peak < 2 * small_peak, (small_peak, big_peak)


async def test_csv_has_the_cli_columns(api: Api):
    await seed(api.database_url, "C", 3)
    async with api.client("read") as http:
        text = (await http.get("/v1/meter-values", params={"station": "C"},
                               headers={"Accept": "text/csv"})).text
        refused = await http.get("/v1/meter-values", headers={"Accept": "image/gif"})
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[0] == ["station", "evse", "transaction", "timestamp", "measurand", "phase",
                       "location", "unit", "value"]
    assert rows[1][:3] == ["C", "1", "T1"] and rows[1][-1] == "0.0" and len(rows) == 4
    assert refused.status_code == 406 and refused.json()["error"]["code"] == "not_acceptable"

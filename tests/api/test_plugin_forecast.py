"""``GET /v1/fleet/forecast`` and ``GET /v1/programs/{name}/nomination`` over a real HTTP
server: the plug-in forecast and the DSGS nomination from stored sessions, as the CLI gives
them, and their errors as JSON 4xx."""

from __future__ import annotations

import calendar
from datetime import UTC, date, datetime, timedelta

from csms.grid.service import plugin_outlook, suggest_nomination
from csms.store.db import open_pool
from csms.store.grid import events as grid_events
from tests.api.conftest import Api
from tests.grid.history import store_recent_weeks


def next_monday() -> date:
    today = datetime.now(UTC)
    return (today + timedelta(days=7 - today.weekday())).date()


async def test_forecast_and_nomination(api: Api) -> None:
    await store_recent_weeks(api.database_url)
    monday = next_monday()
    month = f"{monday.year:04d}-{monday.month:02d}"
    async with api.client("dispatch") as http:
        made = await http.post("/v1/programs", json={
            "name": "CEC-DSGS", "compensation": "dsgs", "timezone": "UTC",
            "monthly_rates": {month: 12.5}})
        assert made.status_code == 201, made.text
    async with api.client("read") as http:
        by_day = await http.get("/v1/fleet/forecast", params={
            "date": monday.isoformat(), "from": "16:00", "until": "21:00",
            "program": "CEC-DSGS", "weeks": 4})
        by_time = await http.get("/v1/fleet/forecast", params={
            "from": f"{monday.isoformat()}T16:00:00Z", "until": f"{monday.isoformat()}T21:00",
            "program": "CEC-DSGS", "weeks": 4})
        nominated = await http.get("/v1/programs/CEC-DSGS/nomination",
                                   params={"month": month, "weeks": 4})
        errors = {
            "backwards": await http.get("/v1/fleet/forecast", params={
                "date": monday.isoformat(), "from": "21:00", "until": "16:00"}),
            "not a time": await http.get("/v1/fleet/forecast", params={
                "date": monday.isoformat(), "from": "tea time", "until": "21:00"}),
            "not ISO": await http.get("/v1/fleet/forecast", params={
                "from": "tomorrow", "until": "21:00"}),
            "bad date": await http.get("/v1/fleet/forecast", params={
                "date": "2026-02-30", "from": "16:00", "until": "21:00"}),
            "weeks": await http.get("/v1/fleet/forecast", params={
                "date": monday.isoformat(), "from": "16:00", "until": "21:00", "weeks": 0}),
            "month": await http.get("/v1/programs/CEC-DSGS/nomination",
                                    params={"month": "2026-13"}),
            "no month": await http.get("/v1/programs/CEC-DSGS/nomination"),
        }
        missing = {
            "forecast": await http.get("/v1/fleet/forecast", params={
                "date": monday.isoformat(), "from": "16:00", "until": "21:00",
                "program": "NOPE"}),
            "nomination": await http.get("/v1/programs/NOPE/nomination",
                                         params={"month": month}),
        }
    async with api.client(None) as http:
        anonymous = await http.get("/v1/programs/CEC-DSGS/nomination",
                                   params={"month": month})

    assert by_day.status_code == 200, by_day.text
    found = by_day.json()
    assert found["program"] == "CEC-DSGS" and found["weeks_of_history"] == 4
    assert datetime.fromisoformat(found["start"]) == datetime(
        monday.year, monday.month, monday.day, 16, tzinfo=UTC)
    by_evse = {e["evse"]: e for e in found["by_evse"]}
    assert set(by_evse) == {"CP-1/1", "CP-2/1", "CP-3/1"} and found["evses"] == 3
    # every Monday afternoon CP-1 was there, CP-2 on three days of five, CP-3 never
    assert by_evse["CP-1/1"]["chance"] > by_evse["CP-2/1"]["chance"] > by_evse["CP-3/1"][
        "chance"]
    assert by_evse["CP-1/1"]["soc"] == 0.8
    assert 0 < found["firm_p90_kw"] <= found["expected_kw"]
    # the same window given as ISO 8601 times (UTC when no offset) is the same forecast
    assert by_time.status_code == 200 and by_time.json() == found
    # as the service computes it (the CLI's figures)
    pool = await open_pool(api.database_url)
    try:
        program = await grid_events.get_program(pool, "CEC-DSGS")
        assert program is not None
        start = datetime.fromisoformat(found["start"])
        direct = await plugin_outlook(pool, program, start, start + timedelta(hours=5),
                                      weeks=4)
        direct_nomination = await suggest_nomination(pool, program, month, weeks=4)
    finally:
        await pool.close()
    assert found["expected_kw"] == round(direct.expected_kw, 3)
    assert found["firm_p90_kw"] == round(direct.firm_kw, 3)

    assert nominated.status_code == 200, nominated.text
    n = nominated.json()
    days = calendar.monthrange(monday.year, monday.month)[1]
    assert n["blocks"] == len(n["by_block"]) == days * 4  # 2-hour blocks from 16 to 21
    assert n["worst_block_p90_kw"] <= n["suggested_kw"] <= n["best_block_p90_kw"]
    assert n["suggested_kw"] == direct_nomination.suggested_kw
    assert n["dsgs_rate_per_kw_month"] == 12.5  # the program's own rate for the month
    assert n["below_dsgs_minimum"] is True and n["dsgs_minimum_kw"] == 500

    for name, response in errors.items():
        assert response.status_code == 422, (name, response.text)
        assert set(response.json()) == {"error"}, name
    assert "until" in errors["backwards"].json()["error"]["message"]
    assert "from" in errors["not a time"].json()["error"]["message"]
    assert "from" in errors["not ISO"].json()["error"]["message"]
    for name, response in missing.items():
        assert response.status_code == 404, (name, response.text)
        assert "NOPE" in response.json()["error"]["message"]
    assert anonymous.status_code == 401 and "error" in anonymous.json()

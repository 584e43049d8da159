"""Grid routes: programs, events (create, import de-duplicated, cancel, report as JSON, CSV
and PNG), fleet capacity, drivers' settings."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from tests.api.conftest import Api

SOON = (datetime.now(UTC) + timedelta(days=2)).replace(microsecond=0)


def dispatch(target: float, *, cancelled: bool = False) -> dict:
    return {"id": "MP-42", "timeslots": [{
        "start_time": SOON.isoformat(), "end_time": (SOON + timedelta(hours=2)).isoformat(),
        "energy_kw": target, "programs": ["CEC-DSGS"], "cancelled": cancelled}]}


async def test_programs(api: Api):
    async with api.client("dispatch") as http:
        made = await http.post("/v1/programs", json={
            "name": "CEC-DSGS", "compensation": "dsgs", "baseline": "prescriptive",
            "window_start": "16:00", "window_end": "21:00",
            "timezone": "America/Los_Angeles"})
        taken = await http.post("/v1/programs", json={"name": "CEC-DSGS"})
        replaced = await http.post("/v1/programs", params={"replace": "true"},
                                   json={"name": "CEC-DSGS", "rate_per_kwh": 0.5})
        bad_zone = await http.post("/v1/programs", json={"name": "X", "timezone": "Mars/Base"})
        bad_settle = await http.post("/v1/programs", json={
            "name": "Y", "control_interval_s": 10, "settle_s": 30})
        shown = (await http.get("/v1/programs/CEC-DSGS")).json()
        listed = (await http.get("/v1/programs")).json()
    assert made.status_code == 201 and made.json()["window_start"] == "16:00:00"
    assert taken.status_code == 409
    assert replaced.status_code == 201 and shown["rate_per_kwh"] == 0.5
    assert shown["compensation"] == "per-kwh"
    assert bad_zone.status_code == 422 and "Mars/Base" in bad_zone.json()["error"]["message"]
    assert bad_settle.status_code == 422 and "settle_s" in bad_settle.json()["error"]["message"]
    assert [p["name"] for p in listed["items"]] == ["CEC-DSGS"]


async def test_events_create_import_cancel_report(api: Api):
    async with api.client("dispatch") as http:
        assert (await http.post("/v1/programs", json={"name": "CEC-DSGS"})).status_code == 201
        created = await http.post("/v1/events", json={
            "start": SOON.isoformat(), "duration_s": 3600, "target_kw": 50})
        assert created.status_code == 201, created.text
        event = created.json()
        assert event["status"] == "scheduled" and event["program"] == "default"
        assert event["shortfall_kw"] == 50 and event["eligible_evs"] == 0
        both = await http.post("/v1/events", json={"start": SOON.isoformat(),
                                                   "duration_s": 60, "target_kw": 5,
                                                   "max": True})
        assert both.status_code == 422

        first = (await http.post("/v1/events/import", json=dispatch(30))).json()
        again = (await http.post("/v1/events/import", json=dispatch(30))).json()
        changed = (await http.post("/v1/events/import", json=dispatch(40))).json()
        assert [r["action"] for r in first + again + changed] == ["created", "unchanged",
                                                                  "updated"]
        imported_id = first[0]["event_id"]
        assert again[0]["event_id"] == imported_id
        broken = await http.post("/v1/events/import", json={"id": "X", "timeslots": []})
        assert broken.status_code == 422 and "timeslots" in broken.json()["error"]["message"]

        shown = (await http.get(f"/v1/events/{imported_id}")).json()
        assert shown["target_kw"] == 40 and shown["external_id"] == "MP-42/0"
        assert shown["program"] == "CEC-DSGS" and shown["evs"] == [] and shown["steps"] == 0
        listed = (await http.get("/v1/events", params={"limit": 1})).json()
        assert len(listed["items"]) == 1 and listed["next_cursor"]
        rest = (await http.get("/v1/events", params={"cursor": listed["next_cursor"]})).json()
        assert {e["id"] for e in listed["items"] + rest["items"]} == {event["id"],
                                                                      imported_id}

        cancelled = await http.post(f"/v1/events/{event['id']}/cancel")
        assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
        twice = await http.post(f"/v1/events/{event['id']}/cancel")
        assert twice.status_code == 409

        report = await http.get(f"/v1/events/{imported_id}/report")
        csv_report = await http.get(f"/v1/events/{imported_id}/report",
                                    headers={"Accept": "text/csv"})
        png = await http.get(f"/v1/events/{imported_id}/report",
                             headers={"Accept": "image/png"})
        missing = await http.get("/v1/events/999/report")
    assert report.status_code == 200 and report.json()["participants"] == 0
    assert report.json()["event"]["id"] == imported_id
    assert csv_report.text.startswith("start,end,target_kw,delivered_kw")
    assert png.headers["content-type"] == "image/png" and png.content[:8] == b"\x89PNG\r\n\x1a\n"
    assert missing.status_code == 404


async def test_fleet_capacity_and_drivers(api: Api):
    async with api.client("dispatch") as http:
        capacity = await http.get("/v1/fleet/capacity", params={
            "from": SOON.isoformat(), "until": (SOON + timedelta(hours=1)).isoformat()})
        backwards = await http.get("/v1/fleet/capacity", params={
            "from": SOON.isoformat(), "until": SOON.isoformat()})
        unknown_program = await http.get("/v1/fleet/capacity", params={
            "from": SOON.isoformat(), "until": (SOON + timedelta(hours=1)).isoformat(),
            "program": "nope"})
        saved = await http.put("/v1/drivers/04A2B3C4", json={
            "floor_soc": 0.3, "departure": "07:30", "timezone": "Europe/Amsterdam",
            "need_soc": 0.8})
        station = await http.put("/v1/drivers/CP-7", params={"kind": "station"},
                                 json={"opt_out": True})
        read_back = (await http.get("/v1/drivers/04a2b3c4")).json()
        both = await http.put("/v1/drivers/X", json={"need_soc": 0.5, "need_kwh": 10})
        none = await http.get("/v1/drivers/NOBODY")
    assert capacity.status_code == 200
    assert capacity.json()["evs"] == 0 and capacity.json()["capacity_kw"] == 0
    assert backwards.status_code == 422 and unknown_program.status_code == 404
    assert saved.status_code == 200 and station.json()["opt_out"] is True
    assert read_back["departure"] == "07:30:00" and read_back["floor_soc"] == 0.3
    assert both.status_code == 422 and none.status_code == 404

"""``/v1/sites``: add, assign stations, import the building's load, read back."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from csms.store.db import open_pool
from csms.store.grid import site_control
from tests.api.conftest import Api


async def test_sites(api: Api):
    now = datetime.now(UTC).replace(microsecond=0)
    async with api.client("dispatch") as http:
        made = await http.post("/v1/sites", json={"name": "depot", "import_kw": 120,
                                                  "export_kw": 0})
        taken = await http.post("/v1/sites", json={"name": "depot", "import_kw": 1,
                                                   "export_kw": 1})
        negative = await http.post("/v1/sites", json={"name": "x", "import_kw": -1,
                                                      "export_kw": 0})
        no_meter = await http.post("/v1/sites", json={"name": "y", "import_kw": 1,
                                                      "export_kw": 0,
                                                      "meter_station_id": "NOPE"})
        unknown = await http.put("/v1/sites/depot/stations", json={"stations": ["NOPE"]})
        missing = await http.put("/v1/sites/nowhere/stations", json={"stations": ["NOPE"]})
        loaded = await http.post("/v1/sites/depot/building-load", json={"readings": [
            {"at": (now - timedelta(minutes=5)).isoformat(), "building_kw": 17.5}]})
        before = (await http.get("/v1/sites/depot")).json()
        # what the site controller (on the node leading the dispatcher) planned last
        pool = await open_pool(api.database_url)
        try:
            await site_control.save_plan(pool, site_control.PlanRow(
                "depot", now, "node-1", 120.0, 17.5, "imported", None, 101.6, 40.0, 61.6,
                "start"), [site_control.ShareRow("CP-1", 1, "tx-1", "charging", 40.0, 5.0,
                                                 40.0, 38.2)])
        finally:
            await pool.close()
        shown = (await http.get("/v1/sites/depot")).json()
        listed = (await http.get("/v1/sites")).json()
        gone = await http.get("/v1/sites/nowhere")
    assert made.status_code == 201 and made.json()["non_export"] is True
    assert taken.status_code == 409
    assert negative.status_code == 422
    assert no_meter.status_code == 422 and "NOPE" in no_meter.json()["error"]["message"]
    assert unknown.status_code == 422 and "NOPE" in unknown.json()["error"]["message"]
    assert missing.status_code in (404, 422)
    assert loaded.status_code == 204
    assert shown["building_kw"] == 17.5 and shown["building_source"] == "imported"
    assert before["control"]["planned_at"] is None and before["control"]["allocations"] == []
    control = shown["control"]
    assert control["room_kw"] == 101.6 and control["headroom_kw"] == 61.6
    assert control["allocations"] == [{
        "station": "CP-1", "evse": 1, "transaction": "tx-1", "kind": "charging",
        "share_kw": 40.0, "want_kw": 40.0, "minimum_kw": 5.0, "measured_kw": 38.2,
        "cap_kw": None, "cap_status": None}]
    assert [s["name"] for s in listed] == ["depot"]
    assert gone.status_code == 404

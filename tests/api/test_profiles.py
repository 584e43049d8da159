"""``/v1/stations/{id}/profiles``: a discharge profile reaching a simulated station with a car,
read back as believed installed, then cleared."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from csms.store import transactions
from tests.api.conftest import Api
from tests.api.stations_live import node, station, until


async def test_discharge_list_clear(api: Api):
    async with node(api.database_url) as system, station(system, "V2G1", car=True,
                                                         version="2.1"), \
            api.client("operate") as http:
        await until(lambda: transactions.active_transaction_ids(system.pool, "V2G1"))
        until_at = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
        sent = await http.post("/v1/stations/V2G1/profiles", json={
            "evse": 1, "discharge_kw": 7.5, "until": until_at})
        assert sent.status_code == 200, sent.text
        result = sent.json()
        assert result["accepted"] and result["status"] == "Accepted" and result["profile_id"]

        believed = (await http.get("/v1/stations/V2G1/profiles")).json()["believed"]
        [ours] = [p for p in believed if p["id"] == result["profile_id"]]
        assert ours["purpose"] == "TxProfile" and ours["evse"] == 1
        assert ours["setpoint"] == -7500 or (ours["first_limit"] or 0) < 0

        both = await http.post("/v1/stations/V2G1/profiles", json={
            "evse": 1, "discharge_kw": 5, "charge_kw": 5})
        assert both.status_code == 422

        cleared = await http.delete("/v1/stations/V2G1/profiles",
                                    params={"profile_id": result["profile_id"]})
        assert cleared.status_code == 200 and cleared.json()["status"] == "Accepted"
        after = (await http.get("/v1/stations/V2G1/profiles")).json()["believed"]
        assert result["profile_id"] not in [p["id"] for p in after]
        unknown = await http.post("/v1/stations/NOPE/profiles", json={"evse": 1,
                                                                      "charge_kw": 1})
        assert unknown.status_code == 404

"""``POST /v1/stations/{id}/calls`` reaching a simulated station over real sockets, and its
answer coming back; ``GET /v1/commands/{id}``."""

from __future__ import annotations

from csms.store import commands
from tests.api.conftest import Api
from tests.api.stations_live import node, station, until

GET_HEARTBEAT = {"action": "GetVariables", "payload": {"getVariableData": [
    {"component": {"name": "OCPPCommCtrlr"}, "variable": {"name": "HeartbeatInterval"}}]}}


async def test_call_reaches_the_station_and_its_answer_comes_back(api: Api):
    async with node(api.database_url) as system, station(system, "SIM1"), \
            api.client("operate") as http:
        await until(lambda: commands.station_online(system.pool, "SIM1"))
        answered = await http.post("/v1/stations/SIM1/calls", params={"wait": 10},
                                   json=GET_HEARTBEAT)
        assert answered.status_code == 200, answered.text
        body = answered.json()
        [result] = body["response"]["getVariableResult"]
        assert result["attributeStatus"] == "Accepted" and int(result["attributeValue"]) > 0
        assert body["status"] == "accepted" and body["command_ids"]

        submitted = await http.post("/v1/stations/SIM1/calls", json=GET_HEARTBEAT)
        assert submitted.status_code == 202
        command_id = submitted.json()["command_id"]
        assert submitted.headers["location"] == f"/v1/commands/{command_id}"

        async def answered_later():
            record = (await http.get(f"/v1/commands/{command_id}")).json()
            return record if record["status"] == "answered" else None

        record = await until(answered_later)
        assert record["response"]["getVariableResult"][0]["attributeStatus"] == "Accepted"
        assert record["action"] == "GetVariables" and record["station_id"] == "SIM1"

        rejected = await http.post("/v1/stations/SIM1/calls", params={"wait": 10}, json={
            "action": "ChangeAvailability",
            "payload": {"operationalStatus": "Operative", "evse": {"id": 9}}})
        assert rejected.status_code == 200
        assert rejected.json()["status"] in ("accepted", "rejected")


async def test_call_failures_are_json_errors(api: Api):
    async with node(api.database_url) as system, api.client("operate") as http:
        async with station(system, "SIM2"):
            await until(lambda: commands.station_online(system.pool, "SIM2"))
            invalid = await http.post("/v1/stations/SIM2/calls", params={"wait": 5},
                                      json={"action": "Reset", "payload": {"type": "Later"}})
            unknown_action = await http.post("/v1/stations/SIM2/calls",
                                             json={"action": "NoSuchThing", "payload": {}})
            password = await http.post("/v1/stations/SIM2/calls", json={
                "action": "SetVariables", "payload": {"setVariableData": [{
                    "attributeValue": "another-password-123",
                    "component": {"name": "SecurityCtrlr"},
                    "variable": {"name": "BasicAuthPassword"}}]}})
        await until(lambda: _offline(system, "SIM2"))
        offline = await http.post("/v1/stations/SIM2/calls", params={"wait": 5},
                                  json=GET_HEARTBEAT)
        queued = await http.post("/v1/stations/SIM2/calls",
                                 params={"wait": 0.5, "queue_for": 60}, json=GET_HEARTBEAT)
        unknown = await http.post("/v1/stations/NOPE/calls", json=GET_HEARTBEAT)
    assert invalid.status_code == 422 and invalid.json()["error"]["code"] == "invalid_request"
    assert "Reset" in invalid.json()["error"]["message"]
    assert unknown_action.status_code == 422
    assert password.status_code == 422
    assert "set-password" in password.json()["error"]["message"]
    assert offline.status_code == 409
    assert offline.json()["error"]["code"] == "station_offline"
    assert queued.status_code == 202 and queued.json()["status"] == "queued"
    assert unknown.status_code == 404


async def _offline(system, station_id: str) -> bool:
    return not await commands.station_online(system.pool, station_id)

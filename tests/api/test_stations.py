"""``/v1/stations`` over a real server and database."""

from __future__ import annotations

from csms.store import stations
from csms.store.commands import register_node
from csms.store.db import open_pool
from tests.api.conftest import Api


async def test_register_list_show_delete(api: Api):
    async with api.client("admin") as http:
        made = await http.post("/v1/stations", json={"id": "CP-1",
                                                     "password": "correct-horse-battery"})
        assert made.status_code == 201, made.text
        assert made.headers["location"] == "/v1/stations/CP-1"
        assert made.json() == {"id": "CP-1", "security_profile": 1, "password": None}
        again = await http.post("/v1/stations", json={"id": "CP-1",
                                                      "password": "correct-horse-battery"})
        assert again.status_code == 409
        assert again.json()["error"]["code"] == "conflict"
        generated = await http.post("/v1/stations", json={"id": "CP-2",
                                                          "generate_password": True})
        assert len(generated.json()["password"]) >= 16
        shown = (await http.get("/v1/stations/CP-1")).json()
        assert shown["id"] == "CP-1" and shown["online"] is False and shown["evses"] == []
        listed = (await http.get("/v1/stations")).json()
        assert [s["id"] for s in listed["items"]] == ["CP-1", "CP-2"]
        assert (await http.delete("/v1/stations/CP-2")).status_code == 204
        gone = await http.get("/v1/stations/CP-2")
        assert gone.status_code == 404
        assert gone.json() == {"error": {"code": "not_found",
                                         "message": "no station CP-2 is registered"}}


async def test_registration_errors_name_the_field(api: Api):
    async with api.client("admin") as http:
        no_password = await http.post("/v1/stations", json={"id": "CP-3"})
        assert no_password.status_code == 422
        assert no_password.json()["error"]["message"].startswith("password:")
        bad_id = await http.post("/v1/stations", json={"id": "CP 3",
                                                       "password": "correct-horse-battery"})
        assert bad_id.status_code == 422 and bad_id.json()["error"]["message"].startswith("id:")
        not_json = await http.post("/v1/stations", content=b"{nope",
                                   headers={"Content-Type": "application/json"})
        assert not_json.status_code == 422
        assert set(not_json.json()) == {"error"}


async def test_pages_follow_the_cursor(api: Api):
    pool = await open_pool(api.database_url)
    try:
        for n in range(7):
            await stations.register_station(pool, f"P{n}", None, 0)
        await register_node(pool, "n1")
        await stations.mark_connected(pool, "P3", "n1", "ocpp2.1", "127.0.0.1:1")
    finally:
        await pool.close()
    seen = []
    cursor = None
    async with api.client("read") as http:
        while True:
            params = {"limit": 3} | ({"cursor": cursor} if cursor else {})
            page = (await http.get("/v1/stations", params=params)).json()
            seen += [(s["id"], s["online"], s["ocpp"]) for s in page["items"]]
            cursor = page["next_cursor"]
            if cursor is None:
                break
        bad = await http.get("/v1/stations", params={"cursor": "garbage"})
    assert [s[0] for s in seen] == [f"P{n}" for n in range(7)]
    assert ("P3", True, "2.1") in seen
    assert bad.status_code == 422 and bad.json()["error"]["message"].startswith("cursor:")


async def test_tokens_saved_listed_removed(api: Api):
    async with api.client("admin") as http:
        saved = await http.put("/v1/tokens", json={"id_token": "04A2B3C4",
                                                   "group_id_token": "FLEET-A"})
        blocked = await http.put("/v1/tokens", json={"id_token": "04a2b3c4",
                                                     "status": "Blocked"})
        other = await http.put("/v1/tokens", json={"id_token": "EMAID1", "token_type": "eMAID"})
        bad = await http.put("/v1/tokens", json={"id_token": "X", "status": "Maybe"})
        first = (await http.get("/v1/tokens", params={"limit": 1})).json()
        rest = (await http.get("/v1/tokens", params={"cursor": first["next_cursor"]})).json()
        removed = await http.delete("/v1/tokens/04A2B3C4")
        again = await http.delete("/v1/tokens/04A2B3C4")
    assert saved.json()["group_token_type"] == "Central"
    assert blocked.json()["status"] == "Blocked" and other.status_code == 200
    assert bad.status_code == 422
    assert [t["id_token"] for t in first["items"] + rest["items"]] == ["04A2B3C4", "EMAID1"]
    assert removed.status_code == 204 and again.status_code == 404

"""Every route with every scope: no key or a wrong key is 401, a key without the scope 403,
a key with it gets the route's answer; errors are the JSON error body."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from itertools import count
from typing import Any

import httpx
import pytest

from csms.api.auth import CACHE_SECONDS, GRANTS, Scope
from csms.store import api_keys, stations
from csms.store.db import open_pool
from csms.store.grid.fleet import save_driver_settings
from csms.store.grid.records import DriverSettings
from csms.store.webhooks import add_webhook
from tests.api.conftest import SCOPES, Api

SOON = (datetime.now(UTC) + timedelta(days=1)).replace(microsecond=0)
_serial = count()


def _event_body() -> dict[str, Any]:
    return {"start": SOON.isoformat(), "duration_s": 3600, "target_kw": 10}


def _dispatch() -> dict[str, Any]:
    return {"id": f"D{next(_serial)}", "timeslots": [
        {"start_time": SOON.isoformat(), "end_time": (SOON + timedelta(hours=1)).isoformat(),
         "energy_kw": 5}]}


#: (method, path, scope needed, request keywords, statuses expected with the scope)
ROUTES: list[tuple[str, str, Scope, Any, set[int]]] = [
    ("GET", "/v1/stations", Scope.READ, None, {200}),
    ("GET", "/v1/stations/CP-1", Scope.READ, None, {200}),
    ("POST", "/v1/stations", Scope.ADMIN,
     lambda: {"json": {"id": f"NEW-{next(_serial)}", "security_profile": 0}}, {201}),
    ("DELETE", "/v1/stations/NOPE", Scope.ADMIN, None, {404}),
    ("POST", "/v1/stations/CP-1/calls", Scope.OPERATE,
     lambda: {"json": {"action": "Reset", "payload": {"type": "Immediate"}}}, {409}),
    ("GET", "/v1/commands/1", Scope.READ, None, {404}),
    ("GET", "/v1/transactions", Scope.READ, None, {200}),
    ("GET", "/v1/transactions/T-1", Scope.READ, None, {404}),
    ("GET", "/v1/meter-values", Scope.READ, None, {200}),
    ("GET", "/v1/stations/CP-1/profiles", Scope.READ, None, {200}),
    ("POST", "/v1/stations/CP-1/profiles", Scope.OPERATE,
     lambda: {"json": {"evse": 1, "charge_kw": 5}}, {409}),
    ("DELETE", "/v1/stations/CP-1/profiles", Scope.OPERATE, None, {409}),
    ("GET", "/v1/fleet/capacity", Scope.READ,
     lambda: {"params": {"from": SOON.isoformat(),
                         "until": (SOON + timedelta(hours=2)).isoformat()}}, {200}),
    ("GET", "/v1/programs", Scope.READ, None, {200}),
    ("GET", "/v1/programs/default", Scope.READ, None, {200}),
    ("POST", "/v1/programs", Scope.DISPATCH,
     lambda: {"json": {"name": f"prog-{next(_serial)}"}}, {201}),
    ("GET", "/v1/events", Scope.READ, None, {200}),
    ("POST", "/v1/events", Scope.DISPATCH, lambda: {"json": _event_body()}, {201}),
    ("POST", "/v1/events/import", Scope.DISPATCH, lambda: {"json": _dispatch()}, {200}),
    ("GET", "/v1/events/1", Scope.READ, None, {200}),
    ("POST", "/v1/events/1/cancel", Scope.DISPATCH, None, {200, 409}),
    ("GET", "/v1/events/1/report", Scope.READ, None, {200}),
    ("GET", "/v1/drivers/TOKEN-1", Scope.READ, None, {200}),
    ("PUT", "/v1/drivers/TOKEN-1", Scope.DISPATCH,
     lambda: {"json": {"floor_soc": 0.3, "opt_out": False}}, {200}),
    ("GET", "/v1/tokens", Scope.READ, None, {200}),
    ("PUT", "/v1/tokens", Scope.ADMIN,
     lambda: {"json": {"id_token": "04A2B3C4", "status": "Blocked"}}, {200}),
    ("DELETE", "/v1/tokens/NOPE", Scope.ADMIN, None, {404}),
    ("GET", "/v1/stream", Scope.READ, None, {200}),
    ("POST", "/v1/webhooks", Scope.ADMIN,
     lambda: {"json": {"url": "http://127.0.0.1:9/hook", "types": ["station.connected"],
                       "secret": "a-secret-of-16-chars"}}, {201}),
    ("GET", "/v1/webhooks", Scope.ADMIN, None, {200}),
    ("GET", "/v1/webhooks/1", Scope.ADMIN, None, {200}),
    ("GET", "/v1/webhooks/1/deliveries", Scope.ADMIN, None, {200}),
    ("DELETE", "/v1/webhooks/999", Scope.ADMIN, None, {404}),
    ("GET", "/v1/api-keys", Scope.ADMIN, None, {200}),
    ("POST", "/v1/api-keys", Scope.ADMIN,
     lambda: {"json": {"name": "more", "scope": "read"}}, {201}),
    ("DELETE", "/v1/api-keys/999", Scope.ADMIN, None, {404}),
]


@pytest.fixture
async def seeded(api: Api) -> Api:
    pool = await open_pool(api.database_url)
    try:
        await stations.register_station(pool, "CP-1", None, 0)
        await save_driver_settings(pool, DriverSettings("token", "TOKEN-1", floor_soc=0.25))
        await add_webhook(pool, "http://127.0.0.1:9/hook", ["station.connected"],
                          "a-secret-of-16-chars")
    finally:
        await pool.close()
    async with api.client("dispatch") as http:
        assert (await http.post("/v1/events", json=_event_body())).status_code == 201
    return api


async def _send(http: httpx.AsyncClient, method: str, path: str, kwargs: Any,
                headers: dict[str, str]) -> httpx.Response:
    extra = kwargs() if callable(kwargs) else {}
    if path == "/v1/stream":
        async with http.stream(method, path, headers=headers) as response:
            if response.status_code == 200:
                return response
            await response.aread()
            return response
    return await http.request(method, path, headers=headers, **extra)


def _is_error(response: httpx.Response, status: int, code: str) -> None:
    assert response.status_code == status, (response.status_code, response.text)
    body = response.json()
    assert set(body) == {"error"} and body["error"]["code"] == code
    assert body["error"]["message"] and "Traceback" not in response.text


async def test_every_route_with_every_scope(seeded: Api):
    api = seeded
    async with httpx.AsyncClient(base_url=api.url, timeout=30) as http:
        for method, path, needed, kwargs, ok in ROUTES:
            where = f"{method} {path}"
            _is_error(await _send(http, method, path, kwargs, {}), 401, "unauthorized")
            _is_error(await _send(http, method, path, kwargs,
                                  {"Authorization": "Bearer csms_not-a-key"}), 401,
                      "unauthorized")
            for scope in SCOPES:
                response = await _send(http, method, path, kwargs, api.headers(scope))
                if needed in GRANTS[Scope(scope)]:
                    assert response.status_code in ok, (where, scope, response.status_code,
                                                        response.text)
                else:
                    _is_error(response, 403, "forbidden")


async def test_revoked_key_is_refused_and_last_use_recorded(api: Api):
    async with api.client("admin") as http:
        made = (await http.post("/v1/api-keys", json={"name": "temp", "scope": "read"})).json()
        key = made["key"]
        assert key.startswith("csms_") and len(key) > 40 and made["prefix"] == key[:11]
        listed = (await http.get("/v1/api-keys")).json()
        assert all("key" not in k for k in listed)
        headers = {"Authorization": f"Bearer {key}"}
        assert (await http.get("/v1/stations", headers=headers)).status_code == 200
        assert (await http.delete(f"/v1/api-keys/{made['id']}")).status_code == 204
        deadline = asyncio.get_running_loop().time() + CACHE_SECONDS + 2
        while (await http.get("/v1/stations", headers=headers)).status_code != 401:
            assert asyncio.get_running_loop().time() < deadline, "still admitted"
            await asyncio.sleep(0.2)
    pool = await open_pool(api.database_url)
    try:
        [stored] = [k for k in await api_keys.list_keys(pool) if k.id == made["id"]]
        assert stored.revoked_at is not None
        assert await api_keys.key_by_hash(pool, b"x" * 32) is None
    finally:
        await pool.close()


async def test_docs_and_openapi_need_no_key(api: Api):
    async with api.client(None) as http:
        spec = await http.get("/openapi.json")
        docs = await http.get("/docs")
        health = await http.get("/healthz")
        ready = await http.get("/readyz")
        missing = await http.get("/v1/nothing-here")
    assert spec.status_code == 200 and spec.json()["openapi"].startswith("3.")
    assert docs.status_code == 200 and "swagger" in docs.text.lower()
    assert health.json() == {"status": "ok"} and ready.json() == {"status": "ok"}
    _is_error(missing, 404, "not_found")

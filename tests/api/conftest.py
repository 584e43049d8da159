"""A real API server (uvicorn on 127.0.0.1, in a thread with its own event loop) over the
test database, keys of every scope, and an HTTP client."""

from __future__ import annotations

import threading
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, replace

import httpx
import pytest
import uvicorn

from csms.api.app import create_app
from csms.api.auth import hash_key, new_key, shown_prefix
from csms.api.context import ApiSettings
from csms.api.server import bind
from csms.store import api_keys
from csms.store.db import open_pool

SCOPES = ("read", "operate", "dispatch", "admin")


class ThreadedApi:
    """An API process's server, run in a thread of this process (its own event loop)."""

    def __init__(self, settings: ApiSettings) -> None:
        self.sock = bind("127.0.0.1", 0)
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        config = uvicorn.Config(create_app(settings), log_config=None, access_log=False,
                                lifespan="on", timeout_graceful_shutdown=1)
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self.sock]},
                                       daemon=True)

    def start(self) -> ThreadedApi:
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the API server did not start")
            time.sleep(0.02)
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(15)
        self.sock.close()


@dataclass
class Api:
    """The running API: its base URL, a key per scope, the database URL."""

    url: str
    keys: dict[str, str]
    database_url: str

    def headers(self, scope: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.keys[scope]}"}

    def client(self, scope: str | None = "admin", **kw: object) -> httpx.AsyncClient:
        headers = self.headers(scope) if scope else {}
        kw.setdefault("timeout", 30)
        return httpx.AsyncClient(base_url=self.url, headers=headers, **kw)  # type: ignore[arg-type]


async def make_keys(database_url: str) -> dict[str, str]:
    """One key of every scope."""
    pool = await open_pool(database_url)
    try:
        keys = {}
        for scope in SCOPES:
            key = new_key()
            await api_keys.add_key(pool, f"test-{scope}", scope, shown_prefix(key),
                                   hash_key(key))
            keys[scope] = key
        return keys
    finally:
        await pool.close()


@pytest.fixture
def api_settings(database_url: str) -> ApiSettings:
    return ApiSettings(database_url=database_url, lease_s=2.0)


@pytest.fixture
def running_api(api_settings: ApiSettings) -> Iterator[ThreadedApi]:
    server = ThreadedApi(api_settings).start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
async def api(running_api: ThreadedApi, database_url: str) -> AsyncIterator[Api]:
    yield Api(running_api.url, await make_keys(database_url), database_url)


def settings(database_url: str, **overrides: object) -> ApiSettings:
    return replace(ApiSettings(database_url=database_url, lease_s=2.0), **overrides)  # type: ignore[arg-type]

"""Fixtures for the handler tests: a migrated pool, a registered station, and ``call`` which runs
a handler the way the server does, checking request and response against the official schemas."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import asyncpg
import pytest
import structlog

from csms.blocks import handlers_for
from csms.blocks.station_context import BlockConfig, StationContext
from csms.ocppj import get_validator
from csms.ocppj.validation import schema_dir
from csms.operations import Operations
from csms.store import stations
from csms.store.db import open_pool

STATION = "CS-001"

Call = Callable[..., Awaitable[dict[str, Any]]]


@pytest.fixture
async def pool(migrated_url: str):
    """A pool on a fresh, migrated database with the station CS-001 registered, and an
    :class:`Operations` on it for the handlers' follow-up calls."""
    p = await open_pool(migrated_url, min_size=1, max_size=4)
    await stations.register_station(p, STATION, "correct horse battery staple")
    operations = Operations(p, migrated_url)
    _OPERATIONS[id(p)] = operations
    yield p
    await operations.stop()
    _OPERATIONS.pop(id(p), None)
    await p.close()


_OPERATIONS: dict[int, Operations] = {}


def make_call(pool: asyncpg.Pool, version: str, config: BlockConfig | None = None) -> Call:
    """A function that validates a request, runs its handler for CS-001, validates the response."""
    ctx = StationContext(STATION, version, pool, config or BlockConfig(),
                         structlog.get_logger("test"), "node-test", _OPERATIONS.get(id(pool)))
    handlers = handlers_for(version)
    validator = get_validator(version)

    async def call(action: str, payload: dict[str, Any]) -> dict[str, Any]:
        validator.validate_request(action, payload)
        response = await handlers[action](ctx, payload)
        if (schema_dir(version) / f"{action}Response.json").exists():  # not a SEND-only message
            validator.validate_response(action, response)
        return response

    return call


@pytest.fixture(params=["2.0.1", "2.1"])
def version(request: pytest.FixtureRequest) -> str:
    """Each OCPP version in turn."""
    return request.param


@pytest.fixture
def call(pool: asyncpg.Pool, version: str) -> Call:
    """``call(action, payload)`` for CS-001 in the version under test."""
    return make_call(pool, version)


@pytest.fixture
def call21(pool: asyncpg.Pool) -> Call:
    """``call(action, payload)`` for CS-001 speaking OCPP 2.1."""
    return make_call(pool, "2.1")


async def kept_notifications(pool: asyncpg.Pool, action: str) -> list[dict]:
    """The notifications of ``action`` kept as received from the station, newest first."""
    return [dict(r) for r in await pool.fetch(
        "SELECT payload FROM station_notifications WHERE station_id = $1 AND action = $2"
        " ORDER BY id DESC", STATION, action)]

"""Property-based tests of the whole API from its own OpenAPI document (schemathesis), over a
real server and database: no 5xx, and every response (errors included) matches the schema
and content type the document gives for its status."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from csms.api.app import create_app
from csms.api.context import ApiSettings
from csms.store import stations
from csms.store.db import open_pool
from tests.api.conftest import ThreadedApi, make_keys

#: examples per operation: enough to reach every parameter's edges, quick enough to run often
EXAMPLES = 12


@dataclass
class Target:
    url: str
    headers: dict[str, str]


async def _prepare(database_url: str) -> dict[str, str]:
    keys = await make_keys(database_url)
    pool = await open_pool(database_url)
    try:
        await stations.register_station(pool, "CP-1", None, 0)
    finally:
        await pool.close()
    return keys


@pytest.fixture
def target(running_api: ThreadedApi, database_url: str) -> Target:
    keys = asyncio.run(_prepare(database_url))
    return Target(running_api.url, {"Authorization": f"Bearer {keys['admin']}"})


# The document the server publishes at /openapi.json (made without a database); the test
# against the served one is in test_auth.
DOCUMENT = create_app(ApiSettings(database_url="postgresql:///unused")).openapi()
# the stream never ends; revoking keys would revoke the test's own
schema = schemathesis.openapi.from_dict(DOCUMENT).exclude(path="/v1/stream").exclude(
    path="/v1/api-keys/{key_id}", method="DELETE")


@schema.parametrize()
@settings(max_examples=EXAMPLES, deadline=None,
          suppress_health_check=list(HealthCheck))
def test_api_conforms_to_its_openapi_document(case, target: Target):
    case.call_and_validate(
        base_url=target.url, headers=target.headers, timeout=30,
        checks=[not_a_server_error, status_code_conformance, content_type_conformance,
                response_schema_conformance])

"""``csms profiles composite`` against the answers real stations give, played through the store
(see :mod:`tests.cli.node`)."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from typer.testing import Result

from tests.cli.conftest import assert_error, assert_ok, run_cli_async
from tests.cli.node import connect_station, serve_one


async def _composite(database_url: str, response: dict[str, Any], *extra: str) -> Result:
    """``csms profiles composite CP-1 --evse 1 --duration 600`` answered with ``response``."""
    cli = run_cli_async("profiles", "composite", "CP-1", "--evse", "1", "--duration", "600",
                        *extra, "--database-url", database_url)
    result, command = await asyncio.gather(cli, serve_one(database_url, "CP-1",
                                                          response=response))
    assert command.action == "GetCompositeSchedule"
    return result


async def test_accepted_without_a_schedule_is_no_schedule_not_a_failure(
        database_url: str) -> None:
    await connect_station(database_url)
    out = assert_ok(await _composite(database_url, {"status": "Accepted"})).stdout
    assert "the station reports no schedule for EVSE 1 over the next 600 s" in out
    assert "None" not in out


async def test_accepted_without_a_schedule_as_json(database_url: str) -> None:
    await connect_station(database_url)
    data = json.loads(assert_ok(await _composite(database_url, {"status": "Accepted"},
                                                 "--json")).stdout)
    assert data["status"] == "Accepted"
    assert data["reported"] == []


async def test_rejected_is_still_a_failure(database_url: str) -> None:
    await connect_station(database_url)
    result = await _composite(database_url, {"status": "Rejected"})
    line = assert_error(result, 5, "rejected by the station", "no reason given")
    assert "None" not in line

"""Functional block D end to end: a live CSMS node sends a simulated station its Local
Authorization List (D01) and asks its version (D02), over real sockets; the station's list and
the CSMS's record of it are checked after each step. Named after the Part 6 cases
(TC_D_xx_CSMS, from the edition that fills section 3.5) and the D01 requirements."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import pytest

from csms.operations import Operations
from csms.operations.locallist import (
    LocalListResult,
    UpdateMode,
    get_local_list_version,
    send_local_list,
)
from csms.server import CentralSystem
from csms.store import locallist, tokens
from csms.store.devicemodel import VariableAttribute, upsert_variable_attributes
from tests.operations.conftest import StationSite, idle_station, run_cli

pytestmark = pytest.mark.e2e

STATION = "LL1"


class Site(StationSite):
    async def send(self, mode: UpdateMode) -> LocalListResult:
        return await send_local_list(self.ops, self.pool, STATION, mode, timeout=10)

    def held(self) -> dict[str, Any]:
        """What the station holds: idTokenInfo by idToken value."""
        return {value: info for (value, _), info in self.station.local_list.entries.items()}


@pytest.fixture
async def site(csms: CentralSystem, database_url: str) -> AsyncIterator[Site]:
    async with idle_station(csms, "LL") as station, Operations(csms.pool, database_url) as ops:
        yield Site(csms.pool, ops, station, database_url)


def entries_of(result: LocalListResult, part: int = 0) -> list[dict[str, Any]]:
    request = result.sent[part].outcome.request or {}
    return request.get("localAuthorizationList", [])


async def test_tc_d_01_send_local_list_full(site: Site):
    await tokens.add_token(site.pool, "D001001", "Central")
    await tokens.add_token(site.pool, "D001002", "ISO14443", group_id_token="FLEET")
    await tokens.add_token(site.pool, "D001003", "ISO14443", status="Blocked")

    result = await site.send(UpdateMode.FULL)

    assert result.ok and result.update_type == "Full"
    [part] = result.sent
    assert part.update_type == "Full" and part.version > 0  # D01.FR.18
    assert all("idTokenInfo" in e for e in entries_of(result))
    assert site.station.local_list.version == part.version == result.version
    held = site.held()
    assert set(held) == {"d001001", "d001002", "d001003"}
    assert held["d001002"]["groupIdToken"] == {"idToken": "FLEET", "type": "Central"}
    assert held["d001003"]["status"] == "Blocked"
    assert site.station.model.get("LocalAuthListCtrlr", "Entries") == "3"
    state = await locallist.get_state(site.pool, STATION)
    assert (state.version, len(state.entries), state.last_status) == (part.version, 3, "Accepted")


async def test_tc_d_02_send_local_list_differential_update(site: Site):
    await tokens.add_token(site.pool, "D002001", "Central")
    await tokens.add_token(site.pool, "D002002", "Central")
    first = await site.send(UpdateMode.FULL)
    await tokens.add_token(site.pool, "D002003", "Central")
    await tokens.add_token(site.pool, "D002002", "Central", status="Blocked")

    result = await site.send(UpdateMode.DIFFERENTIAL)

    assert result.ok and result.fallback is None and result.update_type == "Differential"
    [part] = result.sent
    assert part.update_type == "Differential" and part.version > first.version
    assert sorted(e["idToken"]["idToken"] for e in entries_of(result)) == ["D002002", "D002003"]
    held = site.held()
    assert held["d002002"]["status"] == "Blocked" and "d002003" in held and "d002001" in held
    assert site.station.local_list.version == part.version == result.version

    again = await site.send(UpdateMode.DIFFERENTIAL)
    assert again.ok and again.unchanged and again.version == part.version


async def test_tc_d_03_send_local_list_differential_remove(site: Site):
    for value in ("D003001", "D003002"):
        await tokens.add_token(site.pool, value, "Central")
    await site.send(UpdateMode.FULL)
    await tokens.remove_token(site.pool, "D003001")

    result = await site.send(UpdateMode.DIFFERENTIAL)

    assert result.ok and result.update_type == "Differential"
    # D01.FR.17: an entry without idTokenInfo removes the token
    assert entries_of(result) == [{"idToken": {"idToken": "D003001", "type": "Central"}}]
    assert set(site.held()) == {"d003002"}
    state = await locallist.get_state(site.pool, STATION)
    assert [e.id_token for e in state.entries] == ["D003002"]


async def test_tc_d_04_send_local_list_full_with_empty_list(site: Site):
    await tokens.add_token(site.pool, "D004001", "Central")
    await site.send(UpdateMode.FULL)
    await tokens.remove_token(site.pool, "D004001")

    result = await site.send(UpdateMode.FULL)

    assert result.ok
    request = result.sent[0].outcome.request
    assert request is not None and "localAuthorizationList" not in request
    assert site.station.local_list.entries == {} and site.station.local_list.version > 0
    assert (await locallist.get_state(site.pool, STATION)).entries == []


async def test_tc_d_08_get_local_list_version(site: Site):
    report = await get_local_list_version(site.ops, site.pool, STATION, timeout=10)
    assert report.outcome.ok and report.reported_version == 0 and report.in_step

    await tokens.add_token(site.pool, "D008001", "Central")
    sent = await site.send(UpdateMode.FULL)
    report = await get_local_list_version(site.ops, site.pool, STATION, timeout=10)
    assert report.reported_version == sent.version == report.recorded_version

    site.station.local_list.version = 42  # the list was changed behind the CSMS's back
    report = await get_local_list_version(site.ops, site.pool, STATION, timeout=10)
    assert report.reported_version == 42 and not report.in_step
    state = await locallist.get_state(site.pool, STATION)
    assert state.reported_version == 42


async def test_d01_a_diff_against_a_list_changed_elsewhere_sends_the_full_list(site: Site):
    await tokens.add_token(site.pool, "D009001", "Central")
    await site.send(UpdateMode.FULL)
    site.station.local_list.version = 42
    site.station.local_list.entries.clear()

    result = await site.send(UpdateMode.DIFFERENTIAL)

    assert result.ok and result.update_type == "Full" and "42" in (result.fallback or "")
    assert [p.update_type for p in result.sent] == ["Full"]
    assert result.version > 42  # versions only go up
    assert set(site.held()) == {"d009001"}


async def test_d01_version_mismatch_to_a_differential_update_sends_the_full_list(site: Site):
    await tokens.add_token(site.pool, "D010001", "Central")
    await site.send(UpdateMode.FULL)
    await tokens.add_token(site.pool, "D010002", "Central")
    real = site.station.handlers["SendLocalList"]

    async def mismatch_once(payload: dict[str, Any]) -> dict[str, Any]:
        if payload["updateType"] == "Differential":
            return {"status": "VersionMismatch"}
        return await real(payload)

    site.station.handlers["SendLocalList"] = mismatch_once

    result = await site.send(UpdateMode.DIFFERENTIAL)

    assert result.ok and "VersionMismatch" in (result.fallback or "")
    assert [(p.update_type, p.outcome.station_status) for p in result.sent] == [
        ("Differential", "VersionMismatch"), ("Full", "Accepted")]
    assert result.sent[1].version > result.sent[0].version
    assert result.parts == result.sent[1:]
    assert set(site.held()) == {"d010001", "d010002"}
    state = await locallist.get_state(site.pool, STATION)
    assert state.version == result.sent[1].version and state.last_status == "Accepted"


async def test_d01_fr_11_a_list_longer_than_items_per_message_goes_in_parts(site: Site):
    site.station.model.set("LocalAuthListCtrlr", "ItemsPerMessage", "2")
    learned = await site.ops.call(STATION, "GetVariables", {"getVariableData": [{
        "component": {"name": "LocalAuthListCtrlr"},
        "variable": {"name": "ItemsPerMessage"}}]}, timeout=10)
    assert learned.ok
    for n in range(5):
        await tokens.add_token(site.pool, f"D011{n:03}", "Central")

    result = await site.send(UpdateMode.FULL)

    assert result.ok
    first = result.sent[0].version
    assert [(p.update_type, p.version, p.entries) for p in result.sent] == [
        ("Full", first, 2), ("Differential", first + 1, 2), ("Differential", first + 2, 1)]
    assert result.parts == result.sent
    assert len(site.held()) == 5 and site.station.local_list.version == first + 2
    state = await locallist.get_state(site.pool, STATION)
    assert (state.version, len(state.entries)) == (first + 2, 5) == (result.version,
                                                                     result.entries)


async def test_d01_fr_12_a_list_the_station_cannot_hold_is_not_sent(site: Site):
    await upsert_variable_attributes(site.pool, STATION, [VariableAttribute(
        "LocalAuthListCtrlr", "Entries", value="0", characteristics={
            "dataType": "integer", "maxLimit": 2, "supportsMonitoring": False})])
    for n in range(3):
        await tokens.add_token(site.pool, f"D012{n:03}", "Central")

    result = await site.send(UpdateMode.FULL)

    assert not result.ok and result.sent == ()
    assert "at most 2" in (result.outcome.reason or "")
    assert site.station.local_list.version == 0


async def test_cli_local_list_send_version_and_show(site: Site):
    await tokens.add_token(site.pool, "D020001", "Central")
    db = site.database_url
    code, out, err = await run_cli("local-list", "send", STATION, "--diff", "--json",
                                   "--database-url", db)
    assert code == 0, err
    [summary] = json.loads(out)
    assert summary["ok"] and summary["update_type"] == "Full" and summary["fallback"]
    assert summary["messages"][0]["station_status"] == "Accepted"

    code, out, err = await run_cli("local-list", "version", STATION, "--database-url", db)
    assert code == 0, err
    assert out.strip() == f"{STATION}: version {summary['version']}, as on record"

    code, out, err = await run_cli("local-list", "send", STATION, "NOPE", "--diff",
                                   "--database-url", db)
    assert code == 3 and out.startswith(f"{STATION}: already holds the list")
    assert err.count("\n") == 1 and "NOPE" in err and "1 of 2 stations failed" in err

    code, out, err = await run_cli("local-list", "show", STATION, "--json", "--database-url", db)
    assert code == 0, err
    shown = json.loads(out)
    assert shown["version"] == summary["version"]
    assert [e["id_token"] for e in shown["entries"]] == ["D020001"]

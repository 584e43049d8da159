"""The simulated station's Local Authorization List: D01 updates, D02 version, C13 offline use."""

from __future__ import annotations

import time

import pytest

from csms.ocppj import OCPPError
from simulators.locallist import LocalList, offline_token_info
from simulators.station import Station, StationConfig

OK = {"status": "Accepted"}


def _item(value: str, info: dict | None = OK) -> dict:
    item: dict = {"idToken": {"idToken": value, "type": "Central"}}
    if info is not None:
        item["idTokenInfo"] = info
    return item


def _request(update_type: str, version: int, *items: dict) -> dict:
    request: dict = {"versionNumber": version, "updateType": update_type}
    if items:
        request["localAuthorizationList"] = list(items)
    return request


def test_full_replaces_and_differential_changes_the_list():
    local = LocalList()
    assert local.update(_request("Full", 1, _item("A"), _item("B")), 10) == ("Accepted", None)
    assert local.update(_request("Differential", 2, _item("a", {"status": "Blocked"}),
                                 _item("B", None), _item("C")), 10) == ("Accepted", None)
    assert local.version == 2
    assert local.entries == {("a", "Central"): {"status": "Blocked"}, ("c", "Central"): OK}
    assert local.update(_request("Full", 3), 10) == ("Accepted", None)  # empty: cleared
    assert local.entries == {} and local.version == 3


@pytest.mark.parametrize(("request_", "answer"), [
    (_request("Full", 0, _item("A")), ("Failed", "InvalidVersion")),  # D01.FR.18
    (_request("Full", 5, _item("A"), _item("a")), ("Failed", "DuplicateIdToken")),  # D01.FR.06
    (_request("Full", 5, _item("A", None)), ("Failed", "MissingIdTokenInfo")),
    (_request("Differential", 1, _item("A")), ("VersionMismatch", None)),  # D01.FR.19
    (_request("Full", 5, _item("A"), _item("B"), _item("C")), ("Failed", "ListFull")),
])
def test_refused_updates_change_nothing(request_: dict, answer: tuple):
    local = LocalList()
    local.update(_request("Full", 1, _item("X")), 2)
    assert local.update(request_, 2) == answer
    assert local.version == 1 and list(local.entries) == [("x", "Central")]


def _station() -> Station:
    return Station(StationConfig(station_id="LL-SIM", url="ws://127.0.0.1:9/ocpp"))


async def test_handlers_keep_entries_and_enforce_items_per_message():
    station = _station()
    send = station.handlers["SendLocalList"]
    assert await send(_request("Full", 4, _item("A"), _item("B"))) == {"status": "Accepted"}
    assert station.model.get("LocalAuthListCtrlr", "Entries") == "2"
    assert await station.handlers["GetLocalListVersion"]({}) == {"versionNumber": 4}
    station.model.set("LocalAuthListCtrlr", "ItemsPerMessage", "1")
    with pytest.raises(OCPPError) as caught:
        await send(_request("Full", 5, _item("A"), _item("B")))
    assert caught.value.code == "OccurrenceConstraintViolation"


def test_c13_offline_the_list_decides_for_the_tokens_it_holds():
    station = _station()
    local, model = station.local_list, station.model
    past = "2020-01-01T00:00:00Z"
    local.update(_request("Full", 1, _item("BLOCKED", {"status": "Blocked"}),
                          _item("OLD", {"status": "Accepted", "cacheExpiryDateTime": past}),
                          _item("GOOD")), None)
    now = time.time()

    def status(value: str) -> str:
        return offline_token_info(model, local, {"idToken": value, "type": "Central"},
                                  now)["status"]

    assert [status(v) for v in ("good", "BLOCKED", "OLD", "STRANGER")] == [
        "Accepted", "Blocked", "Expired", "Accepted"]
    model.set("LocalAuthListCtrlr", "Enabled", "false")
    assert status("BLOCKED") == "Accepted"
    model.set("AuthCtrlr", "LocalAuthorizeOffline", "false")
    assert status("GOOD") == "Invalid"

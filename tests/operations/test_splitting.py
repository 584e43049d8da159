"""Requests split to the station's ItemsPerMessage / BytesPerMessage, answers merged."""

from __future__ import annotations

import orjson

from csms.operations.splitting import FRAME_OVERHEAD, limits_for, merge_responses, split_request


def _get(n: int) -> dict:
    return {"getVariableData": [{"component": {"name": f"C{i}"}, "variable": {"name": "V"}}
                                for i in range(n)]}


def test_b06_fr_05_get_variables_split_by_items_per_message():
    parts = split_request("GetVariables", _get(7), 3, None)
    assert [len(p["getVariableData"]) for p in parts] == [3, 3, 1]
    assert [i["component"]["name"] for p in parts for i in p["getVariableData"]] == [
        f"C{i}" for i in range(7)]


def test_split_by_bytes_per_message_keeps_every_part_within_the_limit():
    payload = _get(40)
    limit = 600
    parts = split_request("GetVariables", payload, None, limit)
    assert len(parts) > 1
    assert all(len(orjson.dumps(p)) + FRAME_OVERHEAD <= limit for p in parts)
    assert sum(len(p["getVariableData"]) for p in parts) == 40


def test_n06_fr_04_clear_variable_monitoring_split():
    parts = split_request("ClearVariableMonitoring", {"id": list(range(10))}, 4, None)
    assert [p["id"] for p in parts] == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]


def test_within_limits_or_without_a_list_is_one_request():
    assert split_request("GetVariables", _get(2), 3, 10_000) == [_get(2)]
    assert split_request("Reset", {"type": "Immediate"}, 1, 10) == [{"type": "Immediate"}]


def test_limits_come_from_the_device_model():
    variables = {("DeviceDataCtrlr", "ItemsPerMessageGetVariables"): "4",
                 ("DeviceDataCtrlr", "BytesPerMessageGetVariables"): "junk"}
    assert limits_for("GetVariables", variables) == (4, None)
    assert limits_for("Reset", variables) == (None, None)


def test_results_are_joined_and_status_answers_keep_the_worst():
    merged = merge_responses("GetVariables", [{"getVariableResult": [1, 2]},
                                              {"getVariableResult": [3]}])
    assert merged == {"getVariableResult": [1, 2, 3]}
    assert merge_responses("SendLocalList", [{"status": "Accepted"}, {"status": "Failed"},
                                             {"status": "Accepted"}]) == {"status": "Failed"}


def _local_list(n: int, update_type: str = "Full") -> dict:
    return {"versionNumber": 7, "updateType": update_type, "localAuthorizationList": [
        {"idToken": {"idToken": f"T{i}", "type": "Central"}, "idTokenInfo": {"status": "Accepted"}}
        for i in range(n)]}


def test_d01_fr_11_a_long_full_list_is_a_full_update_then_differential_ones():
    parts = split_request("SendLocalList", _local_list(5), 2, None)
    assert [(p["updateType"], p["versionNumber"], len(p["localAuthorizationList"]))
            for p in parts] == [("Full", 7, 2), ("Differential", 8, 2), ("Differential", 9, 1)]
    assert [e["idToken"]["idToken"] for p in parts for e in p["localAuthorizationList"]] == [
        f"T{i}" for i in range(5)]


def test_d01_fr_19_each_differential_part_has_a_higher_version():
    parts = split_request("SendLocalList", _local_list(3, "Differential"), 1, None)
    assert [(p["updateType"], p["versionNumber"]) for p in parts] == [
        ("Differential", 7), ("Differential", 8), ("Differential", 9)]


def test_a_local_list_within_the_limits_keeps_its_version():
    assert split_request("SendLocalList", _local_list(2), 2, None) == [_local_list(2)]

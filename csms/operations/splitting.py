"""Requests split to fit a station's message limits, and their answers merged.

A station states in its device model how many items (``ItemsPerMessage...``) and bytes
(``BytesPerMessage...``) one request of some actions may hold. A request with more is split
into several, each within both limits, in order (B06.FR.05, B08.FR.xx, N06.FR.04, D01.FR.11);
their responses are merged into one.

The parts of a SendLocalList build one list, so they are numbered apart (see
:func:`local_list_parts`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import orjson

#: Room for the OCPP-J frame around a payload: ``[2,"<36-char id>","<action>",`` and ``]``.
FRAME_OVERHEAD = 80


@dataclass(frozen=True)
class Split:
    """Where an action's list lives, which device-model variables limit it, and where the
    answer's list is."""

    field: str
    component: str
    items_variable: str
    bytes_variable: str
    result_field: str | None  #: None: the answer is a status, merged as the worst one


SPLITS: dict[str, Split] = {
    "GetVariables": Split("getVariableData", "DeviceDataCtrlr", "ItemsPerMessageGetVariables",
                          "BytesPerMessageGetVariables", "getVariableResult"),
    "SetVariables": Split("setVariableData", "DeviceDataCtrlr", "ItemsPerMessageSetVariables",
                          "BytesPerMessageSetVariables", "setVariableResult"),
    "GetReport": Split("componentVariable", "DeviceDataCtrlr", "ItemsPerMessageGetReport",
                       "BytesPerMessageGetReport", None),
    "SetVariableMonitoring": Split("setMonitoringData", "MonitoringCtrlr",
                                   "ItemsPerMessageSetVariableMonitoring",
                                   "BytesPerMessageSetVariableMonitoring", "setMonitoringResult"),
    "ClearVariableMonitoring": Split("id", "MonitoringCtrlr",
                                     "ItemsPerMessageClearVariableMonitoring",
                                     "BytesPerMessageClearVariableMonitoring",
                                     "clearMonitoringResult"),
    "GetMonitoringReport": Split("componentVariable", "MonitoringCtrlr",
                                 "ItemsPerMessageGetReport", "BytesPerMessageGetReport", None),
    "SendLocalList": Split("localAuthorizationList", "LocalAuthListCtrlr", "ItemsPerMessage",
                           "BytesPerMessage", None),
}


def limits_for(action: str, variables: Mapping[tuple[str, str], str | None]
               ) -> tuple[int | None, int | None]:
    """(items, bytes) per message of ``action`` from the station's device model
    (``(component, variable) -> value``); None where the station states no limit."""
    split = SPLITS.get(action)
    if split is None:
        return None, None
    return (_positive(variables.get((split.component, split.items_variable))),
            _positive(variables.get((split.component, split.bytes_variable))))


def _positive(value: str | None) -> int | None:
    try:
        number = int(value) if value is not None else None
    except ValueError:
        return None
    return number if number is not None and number > 0 else None


def split_request(action: str, payload: dict[str, Any], max_items: int | None,
                  max_bytes: int | None) -> list[dict[str, Any]]:
    """``payload`` as one or more requests, each with at most ``max_items`` items of the
    action's list and at most ``max_bytes`` bytes as a frame; the items keep their order.

    An item too large for ``max_bytes`` on its own goes alone (the station will say what it
    thinks of it). Actions that have no list, or requests within both limits, are one request.
    """
    split = SPLITS.get(action)
    items = payload.get(split.field) if split else None
    if split is None or not isinstance(items, list) or not items:
        return [payload]
    if (max_items is None or len(items) <= max_items) and (
            max_bytes is None or _size(payload) <= max_bytes):
        return [payload]
    rest = {k: v for k, v in payload.items() if k != split.field}
    base = _size(rest) + len(split.field) + 6  # "field":[ ... ] and a comma
    parts: list[list[Any]] = [[]]
    size = base
    for item in items:
        item_size = len(orjson.dumps(item)) + 1
        full = max_items is not None and len(parts[-1]) >= max_items
        too_big = max_bytes is not None and size + item_size > max_bytes
        if parts[-1] and (full or too_big):
            parts.append([])
            size = base
        parts[-1].append(item)
        size += item_size
    requests = [{**rest, split.field: part} for part in parts]
    return local_list_parts(requests) if action == "SendLocalList" else requests


def local_list_parts(requests: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The parts of one SendLocalList, made to build the whole list on the station.

    D01.FR.11: a list too long for one message goes as a first part with the request's
    updateType and the rest as Differential updates (a Full one would replace the parts before
    it). D01.FR.19: a station answers VersionMismatch to a Differential update whose
    versionNumber is not above its list's, so part ``i`` carries versionNumber + ``i``: the
    station holds the whole list, at the last part's version, once every part is accepted.
    """
    first = requests[0]["versionNumber"]
    return [request if i == 0 else {**request, "updateType": "Differential",
                                    "versionNumber": first + i}
            for i, request in enumerate(requests)]


def _size(payload: Mapping[str, Any]) -> int:
    return len(orjson.dumps(payload)) + FRAME_OVERHEAD


def merge_responses(action: str, responses: list[dict[str, Any]]) -> dict[str, Any]:
    """One response for the parts of a split request: their result lists joined in order, or
    (for a status answer) the first part's that is not Accepted, else the last part's."""
    if len(responses) == 1:
        return responses[0]
    split = SPLITS[action]
    if split.result_field is not None:
        merged = dict(responses[-1])
        merged[split.result_field] = [r for response in responses
                                      for r in response.get(split.result_field, [])]
        return merged
    return next((r for r in responses if r.get("status") != "Accepted"), responses[-1])

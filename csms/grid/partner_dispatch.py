"""A market partner's dispatch (JSON) turned into event requests. Pure parsing, no I/O.

The dispatch is an object with an id (``id``, ``dispatch_id`` or ``event_id``) and
``timeslots``; each timeslot has ``start_time`` and ``end_time`` (RFC 3339 with an offset),
``energy_kw`` (export kW; null = as much as possible), and optionally ``nomination_kw``,
``cancelled``, ``programs``, ``priority``, ``is_voluntary`` and ``cap``. Each timeslot becomes
one event whose external id is ``<dispatch id>/<slot index>``: importing the same dispatch again
updates (or cancels) those events instead of adding new ones.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from csms.ocppj.datetimes import parse_datetime
from csms.store.grid.records import GridInputError


@dataclass(frozen=True)
class SlotRequest:
    """One timeslot of a dispatch, checked."""

    external_id: str
    start: datetime
    end: datetime
    target_kw: float | None
    nomination_kw: float | None
    cancelled: bool
    programs: tuple[str, ...]
    raw: dict[str, Any] = field(default_factory=dict)


def _json(value: Any) -> str:
    """A value of the dispatch as it was written (JSON), for error messages."""
    return json.dumps(value, ensure_ascii=False, default=str)


def _time(value: Any, where: str) -> datetime:
    if not isinstance(value, str):
        raise GridInputError(f"{where}: expected an RFC 3339 time string, got {_json(value)}")
    try:
        return parse_datetime(value)  # a time without offset is UTC, as everywhere
    except ValueError:
        raise GridInputError(f"{where}: not an RFC 3339 time: {_json(value)}") from None


def _kw(value: Any, where: str, *, nullable: bool) -> float | None:
    if value is None and nullable:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(
            value) or value < 0:
        raise GridInputError(f"{where}: expected a number of kW >= 0, got {_json(value)}")
    return float(value)


def parse_dispatch(data: Any) -> tuple[str, list[SlotRequest]]:
    """Check a dispatch and return its id and timeslots; GridInputError names the bad field."""
    if not isinstance(data, Mapping):
        raise GridInputError("the dispatch must be a JSON object")
    dispatch_id = next((data[k] for k in ("id", "dispatch_id", "event_id") if k in data), None)
    if not isinstance(dispatch_id, str | int) or isinstance(dispatch_id, bool) or \
            str(dispatch_id) == "":
        raise GridInputError("id: the dispatch needs an id (id, dispatch_id or event_id)")
    slots = data.get("timeslots")
    if not isinstance(slots, list) or not slots:
        raise GridInputError("timeslots: expected a non-empty list")
    out = []
    for i, slot in enumerate(slots):
        where = f"timeslots[{i}]"
        if not isinstance(slot, Mapping):
            raise GridInputError(f"{where}: expected an object")
        for key in ("start_time", "end_time"):
            if key not in slot:
                raise GridInputError(f"{where}.{key}: missing")
        start = _time(slot["start_time"], f"{where}.start_time")
        end = _time(slot["end_time"], f"{where}.end_time")
        if end <= start:
            raise GridInputError(f"{where}.end_time: must be after start_time")
        if "energy_kw" not in slot:
            raise GridInputError(f"{where}.energy_kw: missing (null means as much as possible)")
        target = _kw(slot["energy_kw"], f"{where}.energy_kw", nullable=True)
        nomination = _kw(slot.get("nomination_kw"), f"{where}.nomination_kw", nullable=True)
        cancelled = slot.get("cancelled", False)
        if not isinstance(cancelled, bool):
            raise GridInputError(f"{where}.cancelled: expected true or false")
        programs = slot.get("programs", [])
        if isinstance(programs, str):
            programs = [programs]
        if not isinstance(programs, list) or not all(isinstance(p, str) for p in programs):
            raise GridInputError(f"{where}.programs: expected a list of program names")
        out.append(SlotRequest(f"{dispatch_id}/{i}", start, end, target, nomination, cancelled,
                               tuple(programs), dict(slot)))
    return str(dispatch_id), out

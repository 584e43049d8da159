"""Parsing a market partner's dispatch: timeslots, nulls, cancellations, bad fields named."""

from __future__ import annotations

import pytest

from csms.grid.partner_dispatch import parse_dispatch
from csms.store.grid.records import GridInputError

SLOT = {"start_time": "2025-07-15T16:00:00-07:00", "end_time": "2025-07-15T18:00:00-07:00",
        "energy_kw": 300, "nomination_kw": 350, "cancelled": False, "programs": ["CEC-DSGS"]}


def test_slots_become_requests_keyed_by_dispatch_and_index() -> None:
    dispatch_id, slots = parse_dispatch(
        {"id": "d-42", "timeslots": [SLOT, {**SLOT, "energy_kw": None, "cancelled": True}]})
    assert dispatch_id == "d-42"
    assert [s.external_id for s in slots] == ["d-42/0", "d-42/1"]
    assert slots[0].target_kw == 300.0 and slots[0].nomination_kw == 350.0
    assert slots[1].target_kw is None and slots[1].cancelled
    assert slots[0].programs == ("CEC-DSGS",)
    assert slots[0].end.utcoffset().total_seconds() == -7 * 3600


@pytest.mark.parametrize(("data", "named"), [
    ([], "JSON object"),
    ({"timeslots": [SLOT]}, "id"),
    ({"id": "x", "timeslots": []}, "timeslots"),
    ({"id": "x", "timeslots": [{**SLOT, "start_time": "soon"}]}, "timeslots[0].start_time"),
    ({"id": "x", "timeslots": [{**SLOT, "end_time": "2025-07-15T18:00:00"}]},
     "timeslots[0].end_time"),
    ({"id": "x", "timeslots": [SLOT, {**SLOT, "energy_kw": -3}]}, "timeslots[1].energy_kw"),
    ({"id": "x", "timeslots": [{k: v for k, v in SLOT.items() if k != "energy_kw"}]},
     "timeslots[0].energy_kw"),
    ({"id": "x", "timeslots": [{**SLOT, "cancelled": "yes"}]}, "timeslots[0].cancelled"),
    ({"id": "x", "timeslots": [{**SLOT, "end_time": SLOT["start_time"]}]},
     "must be after start_time"),
])
def test_bad_dispatches_name_the_field(data: object, named: str) -> None:
    with pytest.raises(GridInputError, match=named.replace("[", r"\[").replace("]", r"\]")):
        parse_dispatch(data)

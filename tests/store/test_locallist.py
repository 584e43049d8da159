"""The CSMS's record of each station's Local Authorization List follows the station's answers."""

from __future__ import annotations

import asyncpg

from csms.store import locallist
from csms.store.locallist import ListEntry

OK = {"status": "Accepted"}


def _entry(value: str, info: dict | None = OK, token_type: str = "Central") -> ListEntry:
    return ListEntry(value, token_type, info)


async def test_nothing_recorded_reads_as_version_0(pool: asyncpg.Pool, station: str):
    state = await locallist.get_state(pool, station)
    assert (state.version, state.entries, state.next_version) == (0, [], 1)


async def test_an_accepted_full_update_replaces_the_list(pool: asyncpg.Pool, station: str):
    await locallist.record_answer(pool, station, "Full", 3, [_entry("A"), _entry("B")],
                                  "Accepted")
    await locallist.record_answer(pool, station, "Full", 4, [_entry("C")], "Accepted")
    state = await locallist.get_state(pool, station)
    assert state.version == 4 and [e.id_token for e in state.entries] == ["C"]
    assert (state.last_update_type, state.last_status, state.next_version) == (
        "Full", "Accepted", 5)


async def test_a_differential_update_adds_changes_and_removes(pool: asyncpg.Pool, station: str):
    await locallist.record_answer(pool, station, "Full", 1, [_entry("A"), _entry("B")],
                                  "Accepted")
    blocked = {"status": "Blocked"}
    await locallist.record_answer(
        pool, station, "Differential", 2,
        [_entry("a", blocked), _entry("C"), _entry("B", None)], "Accepted")
    state = await locallist.get_state(pool, station)
    assert state.version == 2
    assert [(e.id_token, e.info) for e in state.entries] == [("a", blocked), ("C", OK)]


async def test_a_refused_update_changes_only_the_last_answer(pool: asyncpg.Pool, station: str):
    await locallist.record_answer(pool, station, "Full", 1, [_entry("A")], "Accepted")
    await locallist.record_answer(pool, station, "Differential", 9, [_entry("B")],
                                  "VersionMismatch", "no")
    state = await locallist.get_state(pool, station)
    assert state.version == 1 and [e.id_token for e in state.entries] == ["A"]
    assert (state.last_status, state.last_reason, state.last_version) == (
        "VersionMismatch", "no", 9)
    assert state.next_version == 10  # above every version sent, accepted or not


async def test_the_reported_version_is_kept_and_counts_for_the_next(pool: asyncpg.Pool,
                                                                     station: str):
    await locallist.record_reported_version(pool, station, 41)
    state = await locallist.get_state(pool, station)
    assert (state.version, state.reported_version, state.next_version) == (0, 41, 42)

"""Functional block D from the CSMS's side: send a station its Local Authorization List, built
from the ID tokens the CSMS knows, whole (Full) or as the changes since the version the station
holds (Differential), and ask which version it holds (D01, D02).

What the station holds is recorded as it answers (:mod:`csms.blocks.responses`, by the node
that sends each request), so the functions here read it back from the store.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

import asyncpg

from csms.blocks.authorization import token_info
from csms.operations.client import DEFAULT_TIMEOUT, Operations, request_problem
from csms.operations.outcome import Outcome, Status, refused
from csms.store import devicemodel, locallist, tokens
from csms.store.locallist import ListEntry, LocalListState


class UpdateMode(StrEnum):
    """What the operator asked to send."""

    FULL = "Full"  #: the whole list, replacing the station's
    DIFFERENTIAL = "Differential"  #: only what changed since the version the station holds


#: The answers to a Differential update after which the whole list is sent instead
#: (D01: "the CSMS SHOULD retry sending the full Local Authorization List").
_RETRY_IN_FULL = frozenset({"VersionMismatch", "Failed"})


@dataclass(frozen=True)
class SentPart:
    """One SendLocalList sent: its updateType, versionNumber, entry count and outcome."""

    update_type: str
    version: int
    entries: int
    outcome: Outcome


@dataclass(frozen=True)
class LocalListResult:
    """How sending a station its list ended.

    ``outcome`` is the last call's (ok: the station holds the list at ``version``); ``sent``
    every SendLocalList in order; ``fallback`` why a Differential update became a Full one;
    ``skipped`` the tokens the station's OCPP version cannot carry. ``version`` and ``entries``
    are what the CSMS believes the station holds now.
    """

    station_id: str
    mode: UpdateMode
    outcome: Outcome
    version: int
    entries: int
    sent: tuple[SentPart, ...] = ()
    fallback: str | None = None
    skipped: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        """True when the station holds the list (sent now, or already in step)."""
        return self.outcome.ok

    @property
    def unchanged(self) -> bool:
        """True when the station already held the list, so nothing was sent."""
        return self.outcome.ok and not self.sent

    @property
    def update_type(self) -> str | None:
        """The updateType of the last update sent (None when nothing was sent)."""
        if not self.sent:
            return None
        return "Full" if self.mode is UpdateMode.FULL or self.fallback else "Differential"

    @property
    def parts(self) -> tuple[SentPart, ...]:
        """The messages of the last update sent (a refused Differential one left out)."""
        if self.update_type != "Full":
            return self.sent
        first = max(i for i, p in enumerate(self.sent) if p.update_type == "Full")
        return self.sent[first:]


@dataclass(frozen=True)
class VersionReport:
    """A station's answer to GetLocalListVersion next to what the CSMS recorded."""

    station_id: str
    outcome: Outcome
    #: the version the station reports (None when it did not answer; 0: no list installed)
    reported_version: int | None
    #: the version the CSMS believes it holds
    recorded_version: int

    @property
    def in_step(self) -> bool:
        """True when the station holds the version the CSMS recorded."""
        return self.reported_version == self.recorded_version


def entry_wire(entry: ListEntry) -> dict[str, Any]:
    """The AuthorizationData of ``entry`` (without idTokenInfo: a removal)."""
    data: dict[str, Any] = {"idToken": {"idToken": entry.id_token, "type": entry.token_type}}
    if entry.info is not None:
        data["idTokenInfo"] = entry.info
    return data


def list_request(update_type: str, version: int, entries: Sequence[ListEntry]
                 ) -> dict[str, Any]:
    """A SendLocalListRequest; an empty list is left out (the schema wants at least one item:
    a Full update without one clears the station's list)."""
    payload: dict[str, Any] = {"versionNumber": version, "updateType": update_type}
    if entries:
        payload["localAuthorizationList"] = [entry_wire(e) for e in entries]
    return payload


def differences(held: Sequence[ListEntry], wanted: Sequence[ListEntry]) -> list[ListEntry]:
    """The Differential update that turns ``held`` into ``wanted``: entries added or changed
    (with their idTokenInfo), then entries removed (without, D01.FR.17)."""
    held_by_key = {e.key: e for e in held}
    wanted_keys = {e.key for e in wanted}
    changed = [e for e in wanted
               if e.key not in held_by_key or held_by_key[e.key].info != e.info]
    removed = [ListEntry(e.id_token, e.token_type) for e in held if e.key not in wanted_keys]
    return changed + removed


async def wanted_entries(pool: asyncpg.Pool, version: str
                         ) -> tuple[list[ListEntry], list[str]]:
    """The list every station should hold: each stored token with the idTokenInfo an
    Authorize would get (status, expiry, group). Tokens that a station of OCPP ``version``
    cannot be sent (a 2.0.1 idToken is at most 36 characters of a fixed set of types) are
    left out and named in the second list."""
    now = datetime.now(UTC)
    wanted, skipped = [], []
    for record in await tokens.list_tokens(pool):
        id_token = {"idToken": record.id_token, "type": record.token_type}
        entry = ListEntry(record.id_token, record.token_type, token_info(record, id_token, now))
        if request_problem(version, "SendLocalList", list_request("Full", 1, [entry])) is None:
            wanted.append(entry)
        else:
            skipped.append(f"{record.id_token} ({record.token_type})")
    return wanted, skipped


async def entries_limit(pool: asyncpg.Pool, station_id: str) -> int | None:
    """The most entries the station's list can hold (LocalAuthListCtrlr.Entries maxLimit, as
    it reported it), or None when unknown."""
    for attribute in await devicemodel.get_variables(
            pool, station_id, component_name="LocalAuthListCtrlr", variable_name="Entries"):
        limit = (attribute.characteristics or {}).get("maxLimit")
        if attribute.attribute_type == "Actual" and isinstance(limit, int | float):
            return int(limit)
    return None


async def send_local_list(ops: Operations, pool: asyncpg.Pool, station_id: str,
                          mode: UpdateMode, *, timeout: float = DEFAULT_TIMEOUT
                          ) -> LocalListResult:
    """Send ``station_id`` the list of every stored token (D01).

    Full: the whole list, at a version above any the station held or was sent (D01.FR.18).
    Differential: first asks the station's version (D02); when it is the one the CSMS
    recorded, sends only the changes since (nothing at all when there are none); otherwise,
    or when the station answers VersionMismatch or Failed, sends the whole list instead.
    A list longer than the station's LocalAuthListCtrlr.ItemsPerMessage / BytesPerMessage
    goes in parts, each sent once the one before is accepted (D01.FR.11); one longer than
    its Entries maxLimit is refused before anything is sent (D01.FR.12).
    """
    checked = await ops.check(station_id, "GetLocalListVersion", {})
    state = await locallist.get_state(pool, station_id)
    if isinstance(checked, Outcome):
        return _result(station_id, mode, checked, state)
    wanted, skipped = await wanted_entries(pool, checked)
    limit = await entries_limit(pool, station_id)
    if limit is not None and len(wanted) > limit:
        reason = (f"the list has {len(wanted)} entries; station {station_id} holds at most "
                  f"{limit} (LocalAuthListCtrlr.Entries maxLimit)")
        return _result(station_id, mode, refused(Status.INVALID, reason), state,
                       skipped=skipped)
    sent: list[SentPart] = []
    fallback = None
    if mode is UpdateMode.DIFFERENTIAL:
        if state.updated_at is None:
            fallback = f"no list accepted by station {station_id} is on record"
        else:
            probe = await ops.call(station_id, "GetLocalListVersion", {}, timeout=timeout,
                                   checked=True)
            if not probe.answered or probe.response is None:
                return _result(station_id, mode, probe, state, skipped=skipped)
            reported = int(probe.response["versionNumber"])
            changes = differences(state.entries, wanted) if reported == state.version else None
            if changes is None:
                fallback = (f"station {station_id} holds version {reported}, the CSMS "
                            f"recorded {state.version}")
            elif not changes:
                return _result(station_id, mode, probe, state, skipped=skipped)
            else:
                payload = list_request("Differential", state.next_version, changes)
                outcome = await _send(ops, station_id, payload, sent, timeout)
                if outcome.ok or outcome.station_status not in _RETRY_IN_FULL:
                    return _result(station_id, mode, outcome,
                                   await locallist.get_state(pool, station_id), sent, skipped)
                fallback = (f"station {station_id} answered {outcome.station_status} to the "
                            "differential update")
    version = (await locallist.get_state(pool, station_id)).next_version
    outcome = await _send(ops, station_id, list_request("Full", version, wanted), sent, timeout)
    return _result(station_id, mode, outcome, await locallist.get_state(pool, station_id), sent,
                   skipped, fallback)


async def _send(ops: Operations, station_id: str, payload: dict[str, Any],
                sent: list[SentPart], timeout: float) -> Outcome:
    """Send ``payload`` in the parts the station's limits call for, each once the one before
    is accepted (a part refused leaves the rest unsent); the last part's outcome."""
    outcome = refused(Status.INVALID, "nothing to send", payload)
    for part in await ops.split(station_id, "SendLocalList", payload):
        outcome = await ops.call(station_id, "SendLocalList", part, timeout=timeout)
        sent.append(SentPart(part["updateType"], part["versionNumber"],
                             len(part.get("localAuthorizationList", [])), outcome))
        if not outcome.ok:
            break
    return outcome


def _result(station_id: str, mode: UpdateMode, outcome: Outcome, state: LocalListState,
            sent: Sequence[SentPart] = (), skipped: Sequence[str] = (),
            fallback: str | None = None) -> LocalListResult:
    return LocalListResult(station_id, mode, outcome, state.version, len(state.entries),
                           tuple(sent), fallback, tuple(skipped))


async def get_local_list_version(ops: Operations, pool: asyncpg.Pool, station_id: str, *,
                                 timeout: float = DEFAULT_TIMEOUT) -> VersionReport:
    """Ask the station which list version it holds (D02) and set it beside the CSMS's record."""
    outcome = await ops.call(station_id, "GetLocalListVersion", {}, timeout=timeout)
    reported = outcome.response.get("versionNumber") if outcome.response else None
    state = await locallist.get_state(pool, station_id)
    return VersionReport(station_id, outcome, reported, state.version)

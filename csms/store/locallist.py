"""The Local Authorization List of each station as the CSMS believes it (D01, D02).

The belief follows the station's answers: an accepted SendLocalList is applied here exactly as
the station applies it (a Full update replaces the entries, a Differential one adds, changes
and removes them), so the entries and version stored are what the station holds.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from csms.store.db import Db, connection

UPDATE_TYPES = ("Full", "Differential")


@dataclass(frozen=True)
class ListEntry:
    """One AuthorizationData: an idToken and its idTokenInfo (None: remove it, in a
    Differential update)."""

    id_token: str
    token_type: str
    info: dict[str, Any] | None = None

    @property
    def key(self) -> tuple[str, str]:
        """What makes an entry unique on a station: the value in any case, and the type."""
        return self.id_token.lower(), self.token_type


@dataclass
class LocalListState:
    """What the CSMS believes a station's list is, and what happened to the last update."""

    station_id: str
    #: the version the station holds (0: none installed)
    version: int = 0
    updated_at: datetime | None = None
    #: the highest versionNumber ever sent to the station
    sent_version: int = 0
    last_update_type: str | None = None
    last_version: int | None = None
    last_status: str | None = None
    last_reason: str | None = None
    last_answered_at: datetime | None = None
    #: the version the station last reported (GetLocalListVersion)
    reported_version: int | None = None
    reported_at: datetime | None = None
    entries: list[ListEntry] = field(default_factory=list)

    @property
    def next_version(self) -> int:
        """A version above every one the station holds, was sent or reported (D01.FR.18: > 0)."""
        return max(self.version, self.sent_version, self.reported_version or 0) + 1


_STATE_COLUMNS = """version, updated_at, sent_version, last_update_type, last_version, last_status,
    last_reason, last_answered_at, reported_version, reported_at"""


async def get_state(db: Db, station_id: str) -> LocalListState:
    """The believed list of ``station_id`` (an empty one at version 0 if nothing was recorded)."""
    row = await db.fetchrow(
        f"SELECT {_STATE_COLUMNS} FROM local_lists WHERE station_id = $1", station_id)
    if row is None:
        return LocalListState(station_id)
    rows = await db.fetch(
        "SELECT id_token, token_type, id_token_info FROM local_list_entries"
        " WHERE station_id = $1 ORDER BY lower(id_token), token_type", station_id)
    return LocalListState(station_id, **dict(row),
                          entries=[ListEntry(r[0], r[1], r[2]) for r in rows])


_RECORD = """
INSERT INTO local_lists (station_id, sent_version, last_update_type, last_version, last_status,
                         last_reason, last_answered_at)
VALUES ($1, greatest($3, 0), $2, $3, $4, $5, now())
ON CONFLICT (station_id) DO UPDATE
   SET sent_version = greatest(local_lists.sent_version, EXCLUDED.sent_version),
       last_update_type = EXCLUDED.last_update_type, last_version = EXCLUDED.last_version,
       last_status = EXCLUDED.last_status, last_reason = EXCLUDED.last_reason,
       last_answered_at = EXCLUDED.last_answered_at
"""

_UPSERT_ENTRIES = """
INSERT INTO local_list_entries (station_id, id_token, token_type, id_token_info)
SELECT $1, t, y, i::jsonb FROM unnest($2::text[], $3::text[], $4::text[]) AS u(t, y, i)
ON CONFLICT (station_id, lower(id_token), token_type) DO UPDATE
   SET id_token = EXCLUDED.id_token, id_token_info = EXCLUDED.id_token_info
"""


async def record_answer(
    db: Db, station_id: str, update_type: str, version: int, entries: Sequence[ListEntry],
    status: str, reason: str | None = None,
) -> None:
    """Record a station's answer to a SendLocalList; when it is Accepted, apply the update.

    A Full update replaces every entry; a Differential one adds or replaces the entries that
    carry an idTokenInfo and removes those that do not (D01.FR.17). Either sets the version.
    """
    if update_type not in UPDATE_TYPES:
        raise ValueError(f"update type must be Full or Differential, not {update_type}")
    async with connection(db) as conn, conn.transaction():
        await conn.execute(_RECORD, station_id, update_type, version, status, reason)
        if status != "Accepted":
            return
        if update_type == "Full":
            await conn.execute("DELETE FROM local_list_entries WHERE station_id = $1", station_id)
        gone = [e for e in entries if e.info is None]
        if gone:
            await conn.execute(
                "DELETE FROM local_list_entries e USING unnest($2::text[], $3::text[]) AS g(t, y)"
                " WHERE e.station_id = $1 AND lower(e.id_token) = lower(g.t)"
                " AND e.token_type = g.y",
                station_id, [e.id_token for e in gone], [e.token_type for e in gone])
        # one row per entry even if a station accepted a list naming a token twice
        kept = list({e.key: e for e in entries if e.info is not None}.values())
        if kept:
            await conn.execute(
                _UPSERT_ENTRIES, station_id, [e.id_token for e in kept],
                [e.token_type for e in kept], [json.dumps(e.info) for e in kept])
        await conn.execute(
            "UPDATE local_lists SET version = $2, updated_at = now() WHERE station_id = $1",
            station_id, version)


async def record_reported_version(db: Db, station_id: str, version: int) -> None:
    """Record the version a station reported in a GetLocalListVersionResponse."""
    await db.execute(
        """
        INSERT INTO local_lists (station_id, reported_version, reported_at) VALUES ($1, $2, now())
        ON CONFLICT (station_id) DO UPDATE
           SET reported_version = EXCLUDED.reported_version, reported_at = EXCLUDED.reported_at
        """,
        station_id, version)

"""Live telemetry: what a station just measured or reported, announced as it is stored.

Meter values and connector statuses arrive far more often than the feed's events (a fleet of
a thousand stations sends about a hundred meter batches a second), so they are not kept in the
feed table nor offered to webhooks: they are announced with ``NOTIFY csms_live`` (a JSON
payload, at the commit of the statement that stores them) and only listeners that are open at
that moment see them (:mod:`csms.api.stream` hands them to the streams that asked for them).
The stored rows stay the record; a reader that missed a notification reads them.

Meter values are announced only while some API process has a stream open that asked for
them (a row in ``live_interest``, renewed while it lasts): a node looks at most every
:data:`INTEREST_CHECK_S` seconds, so with no dashboard open the meter path pays nothing.
"""

from __future__ import annotations

import time
from datetime import datetime
from enum import StrEnum

import orjson

from csms.store.db import Db

LIVE_CHANNEL = "csms_live"
#: how often a node looks whether anyone wants meter values announced
INTEREST_CHECK_S = 2.0
#: how long an API process's interest lasts unless renewed (it renews every third of this)
INTEREST_S = 30.0
#: the measurands a meter.sampled announcement carries (values in their canonical unit)
class LiveType(StrEnum):
    """The kinds of live telemetry (stream event names; never stored in the feed)."""

    METER_SAMPLED = "meter.sampled"
    EVSE_STATUS = "evse.status"


def _at(value: datetime) -> str:
    return value.isoformat()


def status_payload(station_id: str, evse_id: int, connector_id: int, status: str,
                   at: datetime) -> str:
    """The ``evse.status`` payload of a connector's reported status."""
    return orjson.dumps({"type": LiveType.EVSE_STATUS.value, "at": _at(at),
                         "data": {"station_id": station_id, "evse_id": evse_id,
                                  "connector_id": connector_id, "status": status,
                                  "at": _at(at)}}).decode()


class Interest:
    """Whether any API process wants meter values announced, looked up at most every
    :data:`INTEREST_CHECK_S` seconds (one per process: :data:`INTEREST`)."""

    def __init__(self) -> None:
        self._wanted = False
        self._checked = float("-inf")

    async def wanted(self, db: Db) -> bool:
        """True while some API process has a stream that asked for live telemetry."""
        now = time.monotonic()
        if now - self._checked >= INTEREST_CHECK_S:
            self._checked = now
            self._wanted = bool(await db.fetchval(
                "SELECT EXISTS (SELECT 1 FROM live_interest WHERE until > now())"))
        return self._wanted


INTEREST = Interest()


async def declare_interest(db: Db, holder: str) -> None:
    """``holder`` (an API process) wants meter values announced for :data:`INTEREST_S`."""
    await db.execute(
        "INSERT INTO live_interest (holder, until) VALUES ($1, now() + make_interval(secs => $2))"
        " ON CONFLICT (holder) DO UPDATE SET until = EXCLUDED.until", holder, INTEREST_S)


async def withdraw_interest(db: Db, holder: str) -> None:
    """``holder`` no longer wants meter values (expired rows of others go too)."""
    await db.execute("DELETE FROM live_interest WHERE holder = $1 OR until < now()", holder)

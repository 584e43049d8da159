"""One client for everything the CSMS sends a station.

A call is a row in the command table: the node holding the station's socket claims it, sends
it and records the answer (:mod:`csms.store.commands`). :class:`Operations` is the only way in:
it checks the request (the station is known, the CSMS may send that action, the payload fits
the station's OCPP version), splits it to fit the station's message limits
(:mod:`csms.operations.splitting`), submits it, waits for the answer on one LISTEN connection
shared by every call of the process, and returns a typed :class:`~csms.operations.outcome.Outcome`.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Coroutine, Iterable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import structlog

from csms.ocppj import SUBPROTOCOLS, VERSIONS, OCPPError, get_validator
from csms.operations.outcome import Outcome, Status, refused
from csms.operations.splitting import SPLITS, limits_for, merge_responses, split_request
from csms.store import commands, devicemodel
from csms.store.commands import CommandResult, CommandWaiter

log = structlog.get_logger("csms.operations")

DEFAULT_TIMEOUT = 30.0

_COMMAND_STATUSES = {"error": Status.CALLERROR, "timeout": Status.TIMEOUT,
                     "offline": Status.OFFLINE, "expired": Status.EXPIRED,
                     "queued": Status.QUEUED, "disconnected": Status.DISCONNECTED}


class Operations:
    """Sends calls to stations and returns their outcomes; see the module docstring.

    ``pool`` runs the queries; ``database_url`` opens the one LISTEN connection (on
    :meth:`start`, or on first use). A call not claimed by any node within ``offline_grace``
    seconds ends as offline.
    """

    def __init__(self, pool: asyncpg.Pool, database_url: str, *, offline_grace: float = 3.0):
        self.pool = pool
        self.database_url = database_url
        self.offline_grace = offline_grace
        self._waiter: CommandWaiter | None = None
        self._starting: asyncio.Lock | None = None
        self._later: set[asyncio.Task[None]] = set()
        self._stopping = False

    async def start(self) -> None:
        """Open the shared LISTEN connection (once)."""
        if self._starting is None:
            self._starting = asyncio.Lock()
        async with self._starting:
            if self._waiter is None and not self._stopping:
                waiter = CommandWaiter(self.pool, self.database_url)
                await waiter.start()
                self._waiter = waiter

    async def stop(self) -> None:
        """Close the LISTEN connection (waits still in progress end at once as timeouts; a
        late answer is still recorded by the node), then let the calls put off with
        :meth:`later` finish."""
        self._stopping = True
        if self._waiter is not None:
            await self._waiter.stop()
            self._waiter = None
        if self._later:
            await asyncio.gather(*self._later, return_exceptions=True)

    async def __aenter__(self) -> Operations:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    def later(self, work: Coroutine[Any, Any, None]) -> None:
        """Run ``work`` (calls a handler wants made once its answer is on its way) as a task of
        this client: awaited by :meth:`stop`, its failure logged."""
        task = asyncio.create_task(work)
        self._later.add(task)

        def done(t: asyncio.Task[None]) -> None:
            self._later.discard(t)
            if not t.cancelled() and t.exception() is not None:
                log.error("operations.later_failed", error=str(t.exception()))

        task.add_done_callback(done)

    # -- checks -----------------------------------------------------------------------------

    async def station_version(self, station_id: str) -> tuple[bool, str | None]:
        """(registered, OCPP version of its last connection; None if it never connected)."""
        row = await self.pool.fetchrow("SELECT subprotocol FROM stations WHERE id = $1",
                                       station_id)
        if row is None:
            return False, None
        return True, SUBPROTOCOLS.get(row[0] or "")

    async def check(self, station_id: str, action: str, payload: dict[str, Any]
                    ) -> Outcome | str:
        """The station's OCPP version when ``payload`` may be sent to it, else the refusal.

        A station that never connected has no known version: its request must then be valid
        in every version (it is checked against each, and sent as 2.0.1 would be).
        """
        known, version = await self.station_version(station_id)
        if not known:
            return refused(Status.UNKNOWN_STATION, f"no station {station_id} is registered",
                           payload)
        for candidate in (version,) if version else VERSIONS:
            found = _problem(candidate, action, payload)
            if found is not None:
                return refused(Status.INVALID, found[0], payload, field=found[1])
        return version or VERSIONS[0]

    # -- calls ------------------------------------------------------------------------------

    async def call(
        self, station_id: str, action: str, payload: dict[str, Any], *,
        timeout: float = DEFAULT_TIMEOUT, queue_for: timedelta | None = None,
        accept: Iterable[str] = ("Accepted",), checked: bool = False,
    ) -> Outcome:
        """Send ``action`` to a station and wait up to ``timeout`` seconds for its outcome.

        ``queue_for``: when the station is offline, keep the call for that long and send it
        when the station reconnects (the outcome is QUEUED if it has not by ``timeout``).
        ``accept``: the station statuses that count as accepted. ``checked``: the caller has
        run :meth:`check` already.
        """
        if not checked:
            version = await self.check(station_id, action, payload)
            if isinstance(version, Outcome):
                return version
        ids = await self.submit(station_id, action, payload, queue_for=queue_for)
        if isinstance(ids, Outcome):
            return ids
        return await self.wait(action, payload, ids, timeout=timeout, accept=accept)

    async def submit(
        self, station_id: str, action: str, payload: dict[str, Any], *,
        queue_for: timedelta | None = None,
    ) -> list[int] | Outcome:
        """Submit a (checked) call without waiting: the ids of its command rows (several when
        the station's message limits split it), or OFFLINE when the station is not connected
        and ``queue_for`` is not given."""
        if queue_for is None and not await commands.station_online(self.pool, station_id):
            return refused(Status.OFFLINE, f"station {station_id} is not connected", payload)
        parts = await self.split(station_id, action, payload)
        queue_until = datetime.now(UTC) + queue_for if queue_for is not None else None
        ids = []
        for part in parts:
            ids.append(await commands.submit_command(self.pool, station_id, action, part,
                                                     queue_until=queue_until))
        return ids

    async def split(self, station_id: str, action: str, payload: dict[str, Any]
                    ) -> list[dict[str, Any]]:
        """``payload`` split to fit the station's ItemsPerMessage / BytesPerMessage limits."""
        if action not in SPLITS:
            return [payload]
        split = SPLITS[action]
        rows = await devicemodel.get_variables(self.pool, station_id,
                                               component_name=split.component)
        variables = {(v.component_name, v.variable_name): v.value for v in rows
                     if v.attribute_type == "Actual"}
        return split_request(action, payload, *limits_for(action, variables))

    async def wait(
        self, action: str, payload: dict[str, Any], command_ids: Sequence[int], *,
        timeout: float = DEFAULT_TIMEOUT, accept: Iterable[str] = ("Accepted",),
    ) -> Outcome:
        """The outcome of submitted command rows (the parts of one call), merged."""
        await self.start()
        if self._waiter is None:  # stopping: no answer will be waited for
            return Outcome(Status.TIMEOUT, None, "the client is stopping", payload,
                           tuple(command_ids))
        results = [await self._waiter.wait(i, timeout, offline_grace=self.offline_grace)
                   for i in command_ids]
        return outcome_of(action, payload, results, set(accept))


def request_problem(version: str, action: str, payload: dict[str, Any]) -> str | None:
    """What stops ``payload`` going to a station of ``version`` as ``action``, or None."""
    found = _problem(version, action, payload)
    return None if found is None else found[0]


def _problem(version: str, action: str, payload: dict[str, Any]
             ) -> tuple[str, str | None] | None:
    """What stops ``payload`` going as ``action`` and the field at fault (dotted, without
    list indices; None when no one field is), or None."""
    validator = get_validator(version)
    if not validator.is_known(action):
        return f"{action} is not an OCPP {version} action", None
    try:
        validator.validate_request(action, payload)
    except OCPPError as exc:
        field = re.sub(r"\[\d+\]", "", str(exc.details.get("field") or "")) or None
        return f"invalid {action} request for OCPP {version}: {exc.description}", field
    return None


def outcome_of(action: str, payload: dict[str, Any], results: Sequence[CommandResult],
               accept: set[str]) -> Outcome:
    """One :class:`Outcome` for the command results of a call's parts: the first part that
    did not answer decides; otherwise the merged responses."""
    ids = tuple(r.id for r in results)
    for result in results:
        if result.status != "answered":
            status = _COMMAND_STATUSES.get(result.status, Status.TIMEOUT)
            return Outcome(status, None, result.error_description, payload, ids,
                           error_code=result.error_code)
    response = merge_responses(action, [r.response or {} for r in results])
    word = response.get("status")
    info = response.get("statusInfo") or {}
    reason = ": ".join(str(info[k]) for k in ("reasonCode", "additionalInfo") if k in info)
    if isinstance(word, str):
        status = Status.ACCEPTED if word in accept else Status.REJECTED
        return Outcome(status, response, reason or None, payload, ids, station_status=word)
    return Outcome(Status.ACCEPTED, response, reason or None, payload, ids)

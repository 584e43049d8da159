"""The running cost of ongoing transactions, sent to their stations (I02, CostUpdated).

Each server node runs a :class:`CostUpdater` for the stations it holds: every interval it
computes the cost of their ongoing transactions (:func:`csms.blocks.tariffs.total_cost`) and
sends CostUpdated where the figure changed since the station last accepted one. A station that
answers a CostUpdated with a CALLERROR (it has no cost display) gets no more for that
transaction.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass
from decimal import Decimal

import asyncpg
import structlog

from csms.blocks.tariffs import total_cost
from csms.operations.client import Operations
from csms.operations.outcome import Outcome, Status
from csms.store import tariffs

log = structlog.get_logger("csms.operations.costs")


@dataclass(frozen=True)
class CostSent:
    """One CostUpdated: the transaction, its running cost and the outcome."""

    station_id: str
    transaction_id: str
    total_cost: Decimal
    currency: str
    outcome: Outcome


async def send_running_costs(ops: Operations, pool: asyncpg.Pool, node_id: str, *,
                             timeout: float = 10.0) -> list[CostSent]:
    """Send CostUpdated for each ongoing transaction, at the stations ``node_id`` holds, whose
    running cost changed since the station last accepted one; record what was sent."""
    todo = []
    for due in await tariffs.running_costs_due(pool, node_id):
        cost = total_cost(due.inputs)
        if due.last_cost == cost and due.last_outcome == Status.ACCEPTED.value:
            continue
        todo.append((due, cost))
    outcomes = await asyncio.gather(*(
        ops.call(due.station_id, "CostUpdated",
                 {"totalCost": float(cost), "transactionId": due.transaction_id},
                 timeout=timeout)
        for due, cost in todo))
    sent = [CostSent(due.station_id, due.transaction_id, cost, due.inputs.tariff.currency,
                     outcome) for (due, cost), outcome in zip(todo, outcomes, strict=True)]
    await tariffs.record_running_costs(pool, [
        (s.station_id, s.transaction_id, s.currency, s.total_cost, s.outcome.status.value)
        for s in sent])
    return sent


class CostUpdater:
    """Runs :func:`send_running_costs` every ``interval_s`` seconds for one node."""

    def __init__(self, operations: Operations, node_id: str, interval_s: float) -> None:
        self.operations = operations
        self.pool = operations.pool
        self.node_id = node_id
        self.interval_s = interval_s
        self.log = log.bind(node_id=node_id)
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Start the periodic task (returns at once)."""
        self._task = asyncio.create_task(self._run(), name="cost-updates")

    async def stop(self) -> None:
        """Stop it."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.interval_s)
            try:
                sent = await send_running_costs(self.operations, self.pool, self.node_id)
            except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
                self.log.warning("cost_updates_failed", error=str(exc))
                continue
            if sent:
                self.log.info("cost_updates_sent", sent=len(sent),
                              accepted=sum(1 for s in sent if s.outcome.ok))

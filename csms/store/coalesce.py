"""Look-ups and writes of the same kind made at the same moment share one statement.

In a boot storm thousands of stations connect within seconds, and each connection used to make
its own round trips to PostgreSQL: its credentials, the record that this node holds its socket
(with the takeover NOTIFY and the ``station.connected`` feed event), the commands queued for
it. Each round trip costs the node a pool acquire, a statement through asyncpg and two socket
system calls, and PostgreSQL a statement: at 50,000 stations that was most of the storm's CPU.

:class:`Coalesced` gathers the calls made while the event loop runs one batch of callbacks
(and, under load, those that arrive while the previous statement is in flight) and makes one
call of its ``run`` function for all of them, at most ``limit`` keys at a time. Each caller
gets its own key's result; a failure fails every caller of that statement alike.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Hashable, Mapping
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")
R = TypeVar("R")


class Coalesced(Generic[K, V, R]):
    """``await coalesced(key, value)``: ``run({key: value, ...})`` once for the moment's
    callers, each given ``result.get(key)``."""

    def __init__(self, run: Callable[[dict[K, V]], Awaitable[Mapping[K, R]]], *,
                 limit: int = 2000):
        self._run = run
        self.limit = limit
        self._waiting: dict[K, tuple[V, list[asyncio.Future[R | None]]]] = {}
        self._task: asyncio.Task[None] | None = None
        #: statements run and keys they carried (for tests and benchmarks)
        self.calls = 0
        self.keys = 0

    async def __call__(self, key: K, value: V) -> R | None:
        future: asyncio.Future[R | None] = asyncio.get_running_loop().create_future()
        held = self._waiting.get(key)
        if held is None:
            self._waiting[key] = (value, [future])
        else:  # the same key twice in one moment: one row, the latest value
            self._waiting[key] = (value, [*held[1], future])
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._drain())
        return await future

    async def _drain(self) -> None:
        try:
            await asyncio.sleep(0)  # the callers of this moment join
            while self._waiting:
                keys = list(self._waiting)[:self.limit]
                batch = {k: self._waiting.pop(k) for k in keys}
                try:
                    results = await self._run({k: v for k, (v, _) in batch.items()})
                except Exception as exc:
                    for _, futures in batch.values():
                        for future in futures:
                            if not future.done():  # a caller that gave up cancelled it
                                future.set_exception(exc)
                    continue
                self.calls += 1
                self.keys += len(batch)
                for key, (_, futures) in batch.items():
                    result = results.get(key)
                    for future in futures:
                        if not future.done():
                            future.set_result(result)
        finally:
            self._task = None


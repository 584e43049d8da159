"""What every route works with: the process's pool, operations client and settings."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Annotated, Any

import asyncpg
from fastapi import Depends, Request

from csms.api.auth import KeyCache
from csms.operations.client import Operations

if TYPE_CHECKING:
    from csms.api.stream import FeedHub


@dataclass(frozen=True)
class ApiSettings:
    """How an API process runs.

    ``webhooks``: deliver webhooks from this process; ``lease_s``: how long a subscription
    stays with the process delivering it without a sign of life (a killed process's
    subscriptions move on after that); ``max_wait_s``: the longest ``?wait`` of a call.
    """

    database_url: str
    webhooks: bool = True
    lease_s: float = 30.0
    delivery_timeout_s: float = 10.0
    delivery_concurrency: int = 8
    max_wait_s: float = 300.0
    pool_size: int = 10


@dataclass
class ApiState:
    """The live parts of an API process (``app.state.api``)."""

    settings: ApiSettings
    pool: asyncpg.Pool
    ops: Operations
    feed: FeedHub
    keys: KeyCache = field(default_factory=KeyCache)
    #: parts owned by one route module (its own LISTEN connection, ...)
    extras: dict[str, Any] = field(default_factory=dict)
    #: work that outlives the request that started it (cancelled when the app stops)
    tasks: set[asyncio.Task[Any]] = field(default_factory=set)

    def spawn(self, work: Coroutine[Any, Any, Any]) -> None:
        """Run ``work`` in the background, kept until it ends or the app stops."""
        task = asyncio.create_task(work)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)


def _state(request: Request) -> ApiState:
    return request.app.state.api


Ctx = Annotated[ApiState, Depends(_state)]

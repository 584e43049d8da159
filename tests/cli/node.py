"""The server node's side of the command protocol, played by a test through the store API.

The test registers a node, marks a station as connected to it, and answers the commands the CLI
writes exactly as a server node records a station's answer; no socket is involved, so what is
tested is the CLI's half: what it writes, how it waits, and what it prints for each outcome.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from csms.store.commands import (
    Command,
    claim_command,
    finish_command,
    pending_commands,
    register_node,
)
from csms.store.db import open_pool
from csms.store.stations import mark_connected, register_station

NODE_ID = "test-node"

Answer = Callable[[Command], Awaitable[None]]


async def connect_station(
    database_url: str, station_id: str = "CP-1", subprotocol: str = "ocpp2.0.1"
) -> None:
    """Register ``station_id`` and mark it connected to a live node."""
    pool = await open_pool(database_url)
    try:
        await register_station(pool, station_id, "correct-horse-battery")
        await register_node(pool, NODE_ID)
        await mark_connected(pool, station_id, NODE_ID, subprotocol, "127.0.0.1")
    finally:
        await pool.close()


async def serve_one(
    database_url: str,
    station_id: str,
    *,
    status: str = "answered",
    response: dict[str, Any] | None = None,
    error_code: str | None = None,
    error_description: str | None = None,
    finish: bool = True,
    within: float = 60.0,
) -> Command:
    """Claim the next command for ``station_id`` and record the given outcome for it.

    With ``finish=False`` the command is claimed (sent) and never answered. Fails when no
    command comes within ``within`` seconds (the CLI beside it ended without writing one), so
    a test gathering both never hangs.
    """
    pool = await open_pool(database_url)
    deadline = asyncio.get_running_loop().time() + within
    try:
        while True:
            if asyncio.get_running_loop().time() > deadline:
                raise AssertionError(f"no command for {station_id} within {within:g} s")
            ids = await pending_commands(pool, station_id)
            if ids:
                command = await claim_command(pool, ids[0], NODE_ID)
                if command is not None:
                    break
            await asyncio.sleep(0.02)
        if finish:
            await finish_command(
                pool,
                command.id,
                status,
                response=response,
                error_code=error_code,
                error_description=error_description,
            )
        return command
    finally:
        await pool.close()

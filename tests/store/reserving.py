"""Reservations made straight in the store, for the store and handler tests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import asyncpg

from csms.store import reservations


async def new_reservation(pool: asyncpg.Pool, station: str, *, id_token: str = "TOK",
                          evse_id: int | None = None, minutes: float = 10) -> int:
    """A fresh reservation (status Requested) for an ISO14443 token, expiring in ``minutes``;
    returns its id."""
    reservation_id = await reservations.next_id(pool)
    await reservations.create(pool, reservation_id, station, id_token=id_token,
                              evse_id=evse_id, id_token_type="ISO14443",
                              expires_at=datetime.now(UTC) + timedelta(minutes=minutes))
    return reservation_id


async def reservation_status(pool: asyncpg.Pool, reservation_id: int) -> str:
    """The stored status of an existing reservation."""
    row = await reservations.get(pool, reservation_id)
    assert row is not None
    return row.status

"""Fixtures for the store tests: registered stations on the migrated ``pool``."""

from __future__ import annotations

import asyncpg
import pytest

from csms.store import stations as store_stations

#: The stations of the :func:`stations` fixture.
STATIONS = [f"CS-{i:03d}" for i in range(20)]


@pytest.fixture
async def station(pool: asyncpg.Pool) -> str:
    """The identity of a registered station (password "correct horse battery staple")."""
    await store_stations.register_station(pool, "CS-001", "correct horse battery staple")
    return "CS-001"


@pytest.fixture
async def stations(pool: asyncpg.Pool) -> list[str]:
    """Twenty stations in the ``stations`` table (no password; for the batch writer)."""
    await pool.executemany("INSERT INTO stations (id) VALUES ($1)", [(s,) for s in STATIONS])
    return STATIONS

"""Fixtures of the performance-path tests: a migrated pool with registered stations."""

from __future__ import annotations

import asyncpg
import pytest

from csms.store.db import open_pool
from tests.store.fixtures import migrated_template, migrated_url

__all__ = ["migrated_template", "migrated_url"]

STATIONS = [f"CS-{i:03d}" for i in range(20)]


@pytest.fixture
async def pool(migrated_url: str):
    """A pool on a fresh, migrated database with the stations of :data:`STATIONS`."""
    p = await open_pool(migrated_url, min_size=1, max_size=4)
    await p.executemany("INSERT INTO stations (id) VALUES ($1)", [(s,) for s in STATIONS])
    yield p
    await p.close()


@pytest.fixture
def stations(pool: asyncpg.Pool) -> list[str]:
    return STATIONS

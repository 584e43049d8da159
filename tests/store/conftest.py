"""Fixtures for the store tests: a migrated pool on a fresh database, and a registered station."""

from __future__ import annotations

import asyncpg
import pytest

from csms.store import stations
from csms.store.db import open_pool
from tests.store.fixtures import migrated_template, migrated_url

__all__ = ["migrated_template", "migrated_url"]


@pytest.fixture
async def pool(migrated_url: str):
    """A pool on a fresh, migrated database."""
    p = await open_pool(migrated_url, min_size=1, max_size=4)
    yield p
    await p.close()


@pytest.fixture
async def station(pool: asyncpg.Pool) -> str:
    """The identity of a registered station (password "correct horse battery staple")."""
    await stations.register_station(pool, "CS-001", "correct horse battery staple")
    return "CS-001"

"""The embedded cluster runs with the server settings the CSMS chooses for it
(``csms.store.embedded.SETTINGS``)."""

from __future__ import annotations

import os

import asyncpg
import pytest


@pytest.mark.skipif(bool(os.environ.get("CSMS_DATABASE_URL")),
                    reason="the tests run on a server of the operator's")
async def test_new_wal_segments_are_not_zero_filled_and_commits_still_flush(
        pg_server_url: str) -> None:
    conn = await asyncpg.connect(pg_server_url)
    try:
        shown = {name: await conn.fetchval(f"SHOW {name}")
                 for name in ("wal_init_zero", "fsync", "synchronous_commit", "full_page_writes")}
    finally:
        await conn.close()
    assert shown == {"wal_init_zero": "off", "fsync": "on", "synchronous_commit": "on",
                     "full_page_writes": "on"}

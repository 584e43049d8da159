"""The test database fixture gives each test an isolated, real PostgreSQL database."""

import asyncpg


async def test_fresh_database_is_empty_and_writable(database_url: str) -> None:
    conn = await asyncpg.connect(database_url)
    try:
        tables = await conn.fetchval(
            "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'public'"
        )
        assert tables == 0
        await conn.execute("CREATE TABLE probe (x int)")
        await conn.execute("INSERT INTO probe VALUES (42)")
        assert await conn.fetchval("SELECT x FROM probe") == 42
    finally:
        await conn.close()

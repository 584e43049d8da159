"""Driver settings looked up many at a time, as the grid's control step does."""

from __future__ import annotations

import asyncpg

from csms.store.grid.fleet import driver_settings_for, get_driver_settings, save_driver_settings
from csms.store.grid.records import DriverSettings


async def test_many_keys_in_one_lookup_match_case_insensitively_exact_spelling_first(
        pool: asyncpg.Pool) -> None:
    await save_driver_settings(pool, DriverSettings("token", "ABC12", floor_soc=0.3))
    await save_driver_settings(pool, DriverSettings("token", "abc12", floor_soc=0.4))
    await save_driver_settings(pool, DriverSettings("station", "CS-9", floor_soc=0.5))
    found = await driver_settings_for(pool, [
        ("token", "abc12"), ("token", "ABC12"), ("station", "cs-9"), ("token", "nobody"),
        ("station", "abc12")])
    assert found[("token", "abc12")].floor_soc == 0.4
    assert found[("token", "ABC12")].floor_soc == 0.3
    assert found[("station", "cs-9")].floor_soc == 0.5
    assert ("token", "nobody") not in found and ("station", "abc12") not in found
    # The single lookup is the same query with one key.
    one = await get_driver_settings(pool, "token", "Abc12")
    assert one is not None and one.floor_soc in (0.3, 0.4)
    assert (await get_driver_settings(pool, "station", "CS-9")).floor_soc == 0.5  # type: ignore[union-attr]
    assert await driver_settings_for(pool, []) == {}

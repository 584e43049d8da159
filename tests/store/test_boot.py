"""Boot status per station (B02): set by the operator, a default for new stations, and the
server's policy for the rest."""

from __future__ import annotations

import asyncpg
import pytest

from csms.store import boot, stations
from csms.store.base import StationNotFound

BOOT = {"reason": "PowerUp", "vendor_name": "Fermata", "model": "FE-20"}
#: The stored boot status for stations that have not booted yet.
DEFAULT = "SELECT registration_status FROM boot_defaults"


async def test_the_server_policy_answers_a_station_without_a_status(pool: asyncpg.Pool,
                                                                    station: str):
    assert await stations.record_boot(pool, station, status="Pending", **BOOT) == "Pending"
    detail = await stations.get_station(pool, station)
    assert detail.boot_status == "Pending" and detail.registration_status is None


async def test_a_station_status_wins_over_the_policy(pool: asyncpg.Pool, station: str):
    state = await boot.set_registration_status(pool, station, "Pending")
    assert (state.registration_status, state.boot_status, state.connected) == (
        "Pending", None, False)
    assert await stations.record_boot(pool, station, status="Accepted", **BOOT) == "Pending"
    await boot.set_registration_status(pool, station, "Accepted")
    assert await stations.record_boot(pool, station, status="Rejected", **BOOT) == "Accepted"
    assert (await stations.get_station(pool, station)).boot_status == "Accepted"


async def test_the_default_applies_to_stations_that_never_booted(pool: asyncpg.Pool,
                                                                 station: str):
    assert await pool.fetchval(DEFAULT) is None
    await stations.record_boot(pool, station, status="Accepted", **BOOT)
    await boot.set_default_status(pool, "Pending")
    assert await pool.fetchval(DEFAULT) == "Pending"
    await stations.register_station(pool, "CS-NEW", "correct horse battery staple")
    # shown before the first boot, kept as the station's own from then on
    assert (await stations.get_station(pool, "CS-NEW")).registration_status == "Pending"
    assert await stations.record_boot(pool, "CS-NEW", status="Accepted", **BOOT) == "Pending"
    await boot.set_default_status(pool, "Rejected")
    assert await stations.record_boot(pool, "CS-NEW", status="Accepted", **BOOT) == "Pending"
    # a station that booted before the default was set keeps the policy's answer
    assert await stations.record_boot(pool, station, status="Accepted", **BOOT) == "Accepted"


async def test_unknown_station_and_status_are_refused(pool: asyncpg.Pool, station: str):
    with pytest.raises(StationNotFound):
        await boot.set_registration_status(pool, "nobody", "Accepted")
    with pytest.raises(ValueError, match="Maybe is not one of"):
        await boot.set_registration_status(pool, station, "Maybe")
    with pytest.raises(ValueError):
        await boot.set_default_status(pool, "accepted")

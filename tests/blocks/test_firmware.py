"""Block L handlers: FirmwareStatusNotification advances the CSMS's update with that
requestId, a BootNotification records the firmware installed."""

from __future__ import annotations

from datetime import UTC, datetime

import asyncpg

from csms.store import firmware
from tests.blocks.conftest import STATION


async def test_status_and_boot_update_the_campaign_row(pool: asyncpg.Pool, call):
    campaign = await firmware.create_campaign(pool, "https://fw/fw-2.bin", datetime.now(UTC))
    await firmware.add_station(pool, campaign.id, STATION, 100000, None)
    await firmware.record_answer(pool, STATION, 100000, "Accepted", None)
    for status in ("Downloading", "Downloaded", "Installing", "InstallRebooting"):
        assert await call("FirmwareStatusNotification",
                          {"status": status, "requestId": 100000}) == {}
    await call("BootNotification", {"reason": "FirmwareUpdate", "chargingStation": {
        "model": "M", "vendorName": "V", "firmwareVersion": "fw-2"}})
    await call("FirmwareStatusNotification", {"status": "Installed", "requestId": 100000})
    await call("FirmwareStatusNotification", {"status": "Idle"})  # triggered, nothing under way
    [update] = await firmware.station_updates(pool, station_id=STATION)
    assert (update.status, update.boot_reason, update.firmware_after) == (
        "Installed", "FirmwareUpdate", "fw-2")
    history = await firmware.status_history(pool, STATION, 100000)
    assert [h.status for h in history] == ["Downloading", "Downloaded", "Installing",
                                           "InstallRebooting", "Installed"]

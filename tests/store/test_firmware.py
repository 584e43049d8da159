"""Firmware updates in the store: answers, cancellation, progress, the boot afterwards, and
answers taken from the command table."""

from __future__ import annotations

from datetime import UTC, datetime

import asyncpg

from csms.store import commands, firmware
from csms.store.stations import record_boot

T = datetime(2026, 11, 5, 16, 0, tzinfo=UTC)


async def campaign_with(pool: asyncpg.Pool, station: str, *request_ids: int) -> int:
    campaign = await firmware.create_campaign(pool, "https://fw/x.bin", T)
    for request_id in request_ids:
        await firmware.add_station(pool, campaign.id, station, request_id, None)
    return campaign.id


async def one(pool: asyncpg.Pool, station: str, request_id: int) -> firmware.StationUpdate:
    [update] = [u for u in await firmware.station_updates(pool, station_id=station,
                                                          latest_only=False)
                if u.request_id == request_id]
    return update


async def test_accepted_canceled_cancels_the_update_under_way(pool, station):
    await campaign_with(pool, station, 1)
    await firmware.record_answer(pool, station, 1, "Accepted", None)
    await firmware.record_status(pool, station, 1, "Downloading", None)
    await campaign_with(pool, station, 2)
    await firmware.record_answer(pool, station, 2, "AcceptedCanceled", None)
    assert (await one(pool, station, 1)).canceled_by == 2
    assert (await one(pool, station, 2)).canceled_by is None


async def test_a_status_means_the_request_was_taken(pool, station):
    await campaign_with(pool, station, 3)
    await firmware.record_answer(pool, station, 3, "queued", "queued until later")
    assert await firmware.record_status(pool, station, 3, "Downloading", None)
    update = await one(pool, station, 3)
    assert (update.answer, update.status) == ("Accepted", "Downloading")
    assert not await firmware.record_status(pool, station, 99, "Downloading", None)


async def test_the_next_boot_records_the_new_firmware_unless_the_update_failed_early(
        pool, station):
    await campaign_with(pool, station, 4, 5)
    await firmware.record_answer(pool, station, 4, "Accepted", None)
    await firmware.record_status(pool, station, 4, "InstallRebooting", None)
    await firmware.record_answer(pool, station, 5, "Rejected", None)
    await record_boot(pool, station, status="Accepted", reason="FirmwareUpdate",
                      vendor_name="V", model="M", firmware_version="2.0")
    await firmware.record_boot(pool, station, "FirmwareUpdate", "2.0")
    update = await one(pool, station, 4)
    assert (update.boot_reason, update.firmware_after) == ("FirmwareUpdate", "2.0")
    assert (await one(pool, station, 5)).booted_at is None
    await campaign_with(pool, station, 6)
    await firmware.record_answer(pool, station, 6, "Accepted", None)
    await firmware.record_status(pool, station, 6, "DownloadFailed", None)
    await firmware.record_boot(pool, station, "PowerUp", "2.0")
    assert (await one(pool, station, 6)).booted_at is None


async def test_queued_answers_are_settled_from_the_command_table(pool, station):
    await campaign_with(pool, station, 7)
    command_id = await commands.submit_command(pool, station, "UpdateFirmware", {})
    await firmware.set_command(pool, station, 7, command_id)
    await firmware.record_answer(pool, station, 7, "queued", None)
    assert await firmware.settle_answers(pool) == 0
    await commands.finish_command(pool, command_id, "answered",
                                  response={"status": "Rejected",
                                            "statusInfo": {"reasonCode": "Busy"}})
    assert await firmware.settle_answers(pool) == 1
    update = await one(pool, station, 7)
    assert (update.answer, update.answer_reason) == ("Rejected", "Busy")

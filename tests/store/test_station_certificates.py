"""Station certificate inventories, installs and CSRs in the store."""

from __future__ import annotations

import asyncpg

from csms.store import commands
from csms.store import station_certificates as store
from csms.store.station_certificates import HashFields, NewEntry

ROOT = HashFields("SHA256", "aa", "bb", "1f")
MAKER = HashFields("SHA256", "cc", "dd", "2a")


async def test_a_listing_replaces_only_the_types_asked(pool: asyncpg.Pool, station: str) -> None:
    await store.replace_inventory(pool, station, None, [
        NewEntry("CSMSRootCertificate", ROOT),
        NewEntry("ManufacturerRootCertificate", MAKER,
                 [{"hashAlgorithm": "SHA256", "issuerNameHash": "ee", "issuerKeyHash": "ff",
                   "serialNumber": "3"}])])
    await store.replace_inventory(pool, station, ["CSMSRootCertificate"], [])
    [left] = await store.list_inventory(pool, station)
    assert left.certificate_type == "ManufacturerRootCertificate"
    assert left.child_hash_data[0]["serialNumber"] == "3" and left.source == "reported"
    assert await store.remove_certificate(pool, station, MAKER) == 1
    assert await store.list_inventory(pool, station) == []


async def test_an_install_joins_the_inventory_with_what_was_installed(
        pool: asyncpg.Pool, station: str) -> None:
    install = await store.record_install(pool, station, "CSMSRootCertificate", "PEM",
                                         status="Accepted", reason=None, command_id=None,
                                         subject="CN=Root", issuer="CN=Root", serial_number="1f")
    await store.add_installed(pool, station, "CSMSRootCertificate", ROOT, install)
    [entry] = await store.list_inventory(pool, station, ["CSMSRootCertificate"])
    assert (entry.source, entry.subject, entry.issuer) == ("installed", "CN=Root", "CN=Root")
    assert [i.id for i in await store.list_installs(pool, station, accepted_only=True)] == [
        install]


async def test_a_csr_is_followed_to_the_stations_answer(pool: asyncpg.Pool,
                                                        station: str) -> None:
    first = await store.last_signing_id(pool)
    signing = await store.record_signing(pool, station, "ChargingStationCertificate", "CSR",
                                         request_id=None, csr_subject="CN=CS-001",
                                         status="Accepted", serial_number="abc",
                                         certificate_chain="CHAIN")
    command = await commands.submit_command(pool, station, "CertificateSigned",
                                            {"certificateChain": "CHAIN"})
    await store.record_delivery(pool, signing, command_id=command)
    [record] = await store.list_signings(pool, station, after_id=first)
    assert (record.delivery, record.station_status) == ("pending", None)
    await commands.finish_command(pool, command, "timeout", error_description="no answer")
    [record] = await store.list_signings(pool, station)
    assert (record.delivery, record.delivery_error) == ("timeout", "no answer")
    assert await store.record_signed_answer(pool, station, "abc", "Accepted", None)
    assert not await store.record_signed_answer(pool, station, "def", "Accepted", None)
    [record] = await store.list_signings(pool, None)
    assert record.station_status == "Accepted" and record.answered_at is not None
    assert await store.list_signings(pool, station, after_id=signing) == []

"""Block L (firmware management) end to end: ``csms firmware`` against a live CSMS node and
simulated stations over real sockets, named after the Part 6 cases (TC_L_xx_CSMS)."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from csms.operations import Operations
from csms.operations.firmware import FirmwareRequest, Phase, update_firmware, update_status
from csms.server import CentralSystem
from csms.store import firmware, reports, stations, transactions
from simulators import firmware as sim_firmware
from simulators.scenario import Distribution, Scenario
from simulators.simulated_fleet import Fleet
from simulators.station import Station
from tests.cli.conftest import run_cli_async
from tests.operations.conftest import fleet_configs, running, wait_for

pytestmark = pytest.mark.e2e

IMAGE = b"\x7fFIRMWARE" + bytes(range(256)) * 64
INSTALLED = ["Downloading", "Downloaded", "SignatureVerified", "Installing",
             "InstallRebooting", "Installed"]


@dataclass
class Signer:
    """A firmware signing certificate (PEM file) and its key."""

    key: ec.EllipticCurvePrivateKey
    cert: x509.Certificate
    pem_file: Path

    def sign(self, image: bytes) -> str:
        return base64.b64encode(self.key.sign(image, ec.ECDSA(hashes.SHA256()))).decode()


def make_signer(directory: Path, *, expired: bool = False) -> Signer:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Firmware Signer")])
    now = datetime.now(UTC)
    start = now - timedelta(days=30) if expired else now - timedelta(minutes=5)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(start).not_valid_after(start + timedelta(days=1))
            .sign(key, hashes.SHA256()))
    path = directory / ("expired.pem" if expired else "signer.pem")
    path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return Signer(key, cert, path)


@contextlib.asynccontextmanager
async def firmware_server(image: bytes) -> AsyncIterator[str]:
    """A file server on 127.0.0.1 that answers every GET with ``image``."""

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\nConnection: close\r\n\r\n"
                     % len(image) + image)
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    try:
        yield f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}"
    finally:
        server.close()


@pytest.fixture
async def node(csms: CentralSystem, database_url: str) -> AsyncIterator[dict]:
    """Idle stations FW1..FW3 (no car) and BUSY1 (charging) connected to a live node."""
    idle = fleet_configs(csms, 3, "FW", seed=3,
                         scenario=Scenario(arrival_s=Distribution("fixed", 86_400.0)))
    busy = fleet_configs(csms, 1, "BUSY", seed=5)
    fleet = Fleet(idle + busy)
    async with running(fleet):
        async def ready():
            rows = [await stations.get_station(csms.pool, s.id) for s in fleet.stations]
            tx = await transactions.active_transaction_ids(csms.pool, "BUSY1")
            return all(r and r.connectors for r in rows) and tx
        await wait_for(ready, 60)
        yield {"db": database_url, "csms": csms,
               "stations": {s.id: s for s in fleet.stations}}


async def cli(node: dict, *args: str) -> tuple[int, object, str]:
    result = await run_cli_async(*args, "--json", "--database-url", node["db"])
    out = json.loads(result.stdout) if result.stdout.strip() else None
    return result.exit_code, out, result.stderr


async def history(pool, station_id: str, request_id: int) -> list[str]:
    return [e.status for e in await firmware.status_history(pool, station_id, request_id)]


async def settled(pool, station_id: str, request_id: int, final: str,
                  timeout: float = 30) -> firmware.StationUpdate:
    async def done():
        [update] = [u for u in await firmware.station_updates(pool, station_id=station_id,
                                                              latest_only=False)
                    if u.request_id == request_id]
        return update if update.status == final else None
    return await wait_for(done, timeout)


async def test_tc_l_01_secure_firmware_update_installed(node, tmp_path):
    signer = make_signer(tmp_path)
    pool = node["csms"].pool
    async with firmware_server(IMAGE) as base:
        code, out, err = await cli(node, "firmware", "update", "FW1", "--location",
                                   f"{base}/fw-2.0.0.bin", "--signature", signer.sign(IMAGE),
                                   "--signing-certificate", str(signer.pem_file))
        assert code == 0, err
        [sent] = out["stations"]
        assert sent["answer"] == "Accepted" and out["campaign"]["signed"] is True
        update = await settled(pool, "FW1", sent["request_id"], "Installed")
    assert await history(pool, "FW1", sent["request_id"]) == INSTALLED
    # The station rebooted with reason FirmwareUpdate and reported its new firmware.
    assert (update.boot_reason, update.firmware_after) == ("FirmwareUpdate", "fw-2.0.0")
    assert update.firmware_before == "1.4.2-sim"
    station = await stations.get_station(pool, "FW1")
    assert (station.boot_reason, station.firmware_version) == ("FirmwareUpdate", "fw-2.0.0")
    code, rows, _ = await cli(node, "firmware", "status", "--station", "FW1")
    assert code == 0 and rows[0]["phase"] == "installed"
    assert [h["status"] for h in rows[0]["history"]] == INSTALLED


async def test_tc_l_02_install_scheduled(node):
    ops_request = FirmwareRequest("https://fw.example.com/fw-2.1.0.bin", datetime.now(UTC),
                                  install_at=datetime.now(UTC) + timedelta(seconds=2))
    result = await send(node, ["FW2"], ops_request)
    request_id = result.stations[0].request_id
    await settled(node["csms"].pool, "FW2", request_id, "Installed")
    assert await history(node["csms"].pool, "FW2", request_id) == [
        "Downloading", "Downloaded", "InstallScheduled", "Installing", "InstallRebooting",
        "Installed"]


async def test_tc_l_03_download_scheduled(node):
    code, out, err = await cli(node, "firmware", "update", "FW3", "--location",
                               "https://fw.example.com/fw-3.bin", "--retrieve-at", "+2s")
    assert code == 0, err
    request_id = out["stations"][0]["request_id"]
    pool = node["csms"].pool
    await settled(pool, "FW3", request_id, "Installed")
    statuses = await history(pool, "FW3", request_id)
    assert statuses[:2] == ["DownloadScheduled", "Downloading"] and statuses[-1] == "Installed"


async def test_tc_l_04_revoked_certificate(node, tmp_path):
    signer = make_signer(tmp_path)
    node["stations"]["FW1"].firmware.revoked_serials.add(signer.cert.serial_number)
    code, out, err = await cli(node, "firmware", "update", "FW1", "--location",
                               "https://fw.example.com/fw.bin", "--signature", signer.sign(b"x"),
                               "--signing-certificate", str(signer.pem_file))
    assert code == 5 and "RevokedCertificate" in err
    assert out["stations"][0]["answer"] == "RevokedCertificate"
    [view] = await update_status(node["csms"].pool, station_id="FW1")
    assert view.phase is Phase.REFUSED and view.update.status is None


async def test_tc_l_05_invalid_certificate(node, tmp_path):
    signer = make_signer(tmp_path, expired=True)
    code, out, _ = await cli(node, "firmware", "update", "FW2", "--location",
                             "https://fw.example.com/fw.bin", "--signature", signer.sign(b"x"),
                             "--signing-certificate", str(signer.pem_file))
    assert code == 5 and out["stations"][0]["answer"] == "InvalidCertificate"

    async def security_event():  # L01.FR.02
        events = await reports.list_security_events(node["csms"].pool, "FW2")
        return [e for e in events if e["type"] == "InvalidFirmwareSigningCertificate"]
    assert await wait_for(security_event, 10)


async def test_tc_l_06_invalid_signature(node, tmp_path):
    signer = make_signer(tmp_path)
    async with firmware_server(IMAGE) as base:
        code, out, err = await cli(node, "firmware", "update", "FW3", "--location",
                                   f"{base}/fw.bin", "--signature", signer.sign(b"other image"),
                                   "--signing-certificate", str(signer.pem_file))
        assert code == 0, err
        request_id = out["stations"][0]["request_id"]
        await settled(node["csms"].pool, "FW3", request_id, "InvalidSignature")
    assert await history(node["csms"].pool, "FW3", request_id) == [
        "Downloading", "Downloaded", "InvalidSignature"]
    [view] = await update_status(node["csms"].pool, station_id="FW3")
    assert view.phase is Phase.FAILED and view.update.booted_at is None


async def test_tc_l_07_download_failed_after_the_retries(node):
    async with firmware_server(IMAGE) as base:
        pass  # closed: nothing listens there any more
    request = FirmwareRequest(f"{base}/fw.bin", datetime.now(UTC), retries=1, retry_interval=0)
    result = await send(node, ["FW1"], request)
    request_id = result.stations[0].request_id
    await settled(node["csms"].pool, "FW1", request_id, "DownloadFailed")
    assert await history(node["csms"].pool, "FW1", request_id) == [
        "Downloading", "Downloading", "DownloadFailed"]
    station = await stations.get_station(node["csms"].pool, "FW1")
    assert station.firmware_version == "1.4.2-sim"


async def test_tc_l_10_accepted_canceled(node):
    pool = node["csms"].pool
    later = FirmwareRequest("https://fw.example.com/old.bin",
                            datetime.now(UTC) + timedelta(minutes=10))
    first = (await send(node, ["FW2"], later)).stations[0]
    await settled(pool, "FW2", first.request_id, "DownloadScheduled")
    second = (await send(node, ["FW2"], FirmwareRequest("https://fw.example.com/new.bin",
                                                        datetime.now(UTC)))).stations[0]
    assert second.outcome.station_status == "AcceptedCanceled" and second.outcome.ok
    await settled(pool, "FW2", second.request_id, "Installed")
    views = {v.update.request_id: v for v in await update_status(pool, station_id="FW2")}
    assert views[first.request_id].phase is Phase.CANCELED
    assert views[first.request_id].update.canceled_by == second.request_id
    assert views[second.request_id].update.firmware_after == "new"


async def test_tc_l_11_unable_to_cancel(node, monkeypatch):
    monkeypatch.setattr(sim_firmware, "INSTALL_S", 3.0)
    pool = node["csms"].pool
    first = (await send(node, ["FW3"], FirmwareRequest("https://fw.example.com/a.bin",
                                                       datetime.now(UTC)))).stations[0]
    await settled(pool, "FW3", first.request_id, "Installing")
    second = (await send(node, ["FW3"], FirmwareRequest("https://fw.example.com/b.bin",
                                                        datetime.now(UTC)))).stations[0]
    assert second.outcome.station_status == "Rejected"
    update = await settled(pool, "FW3", first.request_id, "Installed")
    assert update.firmware_after == "a"


async def test_tc_l_13_installs_once_the_transaction_has_ended(node):
    pool = node["csms"].pool
    [tx_id] = await transactions.active_transaction_ids(pool, "BUSY1")
    sent = (await send(node, ["BUSY1"], FirmwareRequest("https://fw.example.com/fw-9.bin",
                                                        datetime.now(UTC)))).stations[0]
    await settled(pool, "BUSY1", sent.request_id, "InstallScheduled")
    async with Operations(pool, node["db"]) as ops:
        stop = await ops.call("BUSY1", "RequestStopTransaction", {"transactionId": tx_id})
    assert stop.ok
    update = await settled(pool, "BUSY1", sent.request_id, "Installed")
    assert update.firmware_after == "fw-9"


async def test_campaign_reports_offline_stations_and_queues_on_request(node, csms):
    pool = node["csms"].pool
    # No car due: a station mid-transaction may hold an update until the transaction ends.
    late = Station(fleet_configs(csms, 1, "LATE", seed=9, scenario=Scenario(
        arrival_s=Distribution("fixed", 86_400.0)))[0])
    await stations.register_station(pool, "LATE1", "fleet-password-0001")
    code, out, err = await cli(node, "firmware", "update", "FW1", "LATE1", "--location",
                               "https://fw.example.com/fw-5.bin")
    assert code == 4 and "LATE1" in err  # offline, not sent
    assert {s["station"]: s["outcome"] for s in out["stations"]} == {
        "FW1": "accepted", "LATE1": "offline"}
    first_campaign = out["campaign"]["id"]
    code, out, err = await cli(node, "firmware", "update", "LATE1", "--location",
                               "https://fw.example.com/fw-6.bin", "--queue-for", "10m")
    assert code == 10 and out["stations"][0]["outcome"] == "queued"
    campaign_id, request_id = out["campaign"]["id"], out["stations"][0]["request_id"]
    task = asyncio.create_task(late.run())
    try:
        update = await settled(pool, "LATE1", request_id, "Installed")
    finally:
        late.stop()
        await asyncio.wait_for(task, 10)
    assert update.answer == "Accepted" and update.firmware_after == "fw-6"
    code, campaigns, _ = await cli(node, "firmware", "campaigns")
    summary = {c["id"]: c for c in campaigns}
    assert summary[campaign_id]["phases"] == {"installed": 1}
    assert summary[first_campaign]["stations"] == 2
    assert summary[first_campaign]["phases"]["not-sent"] == 1


async def test_trigger_firmware_status_reports_the_update_under_way(node):
    pool = node["csms"].pool
    sent = (await send(node, ["FW2"], FirmwareRequest(
        "https://fw.example.com/x.bin", datetime.now(UTC) + timedelta(minutes=5)))).stations[0]
    await settled(pool, "FW2", sent.request_id, "DownloadScheduled")
    async with Operations(pool, node["db"]) as ops:
        busy = await ops.call("FW2", "TriggerMessage",
                              {"requestedMessage": "FirmwareStatusNotification"})
        idle = await ops.call("FW1", "TriggerMessage",
                              {"requestedMessage": "FirmwareStatusNotification"})
    assert busy.ok and idle.ok

    async def reported():
        latest = {r["station_id"]: r for r in await pool.fetch(
            "SELECT DISTINCT ON (station_id) station_id, status, request_id"
            " FROM status_notifications WHERE kind = 'firmware' ORDER BY station_id, id DESC")}
        fw1, fw2 = latest.get("FW1"), latest.get("FW2")
        return fw1 and fw2 and (fw2, fw1)
    fw2, fw1 = await wait_for(reported, 10)
    assert (fw2["status"], fw2["request_id"]) == ("DownloadScheduled", sent.request_id)
    assert (fw1["status"], fw1["request_id"]) == ("Idle", None)
    assert len(await history(pool, "FW2", sent.request_id)) == 2


async def send(node: dict, station_ids: list[str], request: FirmwareRequest):
    async with Operations(node["csms"].pool, node["db"]) as ops:
        return await update_firmware(ops, station_ids, request, timeout=10)

"""The security walkthrough of docs/security.md: a development PKI made with ``csms certs``,
stations registered for profiles 2 and 3, and simulated stations connecting over TLS."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from csms.config import ServerConfig
from csms.server import CentralSystem
from simulators.station import Station, StationConfig
from tests.cli.conftest import run_cli
from tests.server.helpers import until

#: Fault tests log many tracebacks: plain lines keep them cheap.
pytestmark = pytest.mark.usefixtures("plain_logs")

PASSWORD = "a-long-password-0001"


async def test_profiles_2_and_3_with_the_development_pki(
        server_config: ServerConfig, database_url: str, tmp_path: Path) -> None:
    pki = tmp_path / "pki"
    for args in (["certs", "init", "--dir", str(pki)], ["certs", "station", "SIM1", "--dir",
                                                         str(pki)]):
        assert (await asyncio.to_thread(run_cli, *args)).exit_code == 0
    for args in (["stations", "add", "SIM1", "--security-profile", "3"],
                 ["stations", "add", "TLS1", "--password", PASSWORD, "--security-profile", "2"]):
        result = await asyncio.to_thread(run_cli, *args, "--database-url", database_url)
        assert result.exit_code == 0, result.stderr
    server_config.tls_cert = str(pki / "server.pem")
    server_config.tls_key = str(pki / "server.key")
    server_config.tls_client_ca = str(pki / "ca.pem")
    system = CentralSystem(server_config)
    await system.start()
    url = f"wss://localhost:{system.port}/ocpp"
    quick = {"backoff_min_s": 0.2, "backoff_random_s": 0.2, "ca_file": str(pki / "ca.pem")}
    profile3 = Station(StationConfig("SIM1", url, cert_file=str(pki / "SIM1.pem"),
                                     key_file=str(pki / "SIM1.key"), **quick))
    profile2 = Station(StationConfig("TLS1", url, password=PASSWORD, **quick))
    # A profile-3 station without its certificate does not get in, whatever its password.
    impostor = Station(StationConfig("SIM1", url, password=PASSWORD, **quick))
    stations = [profile3, profile2, impostor]
    tasks = [asyncio.create_task(s.run()) for s in stations]
    try:
        await until(lambda: profile3.online and profile2.online, what="TLS stations online")
        await until(lambda: impostor.stats.connect_failures >= 2, what="impostor refused")
        assert impostor.stats.connects == 0 and system.sessions["SIM1"] is not None
    finally:
        for station in stations:
            station.stop()
        await asyncio.gather(*tasks)
        await system.stop()

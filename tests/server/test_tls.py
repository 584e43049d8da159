"""Security profiles 2 and 3 over real TLS (TC_A_04, TC_A_06, TC_A_07, TC_A_08)."""

from __future__ import annotations

import datetime as dt
import ssl
import warnings
from pathlib import Path

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidHandshake, InvalidStatus

from csms.security import pki
from csms.server import CentralSystem
from csms.store import stations
from tests.conftest import started
from tests.server.conftest import BOOT, PASSWORD, basic, exchange


@pytest.fixture
def pki_dir(tmp_path: Path) -> Path:
    pki.init_ca(tmp_path)
    return tmp_path


@pytest.fixture
async def tls_csms(server_config, pki_dir: Path):
    server_config.tls_cert = str(pki_dir / "server.pem")
    server_config.tls_key = str(pki_dir / "server.key")
    server_config.tls_client_ca = str(pki_dir / "ca.pem")
    async with started(server_config) as system:
        yield system


def client_context(pki_dir: Path, station: str | None = None,
                   maximum: ssl.TLSVersion | None = None) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=str(pki_dir / "ca.pem"))
    if station:
        context.load_cert_chain(str(pki_dir / f"{station}.pem"), str(pki_dir / f"{station}.key"))
    if maximum is not None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            context.minimum_version = ssl.TLSVersion.TLSv1
            context.maximum_version = maximum
    return context


async def open_tls(system: CentralSystem, identity: str, context: ssl.SSLContext,
                   password: str | None = PASSWORD):
    headers = basic(identity, password) if password else {}
    return await connect(f"wss://localhost:{system.port}/ocpp/{identity}", ssl=context,
                         subprotocols=["ocpp2.0.1"], additional_headers=headers, open_timeout=5)


async def test_tc_a_04_profile_2_tls_with_basic_auth(tls_csms: CentralSystem, pki_dir: Path):
    await stations.register_station(tls_csms.pool, "SP2", PASSWORD, security_profile=2)
    async with await open_tls(tls_csms, "SP2", client_context(pki_dir)) as ws:
        answer = await exchange(ws, [2, "b", "BootNotification", BOOT])
        assert answer[2]["status"] == "Accepted"
    with pytest.raises(InvalidStatus) as refused:
        await open_tls(tls_csms, "SP2", client_context(pki_dir), password="wrong-password-xyz")
    assert refused.value.response.status_code == 401


async def test_tc_a_06_tls_below_1_2_is_refused(tls_csms: CentralSystem, pki_dir: Path):
    await stations.register_station(tls_csms.pool, "OLD", PASSWORD, security_profile=2)
    context = client_context(pki_dir, maximum=ssl.TLSVersion.TLSv1_1)
    try:
        context.set_ciphers("DEFAULT:@SECLEVEL=0")
    except ssl.SSLError:
        pass
    with pytest.raises((ssl.SSLError, OSError)):
        await open_tls(tls_csms, "OLD", context)


async def test_tc_a_07_profile_3_valid_client_certificate(tls_csms: CentralSystem, pki_dir: Path):
    await stations.register_station(tls_csms.pool, "SP3", None, security_profile=3)
    pki.issue_station(pki_dir, "SP3")
    async with await open_tls(tls_csms, "SP3", client_context(pki_dir, "SP3"),
                              password=None) as ws:
        answer = await exchange(ws, [2, "b", "BootNotification", BOOT])
        assert answer[2]["status"] == "Accepted"


async def test_profile_3_station_cannot_log_in_with_only_a_password(
    tls_csms: CentralSystem, pki_dir: Path
):
    await stations.register_station(tls_csms.pool, "SP3B", PASSWORD, security_profile=3)
    with pytest.raises(InvalidStatus) as refused:
        await open_tls(tls_csms, "SP3B", client_context(pki_dir))
    assert refused.value.response.status_code == 401


async def test_certificate_for_another_identity_is_refused(
    tls_csms: CentralSystem, pki_dir: Path
):
    await stations.register_station(tls_csms.pool, "SP3C", None, security_profile=3)
    pki.issue_station(pki_dir, "SOMEONE-ELSE")
    with pytest.raises(InvalidStatus) as refused:
        await open_tls(tls_csms, "SP3C", client_context(pki_dir, "SOMEONE-ELSE"), password=None)
    assert refused.value.response.status_code == 401


async def test_tc_a_08_certificate_from_another_ca_fails_the_handshake(
    tls_csms: CentralSystem, pki_dir: Path, tmp_path_factory: pytest.TempPathFactory
):
    await stations.register_station(tls_csms.pool, "SP3D", None, security_profile=3)
    rogue = tmp_path_factory.mktemp("rogue")
    pki.init_ca(rogue)
    pki.issue_station(rogue, "SP3D")
    context = client_context(pki_dir)
    context.load_cert_chain(str(rogue / "SP3D.pem"), str(rogue / "SP3D.key"))
    # With TLS 1.3 the server checks the client certificate after the client's handshake ends,
    # so the client sees the connection dropped before any HTTP response.
    with pytest.raises((ssl.SSLError, OSError, InvalidHandshake)):
        ws = await open_tls(tls_csms, "SP3D", context, password=None)
        await ws.recv()


async def test_tc_a_08_expired_certificate_fails_the_handshake(
    tls_csms: CentralSystem, pki_dir: Path
):
    await stations.register_station(tls_csms.pool, "SP3E", None, security_profile=3)
    long_ago = dt.datetime.now(dt.UTC) - dt.timedelta(days=30)
    pki.issue_station(pki_dir, "SP3E", days=1, not_before=long_ago)
    # With TLS 1.3 the server checks the client certificate after the client's handshake ends,
    # so the client sees the connection dropped before any HTTP response.
    with pytest.raises((ssl.SSLError, OSError, InvalidHandshake)):
        ws = await open_tls(tls_csms, "SP3E", client_context(pki_dir, "SP3E"), password=None)
        await ws.recv()


async def test_profile_2_station_refused_on_plain_websocket(csms: CentralSystem):
    from tests.server.conftest import open_station

    await stations.register_station(csms.pool, "SP2-PLAIN", PASSWORD, security_profile=2)
    with pytest.raises(InvalidStatus) as refused:
        await open_station(csms, "SP2-PLAIN")
    assert refused.value.response.status_code == 401

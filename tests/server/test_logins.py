"""Password checks at login across restarts (csms.logins): with the password key, a station
whose password scrypt accepted once logs in after a restart without scrypt; without the key,
or with another, scrypt decides as before. A live node, real sockets, real PostgreSQL."""

from __future__ import annotations

import asyncio
import dataclasses
from pathlib import Path

import pytest
from websockets.exceptions import InvalidStatus

from csms import logins
from csms.config import ServerConfig
from csms.security.password_key import load_keys
from csms.server import CentralSystem
from csms.store import rotation, stations
from csms.store.passwords import hash_password, verify_password
from tests.server.conftest import PASSWORD, open_station


@pytest.fixture
def scrypts(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The passwords scrypt checks, in order."""
    checked: list[str] = []

    def counting(password: str, stored: str) -> bool:
        checked.append(password)
        return verify_password(password, stored)

    monkeypatch.setattr(logins, "verify_password", counting)
    return checked


async def login(config: ServerConfig, identity: str, password: str = PASSWORD) -> None:
    """Start a node, log ``identity`` in once, stop the node (a restart in between calls)."""
    system = CentralSystem(config)
    await system.start()
    try:
        async with await open_station(system, identity, password=password):
            pass
    finally:
        await system.stop()  # waits for the verifier writes


async def verifier_of(config: ServerConfig, identity: str) -> str | None:
    system = CentralSystem(config)
    await system.start()
    try:
        known = await stations.get_station_credentials(system.pool, identity)
        assert known is not None
        return known.password_verifier
    finally:
        await system.stop()


async def test_after_a_restart_a_verified_password_needs_no_scrypt(
    server_config: ServerConfig, tmp_path: Path, scrypts: list[str]
):
    config = dataclasses.replace(server_config, password_key_file=tmp_path / "password-key")
    system = CentralSystem(config)
    await system.start()
    await stations.register_station(system.pool, "CP-1", None,
                                    password_hash=hash_password(PASSWORD, log2_n=10))
    await system.stop()
    await login(config, "CP-1")
    assert scrypts == [PASSWORD]
    verifier = await verifier_of(config, "CP-1")
    assert verifier and PASSWORD not in verifier
    await login(config, "CP-1")  # a new process: its cache is empty
    await login(config, "CP-1")
    assert scrypts == [PASSWORD]
    # A wrong password is not settled by the verifier: scrypt refuses it.
    with pytest.raises(InvalidStatus, match="401"):
        await login(config, "CP-1", PASSWORD + "-wrong")
    assert scrypts == [PASSWORD, PASSWORD + "-wrong"]


async def test_a_lost_key_costs_one_scrypt_per_station_then_verifiers_under_the_new_key(
    server_config: ServerConfig, tmp_path: Path, scrypts: list[str]
):
    path = tmp_path / "password-key"
    config = dataclasses.replace(server_config, password_key_file=path)
    await login_registered(config)
    old = await verifier_of(config, "CP-1")
    path.unlink()  # lost: the next start makes a new key
    await login(config, "CP-1")
    await login(config, "CP-1")
    assert scrypts == [PASSWORD, PASSWORD]
    new = await verifier_of(config, "CP-1")
    assert new != old and load_keys(path).current_id in new


async def test_without_the_key_file_scrypt_decides(
    server_config: ServerConfig, tmp_path: Path, scrypts: list[str]
):
    with_key = dataclasses.replace(server_config, password_key_file=tmp_path / "password-key")
    await login_registered(with_key)
    await login(server_config, "CP-1")  # a node without the key ignores the verifier
    assert scrypts == [PASSWORD, PASSWORD]


async def test_a_new_password_drops_the_verifier_and_the_old_password_fails(
    server_config: ServerConfig, tmp_path: Path, scrypts: list[str]
):
    config = dataclasses.replace(server_config, password_key_file=tmp_path / "password-key")
    await login_registered(config)
    assert await verifier_of(config, "CP-1")
    system = CentralSystem(config)
    await system.start()
    try:
        await stations.set_password(system.pool, "CP-1", "the-new-password-0002", log2_n=10)
        known = await stations.get_station_credentials(system.pool, "CP-1")
        assert known is not None and known.password_verifier is None
    finally:
        await system.stop()
    with pytest.raises(InvalidStatus, match="401"):
        await login(config, "CP-1")
    await login(config, "CP-1", "the-new-password-0002")
    assert await verifier_of(config, "CP-1")


async def test_a_login_with_the_pending_password_stores_its_verifier(
    server_config: ServerConfig, tmp_path: Path, scrypts: list[str]
):
    config = dataclasses.replace(server_config, password_key_file=tmp_path / "password-key")
    await login_registered(config)
    system = CentralSystem(config)
    await system.start()
    try:
        await rotation.begin_password_change(
            system.pool, "CP-1", hash_password("the-new-password-0002", log2_n=10))
        async with await open_station(system, "CP-1", password="the-new-password-0002"):
            pass
    finally:
        await system.stop()
    scrypts.clear()
    await login(config, "CP-1", "the-new-password-0002")
    assert scrypts == []


async def login_registered(config: ServerConfig) -> None:
    """Register CP-1 (cost 2**10) and log it in once, so that its verifier is stored."""
    system = CentralSystem(config)
    await system.start()
    try:
        await stations.register_station(system.pool, "CP-1", None,
                                        password_hash=hash_password(PASSWORD, log2_n=10))
    finally:
        await system.stop()
    await login(config, "CP-1")


async def test_one_credential_is_checked_by_one_scrypt_even_when_a_waiter_gives_up(
    scrypts: list[str]
):
    checker = logins.PasswordLogins(None, None)
    stored = hash_password(PASSWORD, log2_n=12)
    try:
        first = asyncio.create_task(checker.verify("CP-1", PASSWORD, stored))
        await asyncio.sleep(0)
        first.cancel()  # a handshake that timed out while its check waited
        assert await asyncio.gather(
            checker.verify("CP-1", PASSWORD, stored),
            checker.verify("CP-1", PASSWORD, stored),
            checker.verify("CP-1", PASSWORD + "-wrong", stored),
        ) == [True, True, False]
        assert sorted(scrypts) == [PASSWORD, PASSWORD + "-wrong"]
        assert await checker.verify("CP-1", PASSWORD, stored)  # remembered
        assert len(scrypts) == 2
    finally:
        await checker.close()

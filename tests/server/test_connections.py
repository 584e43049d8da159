"""Connection costs: reconnects skip scrypt (the verified-password cache, alone and in a live
server), and permessage-deflate is negotiated with small windows."""

from __future__ import annotations

import json

import pytest
from websockets.exceptions import InvalidStatus

from csms import server as server_module
from csms.server import CentralSystem
from csms.store import stations
from csms.store.passwords import VerifiedPasswords, hash_password, verify_password
from tests.server.conftest import BOOT, PASSWORD, open_station


def test_cache_matches_only_the_same_identity_password_and_hash():
    cache = VerifiedPasswords()
    stored = hash_password(PASSWORD, log2_n=10)
    cache.remember("CP-1", PASSWORD, stored)
    assert cache.known("CP-1", PASSWORD, stored)
    assert not cache.known("CP-1", PASSWORD + "x", stored)
    assert not cache.known("CP-2", PASSWORD, stored)
    # A new password hash (another salt) is a new credential.
    assert not cache.known("CP-1", PASSWORD, hash_password(PASSWORD, log2_n=10))


def test_cache_holds_no_password_and_drops_the_least_recently_used():
    cache = VerifiedPasswords(max_entries=2)
    for identity in ("A", "B"):
        cache.remember(identity, PASSWORD, "h")
    assert cache.known("A", PASSWORD, "h")  # A is now the most recently used
    cache.remember("C", PASSWORD, "h")
    assert len(cache) == 2
    assert cache.known("A", PASSWORD, "h") and not cache.known("B", PASSWORD, "h")
    assert all(PASSWORD.encode() not in tag for tag in cache._tags)


async def test_reconnect_skips_scrypt_and_a_wrong_password_still_fails(
    csms: CentralSystem, monkeypatch: pytest.MonkeyPatch
):
    await stations.register_station(csms.pool, "CP-1", PASSWORD)
    verifications: list[str] = []

    def counting(password: str, stored: str) -> bool:
        verifications.append(password)
        return verify_password(password, stored)

    monkeypatch.setattr(server_module, "verify_password", counting)
    for _ in range(3):
        async with await open_station(csms, "CP-1"):
            pass
    assert verifications == [PASSWORD]
    with pytest.raises(InvalidStatus, match="401"):
        await open_station(csms, "CP-1", password=PASSWORD + "-wrong")
    assert len(verifications) == 2
    # A new password: the old one no longer opens the door, even though it was cached.
    await stations.set_password(csms.pool, "CP-1", "another-password-0123")
    with pytest.raises(InvalidStatus, match="401"):
        await open_station(csms, "CP-1")
    async with await open_station(csms, "CP-1", password="another-password-0123"):
        pass


async def test_deflate_is_negotiated_with_small_windows(csms: CentralSystem):
    await stations.register_station(csms.pool, "CP-1", PASSWORD)
    async with await open_station(csms, "CP-1") as ws:
        agreed = ws.response.headers.get("Sec-WebSocket-Extensions", "")
        assert "permessage-deflate" in agreed
        assert "server_max_window_bits=10" in agreed
        assert "client_max_window_bits=10" in agreed
        await ws.send(json.dumps([2, "1", "BootNotification", BOOT]))
        assert json.loads(await ws.recv())[2]["status"] == "Accepted"

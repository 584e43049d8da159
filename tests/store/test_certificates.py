"""The CSMS's certificate settings, signing CAs, contract roots, revocation list and OCSP
cache."""

from __future__ import annotations

import datetime as dt

import asyncpg
import pytest

from csms.store import certificates
from csms.store.certificates import CachedOcsp, CertificateSettings


@pytest.mark.parametrize(("prefixes", "url", "allowed"), [
    ((), "http://ocsp.example/", False),
    (("*",), "https://anything.example/x", True),
    (("*",), "ftp://anything.example/x", False),
    (("http://ocsp.example",), "HTTP://OCSP.example/mo", True),
    (("http://ocsp.example",), "http://ocsp.example:8080/", True),
    (("http://ocsp.example",), "http://ocsp.example.evil.net/", False),
    (("http://ocsp.example/mo/",), "http://ocsp.example/mo/sub", True),
    (("http://ocsp.example/mo/",), "http://ocsp.example/other", False),
])
def test_which_responders_may_be_asked(prefixes: tuple[str, ...], url: str,
                                       allowed: bool) -> None:
    assert CertificateSettings(None, prefixes, 10.0).ocsp_allowed(url) is allowed


async def test_settings_start_empty_and_are_kept(pool: asyncpg.Pool) -> None:
    empty = await certificates.get_settings(pool)
    assert (empty.contract_url, empty.ocsp_responders, empty.http_timeout_s) == (None, (), 10.0)
    saved = await certificates.save_settings(pool, CertificateSettings(
        "http://contracts.example/", ("http://ocsp.example",), 3.5))
    assert saved.contract_url == "http://contracts.example/" and saved.http_timeout_s == 3.5
    assert await certificates.get_settings(pool) == saved


async def test_one_ca_per_certificate_type(pool: asyncpg.Pool) -> None:
    await certificates.set_authority(pool, "ChargingStationCertificate", "/a.pem", "/a.key", 30)
    await certificates.set_authority(pool, "ChargingStationCertificate", "/b.pem", "/b.key", 60)
    [record] = await certificates.list_authorities(pool)
    assert (record.cert_file, record.days) == ("/b.pem", 60)
    assert await certificates.remove_authority(pool, "ChargingStationCertificate")
    assert not await certificates.remove_authority(pool, "ChargingStationCertificate")
    assert await certificates.get_authority(pool, "ChargingStationCertificate") is None


async def test_contract_roots_by_fingerprint_prefix(pool: asyncpg.Pool) -> None:
    later = dt.datetime(2040, 1, 1, tzinfo=dt.UTC)
    assert await certificates.add_contract_root(pool, "MORootCertificate", "PEM1", "CN=A",
                                                "ab12", later)
    assert not await certificates.add_contract_root(pool, "MORootCertificate", "PEM1", "CN=A",
                                                    "ab12", later)
    await certificates.add_contract_root(pool, "V2GRootCertificate", "PEM2", "CN=B", "ab34",
                                         later)
    assert sorted(await certificates.remove_contract_root(pool, "AB")) == ["ab12", "ab34"]
    assert len(await certificates.contract_roots(pool)) == 2  # ambiguous: nothing removed
    assert await certificates.remove_contract_root(pool, "ab3") == ["ab34"]
    assert [r.subject for r in await certificates.contract_roots(pool)] == ["CN=A"]


async def test_revocations_by_serial(pool: asyncpg.Pool) -> None:
    entry = await certificates.add_revocation(pool, "1f", reason="stolen")
    await certificates.add_revocation(pool, "2a", hash_algorithm="SHA256",
                                      issuer_name_hash="aa", issuer_key_hash="bb")
    assert [e.id for e in await certificates.revocations_for(pool, ["1f", "99"])] == [entry.id]
    with pytest.raises(asyncpg.CheckViolationError):
        await certificates.add_revocation(pool, "3b", hash_algorithm="SHA256")
    assert await certificates.remove_revocation(pool, entry.id)
    assert [e.serial_number for e in await certificates.list_revocations(pool)] == ["2a"]


async def test_ocsp_answers_are_kept_until_next_update(pool: asyncpg.Pool) -> None:
    now = dt.datetime.now(dt.UTC)
    key = ("SHA256", "aa", "bb", "1f")
    answer = CachedOcsp("http://ocsp.example/", "good", b"\x30\x03", True, now,
                        now + dt.timedelta(minutes=10), None)
    await certificates.store_ocsp(pool, key, answer)
    assert await certificates.cached_ocsp(pool, key, now) == answer
    assert await certificates.cached_ocsp(pool, key, now + dt.timedelta(minutes=11)) is None
    revoked = CachedOcsp("http://ocsp.example/", "revoked", b"\x30\x04", True, now,
                         now + dt.timedelta(minutes=10), now)
    await certificates.store_ocsp(pool, key, revoked)
    assert (await certificates.cached_ocsp(pool, key, now)).status == "revoked"

"""Station password hashing."""

from __future__ import annotations

from csms.store.passwords import hash_password, verify_password


def test_hash_verifies_only_the_same_password():
    stored = hash_password("0123456789abcdef")
    assert stored.startswith("scrypt$")
    assert "0123456789abcdef" not in stored
    assert verify_password("0123456789abcdef", stored)
    assert not verify_password("0123456789abcdeF", stored)
    assert not verify_password("", stored)


def test_hashes_are_salted():
    assert hash_password("same password here") != hash_password("same password here")


def test_malformed_stored_values_never_match():
    good = hash_password("0123456789abcdef")
    for stored in ("", "plain", "bcrypt$x", good.replace("scrypt$14", "scrypt$99"),
                   good.rsplit("$", 1)[0] + "$!!notbase64!!", good.rsplit("$", 1)[0] + "$"):
        assert not verify_password("0123456789abcdef", stored)

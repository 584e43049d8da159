"""The password key and its verifiers (csms.security.password_key): pure logic and the key
file's rules."""

from __future__ import annotations

import os
import stat

import pytest

from csms.security.password_key import (
    PasswordKeyError,
    PasswordKeys,
    VerifierCheck,
    load_keys,
    write_keys,
)
from csms.store.passwords import hash_password

PASSWORD = "an-operators-password-01"


def test_a_verifier_vouches_only_for_its_identity_password_and_hash():
    keys = PasswordKeys.generate()
    stored = hash_password(PASSWORD, log2_n=10)
    verifier = keys.verifier("CP-1", PASSWORD, stored)
    assert keys.check("CP-1", PASSWORD, stored, verifier) is VerifierCheck.MATCH
    assert keys.check("CP-1", PASSWORD + "x", stored, verifier) is VerifierCheck.UNKNOWN
    assert keys.check("CP-2", PASSWORD, stored, verifier) is VerifierCheck.UNKNOWN
    # A new hash of the same password (a password change): the old verifier says nothing.
    assert keys.check("CP-1", PASSWORD, hash_password(PASSWORD, log2_n=10),
                      verifier) is VerifierCheck.UNKNOWN
    # It holds neither the password nor anything of the hash.
    assert PASSWORD not in verifier and stored.split("$")[-1] not in verifier


def test_without_the_key_a_verifier_says_nothing():
    stored = hash_password(PASSWORD, log2_n=10)
    verifier = PasswordKeys.generate().verifier("CP-1", PASSWORD, stored)
    other = PasswordKeys.generate()
    assert other.check("CP-1", PASSWORD, stored, verifier) is VerifierCheck.UNKNOWN


@pytest.mark.parametrize("verifier", [None, "", "hmac-sha256$abc", "scrypt$1$2",
                                      "hmac-sha256$000000000000$not base64!"])
def test_a_missing_or_malformed_verifier_says_nothing(verifier):
    keys = PasswordKeys.generate()
    assert keys.check("CP-1", PASSWORD, "h", verifier) is VerifierCheck.UNKNOWN


def test_after_rotation_the_retired_key_still_vouches_and_a_dropped_one_does_not():
    old = PasswordKeys.generate()
    verifier = old.verifier("CP-1", PASSWORD, "h")
    rotated = old.rotated(keep=1)
    assert rotated.retired == (old.current,)
    assert rotated.check("CP-1", PASSWORD, "h", verifier) is VerifierCheck.MATCH_RETIRED
    again = rotated.rotated(keep=1)
    assert again.check("CP-1", PASSWORD, "h", verifier) is VerifierCheck.UNKNOWN
    assert rotated.rotated(keep=0).retired == ()


def test_the_key_file_is_made_owner_only_and_read_back(tmp_path):
    path = tmp_path / "keys" / "password-key"
    made = load_keys(path, create=True)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert load_keys(path) == made
    write_keys(path, made.rotated(keep=1))
    read = load_keys(path)
    assert read.retired == (made.current,) and read.current_id != made.current_id


def test_a_key_file_open_to_others_is_refused(tmp_path):
    path = tmp_path / "password-key"
    load_keys(path, create=True)
    os.chmod(path, 0o644)
    with pytest.raises(PasswordKeyError, match=r"mode 0644.*chmod 600"):
        load_keys(path)


@pytest.mark.parametrize("text, problem", [
    ("", "holds no key"), ("# only a comment\n", "holds no key"),
    ("not-base64!\n", "line 1"), ("# c\nAAAA\n", "line 2"),
])
def test_a_key_file_without_a_valid_key_is_refused(tmp_path, text, problem):
    path = tmp_path / "password-key"
    path.write_text(text)
    os.chmod(path, 0o600)
    with pytest.raises(PasswordKeyError, match=problem):
        load_keys(path)

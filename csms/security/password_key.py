"""The password key: a server secret, kept outside the database, under which a station's
password gets a second, fast verifier beside its scrypt hash.

After a restart every station logs in again at once. Checking 10,000 passwords a person chose
with scrypt (cost 2**14, ~22 ms each) takes minutes of CPU; checking each against
HMAC-SHA256(password key, identity, password, stored scrypt hash) takes microseconds. The
verifier is written into the station's row once scrypt has accepted the password, and is
worth nothing without the key: a stolen database (a dump, a backup, a replica, read access
through SQL) still leaves an attacker only the scrypt hash to guess against. The key lives
in a file of its own (mode 0600), never in the database.

The key file holds base64 keys of 32 bytes, one a line (``#`` comments allowed): the first is
the current key, the others are retired ones. A verifier made under a retired key still
matches (and the server rewrites it under the current key); one made under an unknown key, or
one that does not match, is ignored and the password checked with scrypt. Losing the file
therefore locks no station out: a new key is made and every station's next login pays one
scrypt, as without verifiers.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import hashlib
import hmac
import os
import secrets
import stat
from dataclasses import dataclass
from enum import Enum
from pathlib import Path

#: Bytes of a key (HMAC-SHA256's block-size-independent security level).
KEY_BYTES = 32
#: The stored form: ``hmac-sha256$<key id>$<tag base64>``.
SCHEME = "hmac-sha256"
_KEY_ID_LABEL = b"csms password key id"
HEADER = (
    "# csms password key: the first line is the current key, any others are retired keys\n"
    "# still accepted (csms password-key rotate). Keep this file out of database backups.\n"
)


class PasswordKeyError(Exception):
    """The password key file cannot be used (its message names the file and why)."""


class VerifierCheck(Enum):
    """What a stored verifier says about a password."""

    #: The password is the one scrypt accepted for this stored hash, under the current key.
    MATCH = "match"
    #: The same, under a retired key: rewrite the verifier under the current key.
    MATCH_RETIRED = "match_retired"
    #: No verdict (no verifier, another key, another stored hash, or another password):
    #: check with scrypt.
    UNKNOWN = "unknown"


def key_id(key: bytes) -> str:
    """A short public name of ``key`` (an HMAC of a fixed label: it reveals nothing of it)."""
    return hmac.new(key, _KEY_ID_LABEL, hashlib.sha256).hexdigest()[:12]


@dataclass(frozen=True)
class PasswordKeys:
    """The current key and the retired ones still accepted."""

    current: bytes
    retired: tuple[bytes, ...] = ()

    def __post_init__(self) -> None:
        if any(len(k) != KEY_BYTES for k in (self.current, *self.retired)):
            raise ValueError(f"a password key has {KEY_BYTES} bytes")

    @classmethod
    def generate(cls) -> PasswordKeys:
        """A new random current key and no retired ones."""
        return cls(secrets.token_bytes(KEY_BYTES))

    @property
    def current_id(self) -> str:
        """The current key's id, as verifiers name it."""
        return key_id(self.current)

    def verifier(self, identity: str, password: str, stored: str) -> str:
        """The verifier of ``password`` for ``identity`` whose scrypt hash is ``stored``."""
        tag = _tag(self.current, identity, password, stored)
        return f"{SCHEME}${key_id(self.current)}${base64.b64encode(tag).decode('ascii')}"

    def check(self, identity: str, password: str, stored: str,
              verifier: str | None) -> VerifierCheck:
        """Whether ``verifier`` vouches for ``password`` against ``stored`` (constant time)."""
        if not verifier:
            return VerifierCheck.UNKNOWN
        parts = verifier.split("$")
        if len(parts) != 3 or parts[0] != SCHEME:
            return VerifierCheck.UNKNOWN
        try:
            expected = base64.b64decode(parts[2], validate=True)
        except (binascii.Error, ValueError):
            return VerifierCheck.UNKNOWN
        for key in (self.current, *self.retired):
            if key_id(key) == parts[1]:
                if hmac.compare_digest(_tag(key, identity, password, stored), expected):
                    return (VerifierCheck.MATCH if key is self.current
                            else VerifierCheck.MATCH_RETIRED)
                return VerifierCheck.UNKNOWN
        return VerifierCheck.UNKNOWN

    def rotated(self, keep: int) -> PasswordKeys:
        """A new current key; this one and at most ``keep - 1`` of its retired keys retire."""
        if keep < 0:
            raise ValueError("keep must be 0 or more")
        return PasswordKeys(secrets.token_bytes(KEY_BYTES),
                            (self.current, *self.retired)[:keep])


def _tag(key: bytes, identity: str, password: str, stored: str) -> bytes:
    # Identity and stored hash bind the verifier to one station and one password hash: a
    # new password (a new salted hash) makes every older verifier useless.
    message = b"\x00".join(v.encode("utf-8") for v in (identity, password, stored))
    return hmac.new(key, message, hashlib.sha256).digest()


def load_keys(path: Path, *, create: bool = False) -> PasswordKeys:
    """The keys in ``path``; with ``create``, a missing file is made with a new key (0600).

    Raises PasswordKeyError when the file is readable or writable by others than its owner,
    unreadable, or holds anything but base64 keys of 32 bytes.
    """
    path = Path(path)
    if create and not path.exists():
        with contextlib.suppress(FileExistsError):  # another process made it meanwhile
            write_keys(path, PasswordKeys.generate(), exclusive=True)
    try:
        mode = path.stat().st_mode
        if mode & (stat.S_IRWXG | stat.S_IRWXO):
            raise PasswordKeyError(
                f"password key file {path} is open to other users (mode "
                f"{stat.S_IMODE(mode):04o}); make it readable by its owner only (chmod 600)")
        text = path.read_text(encoding="ascii")
    except PasswordKeyError:
        raise
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) else "not a text file"
        raise PasswordKeyError(f"cannot read password key file {path}: {reason}") from None
    keys: list[bytes] = []
    for number, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        try:
            key = base64.b64decode(line, validate=True)
        except (binascii.Error, ValueError):
            key = b""
        if len(key) != KEY_BYTES:
            raise PasswordKeyError(f"password key file {path}, line {number}: not a base64 key "
                                   f"of {KEY_BYTES} bytes")
        keys.append(key)
    if not keys:
        raise PasswordKeyError(f"password key file {path} holds no key")
    return PasswordKeys(keys[0], tuple(keys[1:]))


def write_keys(path: Path, keys: PasswordKeys, *, exclusive: bool = False) -> None:
    """Write ``keys`` to ``path`` (mode 0600), atomically: a reader sees the old file or the new.

    With ``exclusive``, raises FileExistsError if ``path`` exists.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    text = HEADER + "".join(base64.b64encode(k).decode("ascii") + "\n"
                            for k in (keys.current, *keys.retired))
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        with os.fdopen(fd, "w", encoding="ascii") as out:
            out.write(text)
            out.flush()
            os.fsync(out.fileno())
        if exclusive:
            os.link(temporary, path)  # fails if path exists, never half written
        else:
            os.replace(temporary, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)

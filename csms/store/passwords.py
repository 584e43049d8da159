"""Station passwords (security profiles 1 and 2): stored only as salted scrypt hashes.

The stored form is self-describing: ``scrypt$<log2 n>$<r>$<p>$<salt b64>$<hash b64>``, so the
cost can be raised later without invalidating existing hashes, and hashes of different costs
coexist.

The cost follows where the password came from. A password a person chose may be guessable, and
the hash's cost is what slows guessing: ``CHOSEN_LOG2_N`` (n = 2**14, RFC 7914's
interactive-login setting, about 50 ms of CPU per check). A password the CSMS generated
(:func:`generate_password`: 192 random bits) cannot be guessed at any hash speed, so its hash
only has to keep it out of the database in clear: ``GENERATED_LOG2_N`` (n = 2**10, about 3 ms).
That is what lets a fleet of 10,000 stations log in at once after a restart within a minute on
two cores, where 10,000 checks at 2**14 alone take four minutes (docs/performance.md).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

#: scrypt cost (log2 n) of a password a person chose (about 16 MiB of memory per check).
CHOSEN_LOG2_N = 14
#: scrypt cost of a password :func:`generate_password` made (about 1 MiB per check).
GENERATED_LOG2_N = 10
# r = 8, p = 1, 16-byte salt, 32-byte key.
_R = 8
_P = 1
_SALT_BYTES = 16
_KEY_BYTES = 32
_MAXMEM = 64 * 1024 * 1024


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _scrypt(password: str, salt: bytes, log2_n: int, r: int, p: int, length: int) -> bytes:
    return hashlib.scrypt(
        password.encode("utf-8"), salt=salt, n=2**log2_n, r=r, p=p, maxmem=_MAXMEM, dklen=length
    )


def generate_password() -> str:
    """A new station password: 32 characters of URL-safe base64 (192 random bits), within
    OCPP's 16 to 40 characters and safe in an HTTP Basic header."""
    return secrets.token_urlsafe(24)


def hash_password(password: str, *, log2_n: int = CHOSEN_LOG2_N) -> str:
    """Return a salted scrypt hash of ``password`` as a self-describing string.

    ``log2_n`` sets the cost (n = 2**log2_n, 10 to 20): the default suits a password a person
    chose; pass ``GENERATED_LOG2_N`` for one :func:`generate_password` made.
    """
    if not 10 <= log2_n <= 20:
        raise ValueError("log2_n must be between 10 and 20")
    salt = secrets.token_bytes(_SALT_BYTES)
    key = _scrypt(password, salt, log2_n, _R, _P, _KEY_BYTES)
    return f"scrypt${log2_n}${_R}${_P}${_b64(salt)}${_b64(key)}"


def verify_password(password: str, stored: str) -> bool:
    """True when ``password`` matches ``stored`` (compared in constant time).

    A malformed or unknown stored form never matches.
    """
    parts = stored.split("$")
    if len(parts) != 6 or parts[0] != "scrypt":
        return False
    try:
        log2_n, r, p = int(parts[1]), int(parts[2]), int(parts[3])
        salt = base64.b64decode(parts[4], validate=True)
        expected = base64.b64decode(parts[5], validate=True)
    except ValueError:
        return False
    if not (1 <= log2_n <= 20 and 1 <= r <= 32 and 1 <= p <= 16 and expected):
        return False
    actual = _scrypt(password, salt, log2_n, r, p, len(expected))
    return hmac.compare_digest(actual, expected)


class VerifiedPasswords:
    """Remembers, for the life of the process, which passwords scrypt has already accepted.

    A station that reconnects (after a network outage: thousands at once) presents the password
    scrypt accepted before; paying ~50 ms of CPU again per station would make a boot storm take
    minutes. This cache keeps no password and no password hash: only
    HMAC-SHA256(process key, identity, password, stored hash), where the key is random, made at
    start and never written anywhere. An entry matches only the same identity, the same password
    and the same stored hash, so a password change (a new salted hash) invalidates it. Failed
    verifications are never cached: a wrong password always costs a full scrypt. At most
    ``max_entries`` entries are kept (about 100 bytes each), the least recently used dropped
    first.
    """

    def __init__(self, max_entries: int = 200_000):
        self.max_entries = max_entries
        self._key = secrets.token_bytes(32)
        self._tags: dict[bytes, None] = {}

    def tag(self, identity: str, password: str, stored: str) -> bytes:
        """The entry of ``password`` for ``identity`` against ``stored`` (an HMAC under the
        process key: it names the credential without holding it)."""
        message = b"\x00".join(v.encode("utf-8") for v in (identity, password, stored))
        return hmac.new(self._key, message, hashlib.sha256).digest()

    def known(self, identity: str, password: str, stored: str) -> bool:
        """True when this password was verified against this stored hash for ``identity``."""
        tag = self.tag(identity, password, stored)
        if tag not in self._tags:
            return False
        del self._tags[tag]
        self._tags[tag] = None  # most recently used last
        return True

    def remember(self, identity: str, password: str, stored: str) -> None:
        """Record that ``password`` verified against ``stored`` for ``identity``."""
        self._tags[self.tag(identity, password, stored)] = None
        while len(self._tags) > self.max_entries:
            del self._tags[next(iter(self._tags))]

    def __len__(self) -> int:
        return len(self._tags)

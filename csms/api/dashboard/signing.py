"""Signed dashboard credentials: the session cookie and the read-only link.

Both are ``<kind>.<key id>.<scope>.<expiry>.<signature>``, the signature an HMAC-SHA256 of
the rest with the dashboard's secret (:mod:`csms.store.dashboard_secret`), URL-safe base64.
A session names the API key it was opened with (the key's revocation ends it); a link names
no key (id 0) and is always ``read``. Nothing else is stored: a credential is valid until it
expires, its key is revoked or the secret is replaced.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from dataclasses import dataclass
from enum import StrEnum

#: how long a session opened with an API key lasts
SESSION_S = 12 * 3600
#: the longest a read-only link may be valid
MAX_LINK_MINUTES = 7 * 24 * 60


class Kind(StrEnum):
    """What a credential was issued as."""

    SESSION = "s"
    LINK = "l"


@dataclass(frozen=True)
class Grant:
    """A verified credential: who (key id, 0 for a link), what scope, until when (Unix s)."""

    kind: Kind
    key_id: int
    scope: str
    expires: int

    @property
    def read_only(self) -> bool:
        """Whether this viewer came through a read-only link."""
        return self.kind is Kind.LINK


def _mac(secret: bytes, body: str) -> str:
    digest = hmac.new(secret, body.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def issue(secret: bytes, kind: Kind, key_id: int, scope: str, expires: int) -> str:
    """A signed credential."""
    body = f"{kind.value}.{key_id}.{scope}.{expires}"
    return f"{body}.{_mac(secret, body)}"


def verify(secret: bytes, credential: str, now: float | None = None) -> Grant | None:
    """The grant of a credential that is well formed, correctly signed and not expired."""
    parts = credential.split(".")
    if len(parts) != 5:
        return None
    kind, key_id, scope, expires, mac = parts
    if not hmac.compare_digest(mac, _mac(secret, ".".join(parts[:4]))):
        return None
    try:
        grant = Grant(Kind(kind), int(key_id), scope, int(expires))
    except ValueError:
        return None
    if grant.expires <= (time.time() if now is None else now):
        return None
    if grant.kind is Kind.LINK and (grant.key_id != 0 or grant.scope != "read"):
        return None
    return grant


def link_credential(secret: bytes, minutes: int, now: float | None = None) -> str:
    """A read-only link's credential, valid for ``minutes``."""
    if not 1 <= minutes <= MAX_LINK_MINUTES:
        raise ValueError(f"minutes must be between 1 and {MAX_LINK_MINUTES}")
    expires = int((time.time() if now is None else now) + minutes * 60)
    return issue(secret, Kind.LINK, 0, "read", expires)

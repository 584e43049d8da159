"""The opening handshake's pure parts: station identity, subprotocol choice, Basic credentials."""

from __future__ import annotations

import base64
import binascii
from urllib.parse import unquote

from websockets.datastructures import Headers

from csms.ocppj import SUBPROTOCOLS

#: Part 4: a station identity has at most 48 characters.
MAX_IDENTITY = 48
#: Security profiles 1 and 2: HTTP Basic passwords of 16 to 40 characters
#: (SecurityCtrlr.BasicAuthPassword, A00.FR.205).
PASSWORD_LENGTH = range(16, 41)


def identity_problem(identity: str) -> str | None:
    """Why ``identity`` cannot be a station identity, or None when it can: 1 to 48 characters
    and no ':' (Part 4), no space or control character (none can reach us in a URL path)."""
    if not 0 < len(identity) <= MAX_IDENTITY:
        return f"a station identity has 1 to {MAX_IDENTITY} characters, got {len(identity)}"
    if ":" in identity:
        return "a station identity may not contain a colon"
    if any(ord(c) < 0x21 or ord(c) == 0x7F for c in identity):
        return "a station identity may not contain spaces or control characters"
    return None


def identity_from_path(path: str) -> str | None:
    """The station identity in a request path, or None when the path carries no valid one."""
    path = path.split("?", 1)[0]
    segment = path.rsplit("/", 1)[-1]
    identity = unquote(segment, errors="strict") if "%" in segment else segment
    return None if identity_problem(identity) else identity


def offered_subprotocols(headers: Headers) -> list[str]:
    """The subprotocols the client offers, in its order of preference."""
    offered: list[str] = []
    for value in headers.get_all("Sec-WebSocket-Protocol"):
        offered.extend(p.strip() for p in value.split(",") if p.strip())
    return offered


def choose_subprotocol(offered: list[str]) -> str | None:
    """The client's most preferred subprotocol that this CSMS speaks."""
    return next((p for p in offered if p in SUBPROTOCOLS), None)


def basic_credentials(headers: Headers) -> tuple[str, str] | None:
    """``(username, password)`` from an ``Authorization: Basic`` header, or None."""
    value = headers.get("Authorization")
    if not value:
        return None
    scheme, _, token = value.partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(token.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None
    username, sep, password = decoded.partition(":")
    return (username, password) if sep else None

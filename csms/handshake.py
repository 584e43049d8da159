"""The opening handshake's pure parts: station identity, subprotocol choice, Basic credentials."""

from __future__ import annotations

import base64
import binascii
from urllib.parse import unquote

from websockets.datastructures import Headers

from csms.ocppj import SUBPROTOCOLS

MAX_IDENTITY = 48
PASSWORD_LENGTH = range(16, 41)


def identity_from_path(path: str) -> str | None:
    """The station identity in a request path, or None when the path carries no valid one."""
    path = path.split("?", 1)[0]
    segment = path.rsplit("/", 1)[-1]
    identity = unquote(segment, errors="strict") if "%" in segment else segment
    if not 0 < len(identity) <= MAX_IDENTITY or ":" in identity:
        return None
    if any(ord(c) < 0x21 or ord(c) == 0x7F for c in identity):
        return None
    return identity


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

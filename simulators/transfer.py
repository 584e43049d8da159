"""File transfer of a simulated station: HTTP GET (firmware) and PUT (logs), over asyncio with
h11 framing.

A simulated station only opens connections to the loopback interface and to the host of its
own CSMS; a location elsewhere counts as unreachable for an upload, and as not fetched for a
download (the firmware module then stands in for the file; see :mod:`simulators.firmware`).
"""

from __future__ import annotations

import asyncio
import contextlib
from urllib.parse import urlsplit

import h11

LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1"})
_CHUNK = 64 * 1024


class TransferError(Exception):
    """A transfer that failed: connection refused, HTTP error status, timeout, too large."""


def reachable(url: str, csms_url: str) -> bool:
    """Whether the station may connect to ``url``: plain HTTP to loopback or to its CSMS's
    host."""
    parts = urlsplit(url)
    if parts.scheme.lower() != "http" or not parts.hostname:
        return False
    return parts.hostname in LOOPBACK or parts.hostname == urlsplit(csms_url).hostname


async def _exchange(url: str, method: str, body: bytes | None, timeout: float,
                    max_bytes: int) -> tuple[int, bytes]:
    parts = urlsplit(url)
    host = parts.hostname or ""
    port = parts.port or 80
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    headers = [("Host", parts.netloc), ("User-Agent", "csms-sim"), ("Connection", "close")]
    if body is not None:
        headers += [("Content-Length", str(len(body))),
                    ("Content-Type", "application/octet-stream")]
    async with asyncio.timeout(timeout):
        try:
            reader, writer = await asyncio.open_connection(host, port)
        except OSError as exc:
            raise TransferError(f"cannot connect to {host}:{port}: {exc.strerror}") from None
        try:
            conn = h11.Connection(h11.CLIENT)
            writer.write(conn.send(h11.Request(method=method, target=target, headers=headers))
                         or b"")
            if body is not None:
                writer.write(conn.send(h11.Data(data=body)) or b"")
            writer.write(conn.send(h11.EndOfMessage()) or b"")
            await writer.drain()
            status, received = 0, bytearray()
            while True:
                event = conn.next_event()
                if event is h11.NEED_DATA:
                    conn.receive_data(await reader.read(_CHUNK))
                elif isinstance(event, h11.Response):
                    status = event.status_code
                elif isinstance(event, h11.Data):
                    received += event.data
                    if len(received) > max_bytes:
                        raise TransferError(f"larger than {max_bytes} bytes")
                elif isinstance(event, h11.EndOfMessage | h11.ConnectionClosed):
                    return status, bytes(received)
        except (h11.ProtocolError, ConnectionError) as exc:
            raise TransferError(f"HTTP exchange with {host}:{port} failed: {exc}") from None
        finally:
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()


async def http_get(url: str, *, timeout: float = 30.0, max_bytes: int = 64 * 1024 * 1024) -> bytes:
    """The body of ``url``; TransferError unless the answer is 200."""
    try:
        status, body = await _exchange(url, "GET", None, timeout, max_bytes)
    except TimeoutError:
        raise TransferError(f"no answer from {url} within {timeout:g} s") from None
    if status != 200:
        raise TransferError(f"GET {url}: HTTP {status}")
    return body


async def http_put(url: str, body: bytes, *, timeout: float = 30.0) -> int:
    """PUT ``body`` to ``url``; the HTTP status (TransferError unless 2xx)."""
    try:
        status, _ = await _exchange(url, "PUT", body, timeout, 64 * 1024)
    except TimeoutError:
        raise TransferError(f"no answer from {url} within {timeout:g} s") from None
    if not 200 <= status < 300:
        raise TransferError(f"PUT {url}: HTTP {status}")
    return status

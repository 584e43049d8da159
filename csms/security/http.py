"""A small HTTP client for the services the CSMS asks on a station's behalf: OCSP responders
(RFC 6960, HTTP POST) and the contract-certificate backend.

The standard library's client runs in a worker thread, so no request blocks the event loop.
Only http and https URLs are followed, redirects are not (an OCSP answer comes from the URL
asked), and an answer larger than ``limit`` bytes is refused.
"""

from __future__ import annotations

import asyncio
import urllib.error
import urllib.request
from dataclasses import dataclass
from urllib.parse import urlsplit

DEFAULT_LIMIT = 64 * 1024


class HttpError(Exception):
    """The service could not be asked or did not answer usefully; the message says why."""


def check_url(url: str) -> str:
    """``url`` if it is an absolute http or https URL with a host, else HttpError."""
    try:
        parts = urlsplit(url.strip())
    except ValueError:
        raise HttpError(f"{url} is not a URL") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise HttpError(f"{url} is not an http or https URL")
    return parts.geturl()


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: object, **kwargs: object) -> None:
        return None


_OPENER = urllib.request.build_opener(_NoRedirects)


@dataclass(frozen=True)
class HttpAnswer:
    """A 2xx answer: its content type and body."""

    content_type: str
    body: bytes


def _post(url: str, body: bytes, content_type: str, accept: str, timeout: float,
          limit: int) -> HttpAnswer:
    request = urllib.request.Request(url, data=body, method="POST", headers={
        "Content-Type": content_type, "Accept": accept, "User-Agent": "v2g-csms"})
    try:
        with _OPENER.open(request, timeout=timeout) as response:
            data = response.read(limit + 1)
            kind = response.headers.get_content_type()
    except urllib.error.HTTPError as exc:
        raise HttpError(f"{url} answered HTTP {exc.code} {exc.reason}") from None
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise HttpError(f"{url} could not be reached: {reason}") from None
    if len(data) > limit:
        raise HttpError(f"{url} answered more than {limit} bytes")
    return HttpAnswer(kind, data)


async def post(url: str, body: bytes, content_type: str, *, accept: str, timeout: float,
               limit: int = DEFAULT_LIMIT) -> HttpAnswer:
    """POST ``body`` to ``url`` and return the answer; HttpError for anything but 2xx."""
    url = check_url(url)
    return await asyncio.to_thread(_post, url, body, content_type, accept, timeout, limit)

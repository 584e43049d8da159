"""Choosing a response's media type from the request's ``Accept`` header."""

from __future__ import annotations

from csms.api.errors import ApiError

JSON = "application/json"
CSV = "text/csv"
PNG = "image/png"


def _ranges(accept: str) -> list[tuple[str, float]]:
    out = []
    for part in accept.split(","):
        fields = [f.strip() for f in part.split(";")]
        if not fields[0]:
            continue
        q = 1.0
        for param in fields[1:]:
            name, _, value = param.partition("=")
            if name.strip() == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        out.append((fields[0].lower(), q))
    return out


def _matches(media_range: str, offer: str) -> bool:
    if media_range in ("*/*", offer):
        return True
    major, _, minor = media_range.partition("/")
    return minor == "*" and offer.startswith(major + "/")


def choose(accept: str | None, *offers: str) -> str:
    """The offer the client prefers (the first offer when it does not say); 406 when it
    accepts none of them."""
    if not accept or not accept.strip():
        return offers[0]
    best, best_q = None, 0.0
    ranges = _ranges(accept)
    for offer in offers:
        # the most specific range that matches decides the offer's quality
        fitting = [(r, q) for r, q in ranges if _matches(r, offer)]
        if not fitting:
            continue
        _, q = max(fitting, key=lambda rq: (rq[0] == offer, rq[0].endswith("/*") is False))
        if q > best_q:
            best, best_q = offer, q
    if best is None:
        raise ApiError(406, "not_acceptable", "this route answers with "
                       + ", ".join(offers))
    return best

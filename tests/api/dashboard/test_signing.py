"""Dashboard credentials: signed, expiring, and a link is only ever read-only."""

from __future__ import annotations

import pytest

from csms.api.dashboard.signing import MAX_LINK_MINUTES, Kind, issue, link_credential, verify

SECRET = b"s" * 32
OTHER = b"o" * 32


def test_a_session_verifies_until_it_expires():
    credential = issue(SECRET, Kind.SESSION, 7, "operate", 1_000)
    grant = verify(SECRET, credential, now=999)
    assert grant is not None and (grant.kind, grant.key_id, grant.scope) == \
        (Kind.SESSION, 7, "operate") and not grant.read_only
    assert verify(SECRET, credential, now=1_000) is None
    assert verify(OTHER, credential, now=999) is None


@pytest.mark.parametrize("change", [
    lambda c: c.replace(".operate.", ".admin."),
    lambda c: c.replace(".1000.", ".9999.", 1),
    lambda c: c[:-1] + ("A" if c[-1] != "A" else "B"),
    lambda c: c.rsplit(".", 1)[0],
    lambda c: "x." + c,
    lambda c: "",
])
def test_any_change_breaks_the_signature(change):
    credential = issue(SECRET, Kind.SESSION, 7, "operate", 1_000)
    assert verify(SECRET, change(credential), now=0) is None


def test_a_link_is_read_only_and_bounded():
    credential = link_credential(SECRET, 10, now=5_000)
    grant = verify(SECRET, credential, now=5_000 + 599)
    assert grant is not None and grant.read_only and grant.scope == "read" and grant.key_id == 0
    assert verify(SECRET, credential, now=5_000 + 600) is None
    # a correctly signed "link" that claims more than reading is refused
    assert verify(SECRET, issue(SECRET, Kind.LINK, 0, "admin", 9_999), now=0) is None
    assert verify(SECRET, issue(SECRET, Kind.LINK, 3, "read", 9_999), now=0) is None
    for minutes in (0, MAX_LINK_MINUTES + 1):
        with pytest.raises(ValueError, match="minutes"):
            link_credential(SECRET, minutes)

"""``csms api-keys`` and ``csms api``'s argument errors."""

from __future__ import annotations

import json
import socket

from csms.api.auth import hash_key
from csms.store import api_keys
from tests.cli.conftest import Invoke, assert_error, assert_ok, with_db


def test_keys_created_once_listed_without_the_key_and_revoked(csms: Invoke, database_url: str):
    made = assert_ok_stderr(csms("api-keys", "create", "partner-x", "--scope", "dispatch"))
    key = made.stdout.strip()
    assert key.startswith("csms_") and len(key) == 48
    assert "shown once" in made.stderr
    stored = with_db(database_url, lambda db: api_keys.key_by_hash(db, hash_key(key)))
    assert stored is not None and stored.scope == "dispatch" and stored.name == "partner-x"
    as_json = json.loads(assert_ok(csms("api-keys", "create", "ops", "--scope", "operate",
                                        "--json")).stdout)
    assert as_json["key"].startswith("csms_") and as_json["scope"] == "operate"
    listed = json.loads(assert_ok(csms("api-keys", "list", "--json")).stdout)
    assert [k["name"] for k in listed] == ["partner-x", "ops"]
    assert all("key" not in k for k in listed) and key not in json.dumps(listed)
    table = assert_ok(csms("api-keys", "list")).stdout
    assert "partner-x" in table and key not in table
    revoked = assert_ok(csms("api-keys", "revoke", str(stored.id))).stdout
    assert "revoked" in revoked
    assert with_db(database_url, lambda db: api_keys.key_by_hash(db, hash_key(key))) is None


def assert_ok_stderr(result):
    """The command succeeded (it may tell people something on stderr)."""
    assert result.exit_code == 0, (result.exit_code, result.stdout, result.stderr)
    return result


def test_key_errors(csms: Invoke):
    assert_error(csms("api-keys", "create", "x", "--scope", "root"), 2, "--scope")
    assert_error(csms("api-keys", "revoke", "42"), 3, "no API key 42")


def test_api_port_taken_is_one_line(csms: Invoke):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        port = busy.getsockname()[1]
        assert_error(csms("api", "--port", str(port)), 2, "--port", str(port))


def test_dashboard_link_is_signed_read_only_and_bounded(csms: Invoke, database_url: str):
    import time

    from csms.api.dashboard.signing import Kind, verify
    from csms.store.dashboard_secret import signing_secret

    printed = assert_ok(csms("dashboard-link", "--minutes", "30", "--url",
                             "https://ops.example/")).stdout.strip()
    assert printed.startswith("https://ops.example/dashboard/link?t=l.0.read.")
    secret = with_db(database_url, signing_secret)
    grant = verify(secret, printed.split("?t=", 1)[1])
    assert grant is not None and grant.kind is Kind.LINK and grant.scope == "read"
    assert abs(grant.expires - (time.time() + 1800)) < 60
    assert_error(csms("dashboard-link", "--minutes", "0"), 2, "--minutes")
    assert_error(csms("dashboard-link", "--minutes", "10081"), 2, "--minutes")
    assert_error(csms("dashboard-link", "--url", "ftp://x"), 2, "--url")

"""Webhook signing and retry timing (pure)."""

from __future__ import annotations

import hashlib
import hmac

from csms.api.outbox import FIRST_RETRY_S, MAX_RETRY_S, retry_delay, signature


def test_signature_is_hmac_sha256_of_the_body():
    body = b'{"id":1,"type":"station.connected"}'
    expected = hmac.new(b"secret-0123456789", body, hashlib.sha256).hexdigest()
    assert signature("secret-0123456789", body) == f"sha256={expected}"
    assert signature("another-secret-01", body) != signature("secret-0123456789", body)


def test_retries_back_off_and_are_capped():
    first = [retry_delay(1) for _ in range(50)]
    assert all(0.8 * FIRST_RETRY_S <= d <= 1.2 * FIRST_RETRY_S for d in first)
    assert all(1.6 * FIRST_RETRY_S <= retry_delay(2) <= 2.4 * FIRST_RETRY_S for _ in range(50))
    assert all(retry_delay(40) <= 1.2 * MAX_RETRY_S for _ in range(50))
    # a day of retries is a few dozen attempts, not thousands
    elapsed, attempts = 0.0, 0
    while elapsed < 86400:
        attempts += 1
        elapsed += retry_delay(attempts)
    assert 20 < attempts < 60

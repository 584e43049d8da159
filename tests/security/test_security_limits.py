"""Pure logic of the security limits: failed-login limiter and secret redaction in logs."""

from __future__ import annotations

import json

from csms.logging import redact_secrets
from csms.security.ratelimit import FailureLimiter


def test_key_is_blocked_after_max_failures_within_the_window() -> None:
    limiter = FailureLimiter(max_failures=3, window_s=60)
    for t in (0.0, 1.0):
        limiter.record_failure("ip 10.0.0.1", now=t)
        assert not limiter.blocked("ip 10.0.0.1", now=t)
    limiter.record_failure("ip 10.0.0.1", now=2.0)
    assert limiter.blocked("ip 10.0.0.1", now=2.0)
    assert not limiter.blocked("ip 10.0.0.2", now=2.0)
    # Failures age out of the window.
    assert not limiter.blocked("ip 10.0.0.1", now=61.5)


def test_reset_forgets_failures() -> None:
    limiter = FailureLimiter(max_failures=1, window_s=60)
    limiter.record_failure("id CP-1", now=0)
    assert limiter.blocked("id CP-1", now=0)
    limiter.reset("id CP-1")
    assert not limiter.blocked("id CP-1", now=0)


def test_tracked_keys_are_bounded() -> None:
    limiter = FailureLimiter(max_failures=1, window_s=60, max_keys=100)
    for i in range(1000):
        limiter.record_failure(f"ip {i}", now=0)
    assert len(limiter._failures) == 100
    assert limiter.blocked("ip 999", now=0) and not limiter.blocked("ip 0", now=0)


def test_password_in_a_logged_frame_is_masked() -> None:
    frame = json.dumps([2, "m", "SetVariables", {"setVariableData": [
        {"attributeValue": "s3cret-password-123", "component": {"name": "SecurityCtrlr"},
         "variable": {"name": "BasicAuthPassword"}},
        {"attributeValue": "60", "component": {"name": "OCPPCommCtrlr"},
         "variable": {"name": "HeartbeatInterval"}}]}])
    event = redact_secrets(None, "debug", {"event": "ocpp.out", "frame": frame})
    assert "s3cret-password-123" not in event["frame"]
    data = json.loads(event["frame"])[3]["setVariableData"]
    assert data[0]["attributeValue"] == "***" and data[1]["attributeValue"] == "60"


def test_unparseable_frame_mentioning_a_secret_is_masked_whole() -> None:
    event = redact_secrets(None, "debug", {"frame": '[2, "BasicAuthPassword": "x'})
    assert event["frame"] == "***"


def test_frames_without_secrets_are_untouched() -> None:
    frame = '[2,"m","Heartbeat",{}]'
    assert redact_secrets(None, "debug", {"frame": frame})["frame"] == frame


def test_a_logged_exception_shows_no_local_values(capsys) -> None:
    """Console logs draw tracebacks without the frames' local variables: a password being
    checked (or a node's table of thousands of sessions) never reaches the log."""
    import structlog

    from csms.logging import configure_logging

    configure_logging("info", "console")

    def check(password: str) -> None:
        raise ValueError("the check failed")

    try:
        check("-".join(["hunter2", "secret", "value"]))  # the source line shows no value
    except ValueError:
        structlog.get_logger("test").exception("login_failed")
    err = capsys.readouterr().err
    assert "login_failed" in err and "ValueError: the check failed" in err
    assert "in check" in err  # the traceback itself is there
    assert "hunter2-secret-value" not in err

from datetime import UTC, datetime, timedelta, timezone

from csms.operations.request_fields import add_retries, iso_seconds


def test_iso_seconds_is_utc_to_the_second() -> None:
    value = datetime(2026, 3, 1, 14, 30, 5, 987654, tzinfo=timezone(timedelta(hours=2)))
    assert iso_seconds(value) == "2026-03-01T12:30:05Z"
    assert iso_seconds(datetime(2026, 3, 1, tzinfo=UTC)) == "2026-03-01T00:00:00Z"


def test_add_retries_sets_only_what_is_given() -> None:
    assert add_retries({"requestId": 1}, None, None) == {"requestId": 1}
    assert add_retries({"requestId": 1}, 0, None) == {"requestId": 1, "retries": 0}
    assert add_retries({"requestId": 1}, 3, 60) == {"requestId": 1, "retries": 3,
                                                    "retryInterval": 60}

"""The event curves' grid arithmetic: readings held for a while, targets as steps."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from csms.grid.curves import grid_times, held, stepped

T0 = datetime(2030, 7, 15, 23, 0, tzinfo=UTC)


def at(s: float) -> datetime:
    return T0 + timedelta(seconds=s)


def test_grid_times_cover_start_to_end_inclusive():
    assert grid_times(T0, at(10), 5) == [at(0), at(5), at(10)]
    assert grid_times(T0, at(9), 5) == [at(0), at(5)]
    assert grid_times(T0, T0, 5) == [at(0), at(5)]  # a just-started event still has a span


def test_a_reading_holds_until_the_next_or_until_it_is_stale():
    samples = [(at(1), 5.0), (at(4), 7.0)]
    times = [at(s) for s in (0, 1, 2, 4, 6, 7, 8)]
    assert held(samples, times, hold_s=3) == [0.0, 5.0, 5.0, 7.0, 7.0, 7.0, 0.0]


def test_a_target_steps_at_each_change_and_starts_from_the_event_target():
    changes = [(at(5), 20.0), (at(10), None)]
    times = [at(s) for s in (0, 5, 7, 10, 12)]
    assert stepped(changes, times, 30.0) == [30.0, 20.0, 20.0, None, None]

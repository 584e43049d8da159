"""Failed-authentication limits: slow down password guessing per address and per identity."""

from __future__ import annotations

import time
from collections import deque


class FailureLimiter:
    """Counts failures per key in a sliding window; a key with too many is blocked.

    Memory stays bounded: at most ``max_keys`` keys are tracked, the oldest forgotten first.
    """

    def __init__(self, max_failures: int = 10, window_s: float = 60.0, max_keys: int = 100_000):
        self.max_failures = max_failures
        self.window_s = window_s
        self.max_keys = max_keys
        self._failures: dict[str, deque[float]] = {}

    def blocked(self, key: str, now: float | None = None) -> bool:
        """True while ``key`` has ``max_failures`` failures within the window."""
        failures = self._failures.get(key)
        if failures is None:
            return False
        self._expire(failures, time.monotonic() if now is None else now)
        if not failures:
            del self._failures[key]
            return False
        return len(failures) >= self.max_failures

    def record_failure(self, key: str, now: float | None = None) -> int:
        """Count a failure for ``key``; returns the failures now in the window."""
        now = time.monotonic() if now is None else now
        failures = self._failures.pop(key, None) or deque()
        self._expire(failures, now)
        failures.append(now)
        self._failures[key] = failures  # re-inserted: dict order is least recently failed first
        while len(self._failures) > self.max_keys:
            del self._failures[next(iter(self._failures))]
        return len(failures)

    def reset(self, key: str) -> None:
        """Forget ``key``'s failures (after a successful login)."""
        self._failures.pop(key, None)

    def _expire(self, failures: deque[float], now: float) -> None:
        horizon = now - self.window_s
        while failures and failures[0] <= horizon:
            failures.popleft()

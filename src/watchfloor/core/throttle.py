"""Login throttling: a sliding window of failures per key (user name, client address).

Each key may fail ``attempts`` times within ``window`` seconds; the next attempt is refused
until the oldest failure of the window has aged out. Successes do not count, and a success
for a user name forgets its failures (the address keeps its own). Times are a monotonic
clock's seconds, passed in.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

__all__ = ["FailureWindow", "ThrottlePolicy"]


@dataclass(frozen=True, slots=True, kw_only=True)
class ThrottlePolicy:
    """At most ``attempts`` failures per key within ``window`` seconds."""

    attempts: int
    window: float


class FailureWindow:
    """Failed attempts per key over a sliding window; memory bounded by ``max_keys``.

    When more than ``max_keys`` keys are remembered, the whole table is forgotten: an attacker
    spraying addresses or names cannot grow memory without bound, at the price of resetting
    everyone's count (which only ever lets through what the window would later anyway).
    """

    def __init__(self, policy: ThrottlePolicy, *, max_keys: int = 100_000) -> None:
        self._policy = policy
        self._max_keys = max_keys
        self._failures: dict[str, deque[float]] = {}

    def retry_after(self, key: str, now: float) -> float | None:
        """Return the seconds to wait before ``key`` may try again, or None if it may now."""
        failures = self._failures.get(key)
        if failures is None:
            return None
        while failures and failures[0] <= now - self._policy.window:
            failures.popleft()
        if not failures:
            del self._failures[key]
            return None
        if len(failures) < self._policy.attempts:
            return None
        return failures[0] + self._policy.window - now

    def fail(self, key: str, now: float) -> None:
        """Count a failed attempt of ``key`` at ``now``."""
        if key not in self._failures and len(self._failures) >= self._max_keys:
            self._failures.clear()
        failures = self._failures.setdefault(key, deque())
        failures.append(now)
        if len(failures) > self._policy.attempts:
            failures.popleft()

    def forget(self, key: str) -> None:
        """Forget the failures of ``key`` (after it succeeded)."""
        self._failures.pop(key, None)

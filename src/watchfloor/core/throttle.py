"""Login throttling: growing delays per (name, address), a sliding window per address.

Two tools, both keyed by text and fed a monotonic clock's seconds:

- ``FailureBackoff`` slows one source down on one name: after ``free_attempts`` failures of
  a key, each further attempt waits ``first_delay``, then twice that after the next failure,
  and so on up to ``max_delay``. A success forgets the key; a key without failures for
  ``forget_after`` seconds is forgotten too. Keyed by (name, address), it stops a guesser
  without locking the rightful user out: the same name from another address is untouched
  (a lock per name alone lets anyone lock anyone out, a denial of service).
- ``FailureWindow`` caps one key's failures within a sliding window: ``attempts`` failures
  within ``window`` seconds, then attempts are refused until the oldest ages out. Keyed by
  address, it caps a source that sprays many names.

``address_key`` names the source: an IPv4 address, or the /64 an IPv6 address is in (one
subscriber gets a whole /64, and would otherwise have 2**64 addresses to try from).
"""

from __future__ import annotations

import ipaddress
from collections import deque
from dataclasses import dataclass
from typing import Final

__all__ = ["BackoffPolicy", "FailureBackoff", "FailureWindow", "ThrottlePolicy", "address_key"]

#: The prefix length an IPv6 source is counted by: a subscriber's usual allocation.
_IPV6_PREFIX: Final = 64


def address_key(peer: str | None) -> str:
    """Return the key a client address is throttled under (its /64 for IPv6)."""
    if peer is None:
        return "unknown"
    try:
        address = ipaddress.ip_address(peer)
    except ValueError:
        return peer
    if isinstance(address, ipaddress.IPv4Address):
        return str(address)
    if address.ipv4_mapped is not None:  # ::ffff:a.b.c.d from a dual-stack socket
        return str(address.ipv4_mapped)
    return str(ipaddress.IPv6Network((address, _IPV6_PREFIX), strict=False))


@dataclass(frozen=True, slots=True, kw_only=True)
class BackoffPolicy:
    """``free_attempts`` failures, then delays from ``first_delay`` doubling to ``max_delay``."""

    free_attempts: int
    first_delay: float
    max_delay: float
    forget_after: float = 86_400.0

    def delay(self, failures: int) -> float:
        """Return the wait after ``failures`` failures in a row (0 while still free)."""
        if failures < self.free_attempts:
            return 0.0
        # Capped exponent: the doubling passes any sane max_delay long before 2**64.
        doublings = min(failures - self.free_attempts, 64)
        return float(min(self.first_delay * 2**doublings, self.max_delay))


class FailureBackoff:
    """Failures in a row per key, and the growing wait they impose; memory bounded.

    When more than ``max_keys`` keys are remembered, the whole table is forgotten, as in
    ``FailureWindow``.
    """

    def __init__(self, policy: BackoffPolicy, *, max_keys: int = 100_000) -> None:
        self._policy = policy
        self._max_keys = max_keys
        #: key -> (failures in a row, when the last one was)
        self._failures: dict[str, tuple[int, float]] = {}

    def retry_after(self, key: str, now: float) -> float | None:
        """Return the seconds to wait before ``key`` may try again, or None if it may now."""
        entry = self._failures.get(key)
        if entry is None:
            return None
        failures, last = entry
        if now - last >= self._policy.forget_after:
            del self._failures[key]
            return None
        wait = last + self._policy.delay(failures) - now
        return wait if wait > 0 else None

    def fail(self, key: str, now: float) -> None:
        """Count a failed attempt of ``key`` at ``now``."""
        if key not in self._failures and len(self._failures) >= self._max_keys:
            self._failures.clear()
        failures, last = self._failures.get(key, (0, now))
        if now - last >= self._policy.forget_after:
            failures = 0
        self._failures[key] = (failures + 1, now)

    def forget(self, key: str) -> None:
        """Forget the failures of ``key`` (after it succeeded)."""
        self._failures.pop(key, None)


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

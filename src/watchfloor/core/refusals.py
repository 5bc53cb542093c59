"""Repeated refusals from one source: the first of an interval kept in full, the rest counted.

Theory of operation. Anyone who can reach the API can make it refuse them (a guessed token, a
forged cookie, a cross-site request), and every refusal is audited (DESIGN rule 5). Written
one row each, a flood of refusals would grow the append-only log without bound. So refusals
are keyed by (source address, actor, action). The first refusal of a key opens an interval and
is written at once, in full; the ones that follow within the interval are only counted; once
the interval is over, one summary row of the same action states how many more there were
(``REPEATS``). However many refusals a key gets, it costs at most two rows per interval, and
the rows still add up to the exact number of refusals.

Only refusals that anyone can cause are counted: those of requests that proved no identity
(a guessed token, a forged cookie, a failed sign-in). A signed-in user or a valid token that
is refused is written in full, since they can be held to account and add a row with every
read anyway.

The tally is pure: it decides which rows to write and when; the caller writes them, calls
``close_due`` now and then, and ``close_all`` at shutdown so that no count is lost.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final

from watchfloor.core.audit import AuditEntry, AuditOutcome

__all__ = ["REPEATS", "RefusalTally", "repeat_count"]

#: The reason of a summary row: "<n> more from this source between <first> and <last>".
REPEATS: Final = re.compile(r"^(\d+) more from this source between (\S+) and (\S+)$")

#: The actor of the shared key that refusals from sources beyond ``max_sources`` fold into.
_OTHER_SOURCES: Final = "(other sources)"


def repeat_count(entry: AuditEntry) -> int:
    """Return how many refusals an audit entry stands for: n for a summary row, else 1."""
    match = REPEATS.match(entry.reason or "") if entry.outcome is AuditOutcome.DENIED else None
    return int(match.group(1)) if match else 1


@dataclass(frozen=True, slots=True)
class _Key:
    peer: str | None
    actor: str
    action: str


@dataclass(slots=True, kw_only=True)
class _Interval:
    first: AuditEntry
    ends_at: datetime
    repeats: int = 0
    last_at: datetime | None = None


class RefusalTally:
    """Decides which refusal rows to write: the first per key and interval, then a summary.

    Not thread-safe; one per process, used from the event loop.
    """

    def __init__(self, *, interval: timedelta, max_sources: int = 10_000) -> None:
        """Count repeats per ``interval``; keep at most ``max_sources`` keys open.

        Refusals of a new key while ``max_sources`` keys are open are counted under one key
        per action (actor ``(other sources)``, no address), so memory stays bounded when a
        flood comes from many addresses.
        """
        if interval <= timedelta(0):
            raise ValueError(f"the interval must be positive, got {interval}")
        self._interval = interval
        self._max_sources = max_sources
        self._open: dict[_Key, _Interval] = {}

    def admit(self, entry: AuditEntry) -> list[AuditEntry]:
        """Return the rows to write now for this refusal, in order (none: it was counted).

        That is the entry itself when it opens an interval, preceded by the summary of its
        key's previous interval when that one ended with repeats not yet written.
        """
        key = _Key(entry.peer, entry.actor, entry.action)
        due: list[AuditEntry] = []
        current = self._open.get(key)
        if current is not None and entry.at >= current.ends_at:
            due.extend(self._close(key, entry.at))
            current = None
        if current is None and len(self._open) >= self._max_sources:
            due.extend(self.close_due(entry.at))
            if len(self._open) >= self._max_sources:
                key = _Key(None, _OTHER_SOURCES, entry.action)
                current = self._open.get(key)
        if current is None:
            self._open[key] = _Interval(first=entry, ends_at=entry.at + self._interval)
            return [*due, entry]
        current.repeats += 1
        current.last_at = entry.at
        return due

    def close_due(self, now: datetime) -> list[AuditEntry]:
        """Close the intervals over by ``now``; return the summaries of those with repeats."""
        due = [key for key, interval in self._open.items() if interval.ends_at <= now]
        return [row for key in due for row in self._close(key, now)]

    def close_all(self, now: datetime) -> list[AuditEntry]:
        """Close every interval (shutdown); return the summaries of those with repeats."""
        return [row for key in list(self._open) for row in self._close(key, now)]

    @property
    def open_keys(self) -> int:
        """How many (source, actor, action) keys have an interval open."""
        return len(self._open)

    def _close(self, key: _Key, now: datetime) -> list[AuditEntry]:
        interval = self._open.pop(key)
        if not interval.repeats or interval.last_at is None:
            return []
        first = interval.first
        return [
            AuditEntry(
                at=max(now, interval.last_at),
                actor=key.actor,
                role=first.role if key.actor == first.actor else None,
                via=first.via if key.actor == first.actor else "none",
                action=key.action,
                target=None,
                peer=key.peer,
                reason=f"{interval.repeats} more from this source between "
                f"{_seconds(first.at)} and {_seconds(interval.last_at)}",
                outcome=AuditOutcome.DENIED,
            )
        ]


def _seconds(at: datetime) -> str:
    return at.isoformat(timespec="seconds")

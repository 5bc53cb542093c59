"""Retention: how long each kind of data is kept, and what a purge removes.

Kept no longer than its purpose needs (UK Surveillance Camera Code, principle 6):
- raw signals: to verify and investigate recent alarms;
- images: to verify an alarm, the shortest;
- notes (operators' free text, a call's or a patrol report's words): they can name people;
- closed alarms: for statistics, reviews and complaints.
Signals and images of an alarm still open are never purged, whatever their age: an open
case keeps its evidence. The audit log names data by id and digest, so it outlives a purge
and still verifies.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from types import MappingProxyType

from watchfloor.core.alarms import TimelineKind

__all__ = [
    "PERSON_WRITTEN",
    "REDACTED",
    "Cutoffs",
    "DataKind",
    "PurgeResult",
    "RetentionPolicy",
]


class DataKind(StrEnum):
    """The kinds of data with a retention period of their own."""

    SIGNALS = "raw signals"
    IMAGES = "images"
    NOTES = "notes and free text"
    CLOSED_ALARMS = "closed alarms"


#: Timeline entries whose detail a person wrote (a note, or the note given with an action).
PERSON_WRITTEN: frozenset[TimelineKind] = frozenset(
    {
        TimelineKind.NOTE,
        TimelineKind.ACKNOWLEDGED,
        TimelineKind.DISPATCHED,
        TimelineKind.HELD,
        TimelineKind.RESUMED,
        TimelineKind.RESOLVED,
        TimelineKind.CLOSED,
        TimelineKind.REOPENED,
    }
)

#: What a purged free text reads as afterwards.
REDACTED = "[removed: retention period ended]"


@dataclass(frozen=True, slots=True, kw_only=True)
class RetentionPolicy:
    """How long each kind of data is kept."""

    periods: Mapping[DataKind, timedelta]

    @classmethod
    def of_days(
        cls, *, signals: int, images: int, notes: int, closed_alarms: int
    ) -> RetentionPolicy:
        """Build a policy from whole days per kind."""
        return cls(
            periods=MappingProxyType(
                {
                    DataKind.SIGNALS: timedelta(days=signals),
                    DataKind.IMAGES: timedelta(days=images),
                    DataKind.NOTES: timedelta(days=notes),
                    DataKind.CLOSED_ALARMS: timedelta(days=closed_alarms),
                }
            )
        )

    def cutoffs(self, now: datetime) -> Cutoffs:
        """Return the times before which each kind is due for purging at ``now``."""
        return Cutoffs(at=now, before={kind: now - period for kind, period in self.periods.items()})


@dataclass(frozen=True, slots=True, kw_only=True)
class Cutoffs:
    """For one purge run: data of each kind older than ``before[kind]`` is due."""

    at: datetime
    before: Mapping[DataKind, datetime]


@dataclass(frozen=True, slots=True, kw_only=True)
class PurgeResult:
    """What one purge removed: signals and images deleted, texts redacted, alarms deleted."""

    signals: int = 0
    images: int = 0
    notes: int = 0
    closed_alarms: int = 0

    @property
    def total(self) -> int:
        """Everything removed, all kinds together."""
        return self.signals + self.images + self.notes + self.closed_alarms

    def summary(self) -> str:
        """A one-line account for the audit log and the server's log."""
        return (
            f"signals:{self.signals},images:{self.images},notes:{self.notes},"
            f"closed_alarms:{self.closed_alarms}"
        )

"""Alarms and their lifecycle: the state table and the one function that applies it.

Theory of operation: an alarm is created ``new`` by correlation; an operator acknowledges it,
dispatches a unit, and resolves it with an outcome; a supervisor closes it. Every (state,
action) pair not in ``TRANSITIONS`` is refused with ``InvalidTransitionError``. Each change
bumps ``version`` so that concurrent changes can be detected by the store.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum
from types import MappingProxyType

from watchfloor.core.errors import InvalidTransitionError
from watchfloor.core.signals import Origin

__all__ = [
    "OPEN_STATES",
    "TRANSITIONS",
    "Alarm",
    "AlarmAction",
    "AlarmState",
    "Outcome",
    "TimelineEntry",
    "TimelineKind",
    "apply_action",
]


class AlarmState(StrEnum):
    """Where an alarm stands in its lifecycle."""

    NEW = "new"
    ACKNOWLEDGED = "acknowledged"
    DISPATCHED = "dispatched"
    RESOLVED = "resolved"
    CLOSED = "closed"


class AlarmAction(StrEnum):
    """What an operator can do to an alarm."""

    ACKNOWLEDGE = "acknowledge"
    DISPATCH = "dispatch"
    RESOLVE = "resolve"
    CLOSE = "close"


class Outcome(StrEnum):
    """How a resolved alarm turned out."""

    GENUINE = "genuine"
    FALSE = "false"
    TEST = "test"
    CANCELLED = "cancelled"


TRANSITIONS: Mapping[tuple[AlarmState, AlarmAction], AlarmState] = MappingProxyType(
    {
        (AlarmState.NEW, AlarmAction.ACKNOWLEDGE): AlarmState.ACKNOWLEDGED,
        (AlarmState.NEW, AlarmAction.RESOLVE): AlarmState.RESOLVED,
        (AlarmState.ACKNOWLEDGED, AlarmAction.DISPATCH): AlarmState.DISPATCHED,
        (AlarmState.ACKNOWLEDGED, AlarmAction.RESOLVE): AlarmState.RESOLVED,
        (AlarmState.DISPATCHED, AlarmAction.RESOLVE): AlarmState.RESOLVED,
        (AlarmState.RESOLVED, AlarmAction.CLOSE): AlarmState.CLOSED,
    }
)

#: States in which new signals of the same device, type and zone join the alarm.
OPEN_STATES = frozenset({AlarmState.NEW, AlarmState.ACKNOWLEDGED, AlarmState.DISPATCHED})


class TimelineKind(StrEnum):
    """The kinds of entry on an alarm's timeline."""

    CREATED = "created"
    REPEATED = "repeated"
    RESTORED = "restored"
    ACKNOWLEDGED = "acknowledged"
    DISPATCHED = "dispatched"
    RESOLVED = "resolved"
    CLOSED = "closed"


TIMELINE_OF_ACTION = MappingProxyType(
    {
        AlarmAction.ACKNOWLEDGE: TimelineKind.ACKNOWLEDGED,
        AlarmAction.DISPATCH: TimelineKind.DISPATCHED,
        AlarmAction.RESOLVE: TimelineKind.RESOLVED,
        AlarmAction.CLOSE: TimelineKind.CLOSED,
    }
)


@dataclass(frozen=True, slots=True, kw_only=True)
class Alarm:
    """The operator-facing case built from one or more signals.

    ``id`` is 0 until the store assigns one. ``site`` is None for an unregistered device.
    """

    id: int
    origin: Origin
    type_code: int
    type_name: str
    category: str
    priority: int
    state: AlarmState
    site: str | None
    device: str
    zone: str | None
    signal_count: int
    first_at: datetime
    last_at: datetime
    restored_at: datetime | None = None
    acknowledged_at: datetime | None = None
    resolved_at: datetime | None = None
    outcome: Outcome | None = None
    version: int = 1

    @property
    def is_open(self) -> bool:
        """Whether new signals of the same device, type and zone still join this alarm."""
        return self.state in OPEN_STATES


@dataclass(frozen=True, slots=True, kw_only=True)
class TimelineEntry:
    """One line of an alarm's timeline: what happened, when, by whom and why."""

    at: datetime
    kind: TimelineKind
    actor: str
    detail: str = ""
    signal_id: int | None = None


def apply_action(
    alarm: Alarm, action: AlarmAction, *, at: datetime, outcome: Outcome | None = None
) -> Alarm:
    """Return the alarm after ``action``; the input is unchanged.

    Args:
        alarm: the alarm as last read.
        action: what the operator does.
        at: when (from the injected clock).
        outcome: required for ``resolve``.

    Raises:
        InvalidTransitionError: the alarm's state does not allow the action, or a resolve
            lacks its outcome.
    """
    next_state = TRANSITIONS.get((alarm.state, action))
    if next_state is None or (action is AlarmAction.RESOLVE and outcome is None):
        raise InvalidTransitionError(alarm.state, action)
    changed = replace(alarm, state=next_state, version=alarm.version + 1)
    if action is AlarmAction.ACKNOWLEDGE:
        return replace(changed, acknowledged_at=at)
    if action is AlarmAction.RESOLVE:
        return replace(changed, resolved_at=at, outcome=outcome)
    return changed

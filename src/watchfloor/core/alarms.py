"""Alarms and their lifecycle: the state table and the functions that apply it.

Theory of operation: an alarm is created ``new`` by correlation. An operator acknowledges it
(claiming it, so that everyone sees who holds it), dispatches a unit, may put it on hold and
resume it, and resolves it with an outcome once every mandatory step of the standard
operating procedure is done (or a supervisor overrides, with a reason); a supervisor closes
it, and a resolved or closed alarm can be reopened. Every (state, action) pair not in
``TRANSITIONS`` is refused with ``InvalidTransitionError``. Each change bumps ``version`` so
that the store can refuse a change based on a stale read.

Escalation tells more people; it never changes an alarm's priority (a burglary nobody
acknowledged is still a burglary, and must not bury an older fire). An alarm still ``new`` at
its acknowledgement deadline is overdue: it climbs the taxonomy's escalation ladder, the first
rung (the supervisors) at once, each later rung when its time comes, each rung once. After the
last rung the alarm has no deadline left and stays overdue until someone acknowledges it. The
queue shows the most urgent priority first and, within a priority, the oldest alarm first.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum
from types import MappingProxyType

from watchfloor.core.alarm_types import AlarmType, EscalationLevel
from watchfloor.core.errors import ConflictError, InvalidTransitionError, ProcedureIncompleteError
from watchfloor.core.signals import Origin

__all__ = [
    "ESCALATING_STATES",
    "OPEN_STATES",
    "TIMELINE_OF_ACTION",
    "TRANSITIONS",
    "Alarm",
    "AlarmAction",
    "AlarmOrder",
    "AlarmState",
    "Outcome",
    "TimelineEntry",
    "TimelineKind",
    "apply_action",
    "check_sop_step",
    "claim_alarm",
    "escalate_alarm",
    "escalation_due",
    "queue_key",
]


class AlarmState(StrEnum):
    """Where an alarm stands in its lifecycle."""

    NEW = "new"
    ACKNOWLEDGED = "acknowledged"
    DISPATCHED = "dispatched"
    HELD = "held"
    RESOLVED = "resolved"
    CLOSED = "closed"


class AlarmAction(StrEnum):
    """What an operator can do to an alarm's state."""

    ACKNOWLEDGE = "acknowledge"
    DISPATCH = "dispatch"
    HOLD = "hold"
    RESUME = "resume"
    RESOLVE = "resolve"
    CLOSE = "close"
    REOPEN = "reopen"


class AlarmOrder(StrEnum):
    """How a listing of alarms is ordered."""

    #: The operators' queue: open alarms first, by ``queue_key`` (priority, then the oldest);
    #: then the others, newest first.
    QUEUE = "queue"
    #: Newest first (highest id first): the log.
    NEWEST = "newest"


class Outcome(StrEnum):
    """How a resolved alarm turned out."""

    GENUINE = "genuine"
    FALSE = "false"
    TEST = "test"
    CANCELLED = "cancelled"


#: (state, action) -> next state. ``(HELD, RESUME)`` returns to the state the alarm was held
#: from (``Alarm.held_from``); the table names the usual one.
TRANSITIONS: Mapping[tuple[AlarmState, AlarmAction], AlarmState] = MappingProxyType(
    {
        (AlarmState.NEW, AlarmAction.ACKNOWLEDGE): AlarmState.ACKNOWLEDGED,
        (AlarmState.NEW, AlarmAction.RESOLVE): AlarmState.RESOLVED,
        (AlarmState.ACKNOWLEDGED, AlarmAction.DISPATCH): AlarmState.DISPATCHED,
        (AlarmState.ACKNOWLEDGED, AlarmAction.HOLD): AlarmState.HELD,
        (AlarmState.ACKNOWLEDGED, AlarmAction.RESOLVE): AlarmState.RESOLVED,
        (AlarmState.DISPATCHED, AlarmAction.HOLD): AlarmState.HELD,
        (AlarmState.DISPATCHED, AlarmAction.RESOLVE): AlarmState.RESOLVED,
        (AlarmState.HELD, AlarmAction.RESUME): AlarmState.ACKNOWLEDGED,
        (AlarmState.HELD, AlarmAction.RESOLVE): AlarmState.RESOLVED,
        (AlarmState.RESOLVED, AlarmAction.CLOSE): AlarmState.CLOSED,
        (AlarmState.RESOLVED, AlarmAction.REOPEN): AlarmState.ACKNOWLEDGED,
        (AlarmState.CLOSED, AlarmAction.REOPEN): AlarmState.ACKNOWLEDGED,
    }
)

#: States in which new signals of the same device, type and zone join the alarm.
OPEN_STATES = frozenset(
    {AlarmState.NEW, AlarmState.ACKNOWLEDGED, AlarmState.DISPATCHED, AlarmState.HELD}
)

#: States in which a passed deadline climbs the escalation ladder: nobody has the alarm yet.
ESCALATING_STATES = frozenset({AlarmState.NEW})


class TimelineKind(StrEnum):
    """The kinds of entry on an alarm's timeline."""

    CREATED = "created"
    REPEATED = "repeated"
    RESTORED = "restored"
    ACKNOWLEDGED = "acknowledged"
    DISPATCHED = "dispatched"
    HELD = "held"
    RESUMED = "resumed"
    RESOLVED = "resolved"
    CLOSED = "closed"
    REOPENED = "reopened"
    CLAIMED = "claimed"
    RELEASED = "released"
    SOP_STEP = "sop_step"
    NOTE = "note"
    ESCALATED = "escalated"
    FLOOD = "flood"
    #: A dispatched unit's progress: acknowledged, en route, on scene, cleared.
    UNIT = "unit"
    #: A call to a contact of the site's call list, with its outcome.
    CALL = "call"


TIMELINE_OF_ACTION: Mapping[AlarmAction, TimelineKind] = MappingProxyType(
    {
        AlarmAction.ACKNOWLEDGE: TimelineKind.ACKNOWLEDGED,
        AlarmAction.DISPATCH: TimelineKind.DISPATCHED,
        AlarmAction.HOLD: TimelineKind.HELD,
        AlarmAction.RESUME: TimelineKind.RESUMED,
        AlarmAction.RESOLVE: TimelineKind.RESOLVED,
        AlarmAction.CLOSE: TimelineKind.CLOSED,
        AlarmAction.REOPEN: TimelineKind.REOPENED,
    }
)


@dataclass(frozen=True, slots=True, kw_only=True)
class Alarm:
    """The operator-facing case built from one or more signals.

    ``id`` is 0 until the store assigns one. ``site`` is None for an unregistered device.
    ``sop_done`` holds the indexes of the procedure's steps done so far. ``ack_deadline`` is
    when the alarm next climbs the escalation ladder unless acknowledged (None: never, or no
    rung left); ``escalation_count`` is how many rungs it climbed and ``escalation_level`` the
    name of the last one (None: none). ``flooded`` marks an alarm into which flood control
    folded signals that would have opened alarms of their own.
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
    dispatched_at: datetime | None = None
    resolved_at: datetime | None = None
    closed_at: datetime | None = None
    outcome: Outcome | None = None
    held_from: AlarmState | None = None
    claimed_by: str | None = None
    acknowledged_by: str | None = None
    resolved_by: str | None = None
    ack_deadline: datetime | None = None
    escalation_count: int = 0
    escalation_level: str | None = None
    sop_done: frozenset[int] = frozenset()
    flooded: bool = False
    #: The zone's description from its device's zone list when the alarm was raised.
    zone_name: str | None = None
    version: int = 1

    @property
    def is_open(self) -> bool:
        """Whether new signals of the same device, type and zone still join this alarm."""
        return self.state in OPEN_STATES

    @property
    def overdue(self) -> bool:
        """Whether nobody acknowledged the alarm by its deadline (it climbed the ladder)."""
        return self.state in ESCALATING_STATES and self.escalation_count > 0


@dataclass(frozen=True, slots=True, kw_only=True)
class TimelineEntry:
    """One line of an alarm's timeline: what happened, when, by whom and why."""

    at: datetime
    kind: TimelineKind
    actor: str
    detail: str = ""
    signal_id: int | None = None


def apply_action(
    alarm: Alarm,
    action: AlarmAction,
    *,
    at: datetime,
    actor: str,
    alarm_type: AlarmType | None = None,
    outcome: Outcome | None = None,
    override_reason: str | None = None,
) -> Alarm:
    """Return the alarm after ``action``; the input is unchanged.

    Args:
        alarm: the alarm as last read.
        action: what the operator does.
        at: when (from the injected clock).
        actor: who (a user name).
        alarm_type: the alarm's type, whose procedure a resolve checks (None: no check).
        outcome: required for ``resolve``.
        override_reason: a supervisor's reason to resolve with mandatory steps not done;
            the caller decides who may override.

    Raises:
        InvalidTransitionError: the alarm's state does not allow the action, or a resolve
            lacks its outcome.
        ProcedureIncompleteError: a resolve with mandatory steps not done and no override.
    """
    next_state = TRANSITIONS.get((alarm.state, action))
    if next_state is None or (action is AlarmAction.RESOLVE and outcome is None):
        raise InvalidTransitionError(alarm.state, action)
    changed = replace(alarm, state=next_state, version=alarm.version + 1)
    if action is AlarmAction.ACKNOWLEDGE:
        return replace(
            changed, acknowledged_at=at, acknowledged_by=actor, claimed_by=actor, ack_deadline=None
        )
    if action is AlarmAction.DISPATCH:
        return replace(changed, dispatched_at=at)
    if action is AlarmAction.HOLD:
        return replace(changed, held_from=alarm.state)
    if action is AlarmAction.RESUME:
        return replace(changed, state=alarm.held_from or next_state, held_from=None)
    if action is AlarmAction.RESOLVE:
        missing = _missing_steps(alarm, alarm_type)
        if missing and not (override_reason and override_reason.strip()):
            raise ProcedureIncompleteError(missing)
        return replace(
            changed,
            resolved_at=at,
            resolved_by=actor,
            outcome=outcome,
            held_from=None,
            acknowledged_at=alarm.acknowledged_at or at,
            acknowledged_by=alarm.acknowledged_by or actor,
            ack_deadline=None,
        )
    if action is AlarmAction.CLOSE:
        return replace(changed, closed_at=at, claimed_by=None)
    return replace(
        changed, resolved_at=None, resolved_by=None, closed_at=None, outcome=None, claimed_by=actor
    )


def _missing_steps(alarm: Alarm, alarm_type: AlarmType | None) -> tuple[int, ...]:
    if alarm_type is None:
        return ()
    return tuple(
        index
        for index in range(len(alarm_type.sop))
        if index not in alarm_type.optional_steps and index not in alarm.sop_done
    )


def claim_alarm(
    alarm: Alarm, *, actor: str, release: bool = False, take_over: bool = False
) -> Alarm:
    """Return the alarm held by ``actor``, or released by them.

    Raises:
        InvalidTransitionError: the alarm is not open.
        ConflictError: someone else holds it and ``take_over`` is not set.
    """
    if not alarm.is_open:
        raise InvalidTransitionError(alarm.state, "release" if release else "claim")
    if alarm.claimed_by not in (None, actor) and not take_over:
        raise ConflictError(f"alarm {alarm.id} is held by {alarm.claimed_by}")
    return replace(alarm, claimed_by=None if release else actor, version=alarm.version + 1)


def check_sop_step(
    alarm: Alarm,
    alarm_type: AlarmType,
    index: int,
    *,
    done: bool,
    call_list_worked: bool = False,
) -> Alarm:
    """Return the alarm with procedure step ``index`` marked done (or not done).

    A step that requires the call list (``AlarmType.call_list_steps``) can be marked done
    only once ``call_list_worked`` (``core.sites.call_list_worked``).

    Raises:
        InvalidTransitionError: the alarm is not open.
        IndexError: the procedure has no such step.
        ConflictError: a call-list step while the call list is not worked.
    """
    if not alarm.is_open:
        raise InvalidTransitionError(alarm.state, "check a step of")
    if not 0 <= index < len(alarm_type.sop):
        raise IndexError(f"{alarm_type.name} has no step {index + 1}")
    if done and index in alarm_type.call_list_steps and not call_list_worked:
        raise ConflictError(
            f"step {index + 1} needs the call list worked: no contact has answered yet"
        )
    steps = alarm.sop_done | {index} if done else alarm.sop_done - {index}
    return replace(alarm, sop_done=frozenset(steps), version=alarm.version + 1)


def escalation_due(alarm: Alarm, now: datetime) -> bool:
    """Whether the alarm is still unacknowledged at ``now`` past its next deadline."""
    return (
        alarm.state in ESCALATING_STATES
        and alarm.ack_deadline is not None
        and alarm.ack_deadline <= now
    )


def escalate_alarm(alarm: Alarm, *, at: datetime, ladder: Sequence[EscalationLevel]) -> Alarm:
    """Return the alarm one rung up the escalation ladder; its priority never changes.

    The next deadline is the rung after's ``after`` past the deadline just passed, so that a
    late check (a node restarted) does not push the rest of the ladder back; with no rung
    left there is no deadline. A ladder shorter than the rungs already climbed (the taxonomy
    file changed) only ends the deadlines.

    Args:
        alarm: the alarm as last read; ``escalation_due(alarm, at)`` must hold.
        at: when (from the injected clock).
        ladder: the taxonomy's ``escalation_ladder``.

    Raises:
        InvalidTransitionError: the alarm is not due (acknowledged, or before its deadline).
    """
    if not escalation_due(alarm, at) or alarm.ack_deadline is None:
        raise InvalidTransitionError(alarm.state, "escalate")
    reached = alarm.escalation_count
    if reached >= len(ladder):
        return replace(alarm, ack_deadline=None, version=alarm.version + 1)
    following = ladder[reached + 1] if reached + 1 < len(ladder) else None
    return replace(
        alarm,
        escalation_count=reached + 1,
        escalation_level=ladder[reached].name,
        ack_deadline=None if following is None else alarm.ack_deadline + following.after,
        version=alarm.version + 1,
    )


def queue_key(alarm: Alarm) -> tuple[int, datetime, int]:
    """Return the sort key of the operators' queue: priority, then the oldest first.

    The most urgent priority comes first; within a priority the alarm raised first (and so
    the longest overdue) comes first, whatever came in after it. The store orders its
    listing by the same columns.
    """
    return (alarm.priority, alarm.first_at, alarm.id)

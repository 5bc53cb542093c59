from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from support.factories import T0
from watchfloor.core.alarm_types import DEFAULT_ESCALATION_LADDER, AlarmType, Basis, EscalationLevel
from watchfloor.core.alarms import (
    ESCALATING_STATES,
    OPEN_STATES,
    TRANSITIONS,
    Alarm,
    AlarmAction,
    AlarmState,
    Outcome,
    apply_action,
    check_sop_step,
    claim_alarm,
    escalate_alarm,
    escalation_due,
    queue_key,
)
from watchfloor.core.errors import (
    ConflictError,
    InvalidTransitionError,
    ProcedureIncompleteError,
)
from watchfloor.core.signals import Origin

NEW_ALARM = Alarm(
    id=1,
    origin=Origin.EQUIPMENT,
    type_code=301,
    type_name="Burglary",
    category="intrusion",
    priority=3,
    state=AlarmState.NEW,
    site=None,
    device="1234",
    zone="005",
    signal_count=1,
    first_at=T0,
    last_at=T0,
    ack_deadline=T0 + timedelta(minutes=3),
)
BURGLARY = AlarmType(
    code=301,
    name="Burglary",
    category="intrusion",
    priority=3,
    basis=Basis.INTRUSION,
    sop=("Call the keyholder", "Send a patrol", "Log"),
    optional_steps=frozenset({1}),
)


def test_acknowledge_records_who_and_when_and_claims() -> None:
    at = T0 + timedelta(seconds=12)
    acknowledged = apply_action(NEW_ALARM, AlarmAction.ACKNOWLEDGE, at=at, actor="ana")
    assert acknowledged.state is AlarmState.ACKNOWLEDGED
    assert (acknowledged.acknowledged_at, acknowledged.acknowledged_by) == (at, "ana")
    assert acknowledged.claimed_by == "ana"
    assert acknowledged.ack_deadline is None
    assert acknowledged.version == 2
    assert NEW_ALARM.state is AlarmState.NEW


def test_resolve_needs_an_outcome() -> None:
    with pytest.raises(InvalidTransitionError) as caught:
        apply_action(NEW_ALARM, AlarmAction.RESOLVE, at=T0, actor="ana")
    assert caught.value.state == "new"


def test_resolve_from_new_counts_as_acknowledged_too() -> None:
    resolved = apply_action(
        NEW_ALARM, AlarmAction.RESOLVE, at=T0, actor="ana", outcome=Outcome.FALSE
    )
    assert (resolved.state, resolved.outcome, resolved.resolved_at) == (
        AlarmState.RESOLVED,
        Outcome.FALSE,
        T0,
    )
    assert (resolved.acknowledged_at, resolved.acknowledged_by) == (T0, "ana")
    assert not resolved.is_open


def test_resolve_needs_every_mandatory_step_done() -> None:
    alarm = apply_action(NEW_ALARM, AlarmAction.ACKNOWLEDGE, at=T0, actor="ana")
    with pytest.raises(ProcedureIncompleteError, match="steps not done: 1, 3") as caught:
        apply_action(
            alarm,
            AlarmAction.RESOLVE,
            at=T0,
            actor="ana",
            alarm_type=BURGLARY,
            outcome=Outcome.GENUINE,
        )
    assert caught.value.missing == (0, 2)
    alarm = check_sop_step(alarm, BURGLARY, 0, done=True)
    alarm = check_sop_step(alarm, BURGLARY, 2, done=True)
    resolved = apply_action(
        alarm, AlarmAction.RESOLVE, at=T0, actor="ana", alarm_type=BURGLARY, outcome=Outcome.GENUINE
    )
    assert resolved.state is AlarmState.RESOLVED


def test_supervisor_override_needs_a_reason() -> None:
    alarm = apply_action(NEW_ALARM, AlarmAction.ACKNOWLEDGE, at=T0, actor="ana")
    with pytest.raises(ProcedureIncompleteError):
        apply_action(
            alarm,
            AlarmAction.RESOLVE,
            at=T0,
            actor="sam",
            alarm_type=BURGLARY,
            outcome=Outcome.FALSE,
            override_reason="  ",
        )
    resolved = apply_action(
        alarm,
        AlarmAction.RESOLVE,
        at=T0,
        actor="sam",
        alarm_type=BURGLARY,
        outcome=Outcome.FALSE,
        override_reason="keyholder confirmed by phone",
    )
    assert resolved.resolved_by == "sam"


def test_sop_steps_can_be_unchecked_and_must_exist() -> None:
    alarm = check_sop_step(NEW_ALARM, BURGLARY, 1, done=True)
    assert alarm.sop_done == {1}
    assert check_sop_step(alarm, BURGLARY, 1, done=False).sop_done == frozenset()
    with pytest.raises(IndexError, match="no step 4"):
        check_sop_step(alarm, BURGLARY, 3, done=True)
    closed = replace(alarm, state=AlarmState.CLOSED)
    with pytest.raises(InvalidTransitionError):
        check_sop_step(closed, BURGLARY, 0, done=True)


def test_hold_and_resume_return_to_where_the_alarm_was() -> None:
    dispatched = apply_action(
        apply_action(NEW_ALARM, AlarmAction.ACKNOWLEDGE, at=T0, actor="ana"),
        AlarmAction.DISPATCH,
        at=T0,
        actor="ana",
    )
    assert dispatched.dispatched_at == T0
    held = apply_action(dispatched, AlarmAction.HOLD, at=T0, actor="ana")
    assert (held.state, held.held_from) == (AlarmState.HELD, AlarmState.DISPATCHED)
    assert held.is_open
    resumed = apply_action(held, AlarmAction.RESUME, at=T0, actor="ana")
    assert (resumed.state, resumed.held_from) == (AlarmState.DISPATCHED, None)


def test_close_and_reopen() -> None:
    resolved = apply_action(
        NEW_ALARM, AlarmAction.RESOLVE, at=T0, actor="ana", outcome=Outcome.TEST
    )
    closed = apply_action(resolved, AlarmAction.CLOSE, at=T0, actor="sam")
    assert (closed.state, closed.closed_at, closed.claimed_by) == (AlarmState.CLOSED, T0, None)
    reopened = apply_action(closed, AlarmAction.REOPEN, at=T0, actor="sam")
    assert reopened.state is AlarmState.ACKNOWLEDGED
    assert (reopened.outcome, reopened.resolved_at, reopened.closed_at) == (None, None, None)
    assert reopened.claimed_by == "sam"


def test_illegal_transition_names_state_and_action() -> None:
    closed = replace(NEW_ALARM, state=AlarmState.CLOSED)
    with pytest.raises(InvalidTransitionError, match="cannot acknowledge an alarm that is closed"):
        apply_action(closed, AlarmAction.ACKNOWLEDGE, at=T0, actor="ana")


def test_claim_release_and_take_over() -> None:
    held = claim_alarm(NEW_ALARM, actor="ana")
    assert held.claimed_by == "ana"
    assert claim_alarm(held, actor="ana").claimed_by == "ana"
    with pytest.raises(ConflictError, match="held by ana"):
        claim_alarm(held, actor="bob")
    with pytest.raises(ConflictError, match="held by ana"):
        claim_alarm(held, actor="bob", release=True)
    assert claim_alarm(held, actor="ana", release=True).claimed_by is None
    assert claim_alarm(held, actor="sam", take_over=True).claimed_by == "sam"
    assert claim_alarm(held, actor="sam", release=True, take_over=True).claimed_by is None
    with pytest.raises(InvalidTransitionError, match="cannot claim"):
        claim_alarm(replace(NEW_ALARM, state=AlarmState.RESOLVED), actor="ana")
    with pytest.raises(InvalidTransitionError, match="cannot release"):
        claim_alarm(replace(NEW_ALARM, state=AlarmState.RESOLVED), actor="ana", release=True)


LADDER = (
    EscalationLevel(name="supervisor"),
    EscalationLevel(name="duty_manager", after=timedelta(minutes=2)),
    EscalationLevel(name="director", after=timedelta(minutes=5)),
)


def test_escalation_climbs_the_ladder_and_never_changes_the_priority() -> None:
    due = T0 + timedelta(minutes=3)
    assert not escalation_due(NEW_ALARM, due - timedelta(microseconds=1))
    assert escalation_due(NEW_ALARM, due)
    assert not NEW_ALARM.overdue

    first = escalate_alarm(NEW_ALARM, at=due, ladder=LADDER)
    assert (first.priority, first.escalation_count, first.escalation_level) == (3, 1, "supervisor")
    assert first.overdue
    assert first.ack_deadline == due + timedelta(minutes=2)
    assert first.version == NEW_ALARM.version + 1
    assert not escalation_due(first, due + timedelta(seconds=119))

    second = escalate_alarm(first, at=due + timedelta(minutes=2), ladder=LADDER)
    assert (second.priority, second.escalation_count, second.escalation_level) == (
        3,
        2,
        "duty_manager",
    )
    assert second.ack_deadline == due + timedelta(minutes=7)


def test_after_the_last_level_the_alarm_stays_overdue_with_no_deadline() -> None:
    due = T0 + timedelta(minutes=3)
    alarm = NEW_ALARM
    for _ in DEFAULT_ESCALATION_LADDER:
        assert alarm.ack_deadline is not None
        alarm = escalate_alarm(alarm, at=alarm.ack_deadline, ladder=DEFAULT_ESCALATION_LADDER)
    assert (alarm.escalation_count, alarm.escalation_level) == (2, "duty_manager")
    assert alarm.ack_deadline is None
    assert alarm.overdue
    assert (alarm.priority, alarm.state) == (NEW_ALARM.priority, AlarmState.NEW)
    later = due + timedelta(days=1)
    assert not escalation_due(alarm, later)
    with pytest.raises(InvalidTransitionError, match="cannot escalate an alarm that is new"):
        escalate_alarm(alarm, at=later, ladder=DEFAULT_ESCALATION_LADDER)


def test_a_late_check_does_not_push_the_rest_of_the_ladder_back() -> None:
    # The node was down: the check runs ten minutes after the deadline.
    late = T0 + timedelta(minutes=13)
    first = escalate_alarm(NEW_ALARM, at=late, ladder=LADDER)
    # The deadline was at 3 minutes; the next level is owed 2 minutes after it.
    assert first.ack_deadline == T0 + timedelta(minutes=5)
    assert escalation_due(first, late)  # the next level is owed at once


def test_a_ladder_shorter_than_the_levels_climbed_only_ends_the_deadline() -> None:
    # The taxonomy file lost a level while this alarm waited for it.
    climbed = replace(
        NEW_ALARM, escalation_count=2, escalation_level="duty_manager", ack_deadline=T0
    )
    ended = escalate_alarm(climbed, at=T0, ladder=LADDER[:2])
    assert (ended.escalation_count, ended.escalation_level, ended.ack_deadline) == (
        2,
        "duty_manager",
        None,
    )
    assert ended.overdue


def test_acknowledged_or_deadline_free_alarms_never_escalate() -> None:
    later = T0 + timedelta(hours=1)
    acknowledged = apply_action(NEW_ALARM, AlarmAction.ACKNOWLEDGE, at=T0, actor="ana")
    assert not escalation_due(acknowledged, later)
    assert not escalation_due(replace(NEW_ALARM, ack_deadline=None), later)
    with pytest.raises(InvalidTransitionError, match="cannot escalate an alarm that is ackn"):
        escalate_alarm(replace(acknowledged, ack_deadline=T0), at=later, ladder=LADDER)


def test_an_acknowledged_alarm_is_no_longer_overdue_but_keeps_its_levels() -> None:
    overdue = escalate_alarm(NEW_ALARM, at=T0 + timedelta(hours=1), ladder=LADDER)
    acknowledged = apply_action(overdue, AlarmAction.ACKNOWLEDGE, at=T0, actor="ana")
    assert not acknowledged.overdue
    assert (acknowledged.escalation_count, acknowledged.escalation_level) == (1, "supervisor")


def test_the_queue_puts_priority_first_then_the_oldest() -> None:
    def alarm(id_: int, priority: int, minutes: int) -> Alarm:
        return replace(
            NEW_ALARM, id=id_, priority=priority, first_at=T0 + timedelta(minutes=minutes)
        )

    newer_fire = alarm(1, 1, 30)
    older_fire = alarm(2, 1, 0)
    old_burglary = alarm(3, 3, -60)
    twin = alarm(4, 1, 0)
    ordered = sorted([old_burglary, newer_fire, twin, older_fire], key=queue_key)
    assert [a.id for a in ordered] == [2, 4, 1, 3]


class AlarmLifecycle(RuleBasedStateMachine):
    """Any sequence of actions, waits and escalation checks follows the rules exactly.

    Actions follow TRANSITIONS (resume: back to held_from). Escalation happens only to an
    alarm nobody acknowledged, past its deadline; it climbs the ladder one level at a time,
    each level once and in order, and never changes the priority.
    """

    def __init__(self) -> None:
        super().__init__()
        self.alarm = NEW_ALARM
        self.now = T0
        self.expected = AlarmState.NEW
        self.held_from: AlarmState | None = None
        self.told: list[str] = []
        self.acknowledged = False

    @rule(action=st.sampled_from(AlarmAction), outcome=st.sampled_from(Outcome))
    def act(self, action: AlarmAction, outcome: Outcome) -> None:
        target = TRANSITIONS.get((self.expected, action))
        if target is None:
            with pytest.raises(InvalidTransitionError):
                apply_action(self.alarm, action, at=self.now, actor="ana", outcome=outcome)
            return
        before = self.alarm.version
        self.alarm = apply_action(self.alarm, action, at=self.now, actor="ana", outcome=outcome)
        if action is AlarmAction.HOLD:
            self.held_from = self.expected
        if action is AlarmAction.RESUME:
            target, self.held_from = self.held_from or target, None
        self.expected = target
        self.acknowledged = True
        assert self.alarm.version == before + 1

    @rule(seconds=st.integers(min_value=0, max_value=600))
    def wait(self, seconds: int) -> None:
        self.now += timedelta(seconds=seconds)

    @rule()
    def escalate(self) -> None:
        deadline = self.alarm.ack_deadline
        due = (
            not self.acknowledged
            and deadline is not None
            and deadline <= self.now
            and len(self.told) < len(LADDER)
        )
        assert escalation_due(self.alarm, self.now) == due
        if not due:
            with pytest.raises(InvalidTransitionError):
                escalate_alarm(self.alarm, at=self.now, ladder=LADDER)
            return
        self.alarm = escalate_alarm(self.alarm, at=self.now, ladder=LADDER)
        self.told.append(LADDER[len(self.told)].name)

    @invariant()
    def state_matches_table(self) -> None:
        assert self.alarm.state is self.expected
        assert self.alarm.is_open == (self.expected in OPEN_STATES)
        assert (self.alarm.resolved_at is not None) == (
            self.expected in {AlarmState.RESOLVED, AlarmState.CLOSED}
        )

    @invariant()
    def escalation_tells_each_level_once_and_keeps_the_priority(self) -> None:
        assert self.alarm.priority == NEW_ALARM.priority
        assert self.alarm.escalation_count == len(self.told) <= len(LADDER)
        assert self.alarm.escalation_level == (self.told[-1] if self.told else None)
        assert self.alarm.overdue == (
            bool(self.told) and not self.acknowledged and self.expected in ESCALATING_STATES
        )


TestAlarmLifecycle = AlarmLifecycle.TestCase


def test_a_call_list_step_is_done_only_once_the_call_list_is_worked() -> None:
    calls = replace(BURGLARY, call_list_steps=frozenset({0}))
    with pytest.raises(ConflictError, match="needs the call list worked"):
        check_sop_step(NEW_ALARM, calls, 0, done=True)
    done = check_sop_step(NEW_ALARM, calls, 0, done=True, call_list_worked=True)
    assert done.sop_done == {0}
    # Unchecking never needs it, nor does a step without the requirement.
    assert check_sop_step(done, calls, 0, done=False).sop_done == frozenset()
    assert check_sop_step(NEW_ALARM, calls, 2, done=True).sop_done == {2}

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from support.factories import T0
from watchfloor.core.alarm_types import DEFAULT_ACK_DEADLINES, AlarmType, Basis
from watchfloor.core.alarms import (
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
    is_overdue,
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


def test_escalation_raises_priority_and_starts_a_new_deadline() -> None:
    assert not is_overdue(NEW_ALARM, T0 + timedelta(minutes=2))
    due = T0 + timedelta(minutes=3)
    assert is_overdue(NEW_ALARM, due)
    escalated = escalate_alarm(NEW_ALARM, at=due, deadlines=DEFAULT_ACK_DEADLINES)
    assert (escalated.priority, escalated.escalation_count) == (2, 1)
    assert escalated.ack_deadline == due + timedelta(seconds=60)
    top = escalate_alarm(replace(NEW_ALARM, priority=1), at=due, deadlines=DEFAULT_ACK_DEADLINES)
    assert (top.priority, top.ack_deadline) == (1, due + timedelta(seconds=30))
    never = escalate_alarm(replace(NEW_ALARM, priority=6), at=due, deadlines=DEFAULT_ACK_DEADLINES)
    assert never.ack_deadline is None


def test_acknowledged_or_deadline_free_alarms_are_never_overdue() -> None:
    later = T0 + timedelta(hours=1)
    assert not is_overdue(replace(NEW_ALARM, state=AlarmState.ACKNOWLEDGED), later)
    assert not is_overdue(replace(NEW_ALARM, ack_deadline=None), later)


class AlarmLifecycle(RuleBasedStateMachine):
    """Any sequence of actions follows TRANSITIONS exactly (resume: back to held_from)."""

    def __init__(self) -> None:
        super().__init__()
        self.alarm = NEW_ALARM
        self.expected = AlarmState.NEW
        self.held_from: AlarmState | None = None

    @rule(action=st.sampled_from(AlarmAction), outcome=st.sampled_from(Outcome))
    def act(self, action: AlarmAction, outcome: Outcome) -> None:
        target = TRANSITIONS.get((self.expected, action))
        if target is None:
            with pytest.raises(InvalidTransitionError):
                apply_action(self.alarm, action, at=T0, actor="ana", outcome=outcome)
            return
        before = self.alarm.version
        self.alarm = apply_action(self.alarm, action, at=T0, actor="ana", outcome=outcome)
        if action is AlarmAction.HOLD:
            self.held_from = self.expected
        if action is AlarmAction.RESUME:
            target, self.held_from = self.held_from or target, None
        self.expected = target
        assert self.alarm.version == before + 1

    @invariant()
    def state_matches_table(self) -> None:
        assert self.alarm.state is self.expected
        assert self.alarm.is_open == (self.expected in OPEN_STATES)
        assert (self.alarm.resolved_at is not None) == (
            self.expected in {AlarmState.RESOLVED, AlarmState.CLOSED}
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

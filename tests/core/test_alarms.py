from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from support.factories import T0
from watchfloor.core.alarms import (
    OPEN_STATES,
    TRANSITIONS,
    Alarm,
    AlarmAction,
    AlarmState,
    Outcome,
    apply_action,
)
from watchfloor.core.errors import InvalidTransitionError
from watchfloor.core.signals import Origin

NEW_ALARM = Alarm(
    id=1,
    origin=Origin.EQUIPMENT,
    type_code=301,
    type_name="Burglary",
    category="intrusion",
    priority=2,
    state=AlarmState.NEW,
    site=None,
    device="1234",
    zone="005",
    signal_count=1,
    first_at=T0,
    last_at=T0,
)


def test_acknowledge_records_when() -> None:
    at = T0 + timedelta(seconds=12)
    acknowledged = apply_action(NEW_ALARM, AlarmAction.ACKNOWLEDGE, at=at)
    assert acknowledged.state is AlarmState.ACKNOWLEDGED
    assert acknowledged.acknowledged_at == at
    assert acknowledged.version == 2
    assert NEW_ALARM.state is AlarmState.NEW


def test_resolve_needs_an_outcome() -> None:
    with pytest.raises(InvalidTransitionError) as caught:
        apply_action(NEW_ALARM, AlarmAction.RESOLVE, at=T0)
    assert caught.value.state == "new"
    resolved = apply_action(NEW_ALARM, AlarmAction.RESOLVE, at=T0, outcome=Outcome.FALSE)
    assert (resolved.state, resolved.outcome, resolved.resolved_at) == (
        AlarmState.RESOLVED,
        Outcome.FALSE,
        T0,
    )
    assert not resolved.is_open


def test_illegal_transition_names_state_and_action() -> None:
    closed = replace(NEW_ALARM, state=AlarmState.CLOSED)
    with pytest.raises(InvalidTransitionError, match="cannot acknowledge an alarm that is closed"):
        apply_action(closed, AlarmAction.ACKNOWLEDGE, at=T0)


class AlarmLifecycle(RuleBasedStateMachine):
    """Any sequence of actions follows TRANSITIONS exactly."""

    def __init__(self) -> None:
        super().__init__()
        self.alarm = NEW_ALARM
        self.expected = AlarmState.NEW

    @rule(action=st.sampled_from(AlarmAction), outcome=st.sampled_from(Outcome))
    def act(self, action: AlarmAction, outcome: Outcome) -> None:
        target = TRANSITIONS.get((self.expected, action))
        if target is None:
            with pytest.raises(InvalidTransitionError):
                apply_action(self.alarm, action, at=T0, outcome=outcome)
            return
        before = self.alarm.version
        self.alarm = apply_action(self.alarm, action, at=T0, outcome=outcome)
        self.expected = target
        assert self.alarm.version == before + 1

    @invariant()
    def state_matches_table(self) -> None:
        assert self.alarm.state is self.expected
        assert self.alarm.is_open == (self.expected in OPEN_STATES)


TestAlarmLifecycle = AlarmLifecycle.TestCase

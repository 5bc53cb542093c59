"""Open/close supervision rules: which codes arm or disarm, the armed state, what is due."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, time, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from watchfloor.core.alarm_types import CodeSystem, SourceCode
from watchfloor.core.arming import (
    ArmingAction,
    ArmingCondition,
    ArmingState,
    DueCondition,
    ScheduleKey,
    SupervisedSchedule,
    apply_arming,
    arming_action,
    arming_sites,
    condition_signal,
    due_conditions,
    plan_arming,
)
from watchfloor.core.devices import Device, DeviceKind
from watchfloor.core.schedules import Schedule, WeeklyWindow
from watchfloor.core.signals import Signal, SignalSource

FRIDAY = datetime(2026, 12, 4, tzinfo=UTC)
OFFICE = tuple(WeeklyWindow(weekday=d, opens=time(8), closes=time(18)) for d in range(5))
SHOP = ScheduleKey(site="Shop", partition=None)
PANEL = Device(
    id=1, kind=DeviceKind.DC09, name="panel", site="Shop", account="1234", created_at=FRIDAY
)


def hour(h: float, day: datetime = FRIDAY) -> datetime:
    return day + timedelta(hours=h)


def office(*, partition: str | None = None, open_grace: timedelta | None = None) -> Schedule:
    return Schedule(
        site="Shop",
        partition=partition,
        time_zone="Europe/London",
        windows=OFFICE,
        close_grace=timedelta(minutes=15),
        open_grace=open_grace,
    )


def event(
    system: CodeSystem, code: str, *, at: datetime, restore: bool = False, partition: str = "01"
) -> Signal:
    return Signal(
        source=SignalSource.DC09,
        received_at=at,
        device="1234",
        account="1234",
        code=SourceCode(system=system, code=code),
        zone="001",
        partition=partition,
        restore=restore,
        raw="raw",
    )


def cid(code: str, *, at: datetime, closing: bool, partition: str = "01") -> Signal:
    return event(CodeSystem.CONTACT_ID, code, at=at, restore=closing, partition=partition)


def raised(condition: ArmingCondition, *, at: datetime, partition: str | None = None) -> Signal:
    return Signal(
        source=SignalSource.SUPERVISION,
        received_at=at,
        device="1234",
        account="1234",
        code=SourceCode(system=CodeSystem.SUPERVISION, code=condition.value),
        zone=None,
        partition=partition,
        raw="raw",
    )


# -- which signals are openings and closings ---------------------------------------------------


@pytest.mark.parametrize("code", ["400", "401", "403", "407", "408", "409"])
def test_contact_id_open_close_events_use_the_qualifier(code: str) -> None:
    assert arming_action(cid(code, at=FRIDAY, closing=False)) is ArmingAction.OPENING
    assert arming_action(cid(code, at=FRIDAY, closing=True)) is ArmingAction.CLOSING


@pytest.mark.parametrize(
    ("code", "action"),
    [
        *((code, ArmingAction.OPENING) for code in ("OP", "OA", "OQ", "OS", "OR")),
        *((code, ArmingAction.CLOSING) for code in ("CL", "CA", "CP", "CQ", "CS")),
    ],
)
def test_sia_openings_and_closings(code: str, action: ArmingAction) -> None:
    assert arming_action(event(CodeSystem.SIA_DCS, code, at=FRIDAY)) is action


@pytest.mark.parametrize(
    ("system", "code"),
    [
        (CodeSystem.CONTACT_ID, "402"),  # group open/close
        (CodeSystem.CONTACT_ID, "441"),  # armed stay
        (CodeSystem.CONTACT_ID, "130"),
        (CodeSystem.SIA_DCS, "CG"),  # partial arm
        (CodeSystem.SIA_DCS, "BA"),
        (CodeSystem.SUPERVISION, "link_lost"),
    ],
)
def test_other_codes_are_not_arming_events(system: CodeSystem, code: str) -> None:
    assert arming_action(event(system, code, at=FRIDAY)) is None


# -- the armed state --------------------------------------------------------------------------


def test_apply_arming_changes_state_only_on_a_change() -> None:
    opened = apply_arming(
        ArmingState(), ArmingAction.OPENING, at=hour(8), device="1234", account="1234"
    )
    assert (opened.armed, opened.opened_at) == (False, hour(8))
    again = apply_arming(opened, ArmingAction.OPENING, at=hour(9), device="1234", account=None)
    assert (again.armed, again.opened_at, again.account) == (False, hour(8), None)
    closed = apply_arming(again, ArmingAction.CLOSING, at=hour(18), device="1234", account="1")
    assert (closed.armed, closed.closed_at) == (True, hour(18))
    assert apply_arming(closed, ArmingAction.CLOSING, at=hour(19), device="1234", account="1") == (
        closed
    )


def test_an_event_older_than_the_last_change_changes_nothing() -> None:
    closed = ArmingState(armed=True, closed_at=hour(18), device="a")
    late = apply_arming(closed, ArmingAction.OPENING, at=hour(17), device="b", account=None)
    assert (late.armed, late.opened_at, late.device) == (True, None, "b")


@given(
    steps=st.lists(
        st.tuples(st.sampled_from(ArmingAction), st.integers(min_value=0, max_value=48)),
        min_size=1,
        max_size=20,
    ),
    last=st.sampled_from(ArmingAction),
)
def test_the_newest_event_decides_the_state(
    steps: list[tuple[ArmingAction, int]], last: ArmingAction
) -> None:
    state = ArmingState()
    for action, hours in steps:
        state = apply_arming(state, action, at=hour(hours), device="d", account=None)
        assert state.armed is not None
    state = apply_arming(state, last, at=hour(49), device="d", account=None)
    assert state.armed is (last is ArmingAction.CLOSING)


# -- what is due --------------------------------------------------------------------------------


def test_failed_to_close_is_due_after_grace_once_per_closing() -> None:
    state = ArmingState(armed=False, opened_at=hour(8), device="1234")
    assert due_conditions(office(), state, hour(18.2)) == ()
    (due,) = due_conditions(office(), state, hour(18.25))
    assert due == DueCondition(condition=ArmingCondition.FAILED_TO_CLOSE, raised_for=hour(18))
    marked = ArmingState(armed=False, opened_at=hour(8), failed_close_for=hour(18))
    assert due_conditions(office(), marked, hour(23)) == ()
    # Still disarmed on Monday evening: Monday's closing is a new one.
    (monday,) = due_conditions(office(), marked, hour(18.5, FRIDAY + timedelta(days=3)))
    assert monday.raised_for == hour(18, FRIDAY + timedelta(days=3))


def test_nothing_is_due_for_an_unknown_state_or_before_the_schedule_was_set() -> None:
    assert due_conditions(office(open_grace=timedelta(0)), ArmingState(), hour(23)) == ()
    state = ArmingState(armed=False, opened_at=hour(8))
    assert due_conditions(office(), state, hour(19), since=hour(18.5)) == ()


def test_an_opening_outside_the_schedule_is_unexpected_once() -> None:
    state = ArmingState(armed=False, opened_at=hour(3), device="1234")
    (due,) = due_conditions(office(), state, hour(3.1))
    assert due == DueCondition(condition=ArmingCondition.UNEXPECTED_OPENING, raised_for=hour(3))
    marked = ArmingState(armed=False, opened_at=hour(3), unexpected_open_for=hour(3))
    assert due_conditions(office(), marked, hour(3.2)) == ()


def test_late_to_open_only_when_supervised() -> None:
    state = ArmingState(armed=True, closed_at=hour(-6), device="1234")
    assert due_conditions(office(), state, hour(9)) == ()
    grace = office(open_grace=timedelta(minutes=30))
    assert due_conditions(grace, state, hour(8.4)) == ()
    (due,) = due_conditions(grace, state, hour(8.5))
    assert due == DueCondition(condition=ArmingCondition.LATE_TO_OPEN, raised_for=hour(8))
    marked = ArmingState(armed=True, closed_at=hour(-6), late_open_for=hour(8))
    assert due_conditions(grace, marked, hour(12)) == ()
    armed_after_opening = ArmingState(armed=True, closed_at=hour(8.1))
    assert due_conditions(grace, armed_after_opening, hour(12)) == ()


def test_a_condition_needs_the_device_that_reported() -> None:
    due = DueCondition(condition=ArmingCondition.FAILED_TO_CLOSE, raised_for=hour(18))
    with pytest.raises(ValueError, match="needs the device"):
        condition_signal(SHOP, ArmingState(armed=False), due, at=hour(19))


# -- intake planning ---------------------------------------------------------------------------


def supervised(
    state: ArmingState, *, schedule: Schedule | None = None
) -> dict[ScheduleKey, SupervisedSchedule]:
    entry = SupervisedSchedule(schedule=schedule or office(), state=state)
    return {entry.key: entry}


def test_arming_sites_names_only_sites_with_arming_signals() -> None:
    unsited = Device(id=2, kind=DeviceKind.DC09, name="x", site=None, created_at=FRIDAY)
    signals = [
        cid("401", at=FRIDAY, closing=True),
        cid("130", at=FRIDAY, closing=False),
        cid("401", at=FRIDAY, closing=True),
        raised(ArmingCondition.FAILED_TO_CLOSE, at=FRIDAY),
    ]
    devices = [PANEL, PANEL, unsited, None]
    assert arming_sites(signals, devices) == {"Shop"}


def test_plan_keeps_state_and_restores_what_a_closing_ends() -> None:
    before = ArmingState(
        armed=False,
        opened_at=hour(8),
        device="1234",
        account="1234",
        failed_close_for=hour(18),
    )
    plan = plan_arming([cid("401", at=hour(19), closing=True)], [PANEL], supervised(before))
    assert plan.states[SHOP].armed is True
    ((restore, device),) = plan.restores
    assert device == PANEL
    assert (restore.code.code, restore.restore) == ("failed_to_close", True)


def test_plan_restores_late_to_open_on_the_opening() -> None:
    before = ArmingState(
        armed=True, closed_at=hour(-6), device="1234", late_open_for=hour(8), opened_at=hour(-16)
    )
    plan = plan_arming([cid("401", at=hour(9), closing=False)], [PANEL], supervised(before))
    assert [r.code.code for r, _ in plan.restores] == ["late_to_open"]


def test_plan_ignores_signals_it_cannot_place() -> None:
    elsewhere = Device(id=3, kind=DeviceKind.DC09, name="y", site="Depot", created_at=FRIDAY)
    condition = raised(ArmingCondition.FAILED_TO_CLOSE, at=hour(9))
    signals = [
        cid("401", at=hour(9), closing=True),  # unregistered
        cid("401", at=hour(9), closing=True),  # a site with no schedule
        cid("130", at=hour(9), closing=False),  # not arming
        replace(condition, partition="2"),  # a partition with no schedule
        replace(condition, restore=True),  # a restore is not a raise
        replace(condition, code=SourceCode(system=CodeSystem.SUPERVISION, code="link_lost")),
        replace(condition, source=SignalSource.DC09),
        replace(condition, code=SourceCode(system=CodeSystem.SIA_DCS, code="BA")),
    ]
    devices = [None, elsewhere, PANEL, PANEL, PANEL, PANEL, PANEL, PANEL]
    plan = plan_arming(signals, devices, supervised(ArmingState()))
    assert plan.restores == ()
    assert plan.states == {}


def test_plan_marks_a_raised_condition_or_restores_one_no_longer_due() -> None:
    disarmed = ArmingState(armed=False, opened_at=hour(8), device="1234", account="1234")
    plan = plan_arming(
        [raised(ArmingCondition.FAILED_TO_CLOSE, at=hour(18.5))], [PANEL], supervised(disarmed)
    )
    assert plan.states[SHOP].failed_close_for == hour(18)
    assert plan.restores == ()
    plan = plan_arming(
        [raised(ArmingCondition.UNEXPECTED_OPENING, at=hour(3, FRIDAY + timedelta(days=1)))],
        [PANEL],
        supervised(replace_opened(disarmed, hour(3, FRIDAY + timedelta(days=1)))),
    )
    assert plan.states[SHOP].unexpected_open_for == hour(3, FRIDAY + timedelta(days=1))
    armed = ArmingState(armed=True, closed_at=hour(-6), device="1234")
    plan = plan_arming(
        [raised(ArmingCondition.LATE_TO_OPEN, at=hour(9))],
        [PANEL],
        supervised(armed, schedule=office(open_grace=timedelta(minutes=30))),
    )
    assert plan.states[SHOP].late_open_for == hour(8)
    # Armed meanwhile: the signal is stored, and restored at once.
    plan = plan_arming(
        [
            cid("401", at=hour(18.4), closing=True),
            raised(ArmingCondition.FAILED_TO_CLOSE, at=hour(18.5)),
        ],
        [PANEL, PANEL],
        supervised(disarmed),
    )
    assert [(r.code.code, r.restore) for r, _ in plan.restores] == [("failed_to_close", True)]


def replace_opened(state: ArmingState, opened: datetime) -> ArmingState:
    return ArmingState(armed=False, opened_at=opened, device=state.device, account=state.account)


def test_a_partition_event_counts_for_its_own_schedule_or_the_whole_site() -> None:
    part = SupervisedSchedule(schedule=office(partition="2"), state=ArmingState())
    whole = SupervisedSchedule(schedule=office(), state=ArmingState())
    both = {part.key: part, whole.key: whole}
    plan = plan_arming([cid("401", at=hour(9), closing=True, partition="02")], [PANEL], both)
    assert set(plan.states) == {part.key}
    plan = plan_arming([cid("401", at=hour(9), closing=True, partition="03")], [PANEL], both)
    assert set(plan.states) == {whole.key}
    named = SupervisedSchedule(schedule=office(partition="shop floor"), state=ArmingState())
    plan = plan_arming(
        [cid("401", at=hour(9), closing=True, partition="shop floor")],
        [PANEL],
        {named.key: named},
    )
    assert set(plan.states) == {named.key}


def test_a_repeated_closing_or_one_without_partition_restores_nothing_more() -> None:
    before = ArmingState(armed=False, opened_at=hour(8), device="1234", failed_close_for=hour(18))
    sia_closing = replace(event(CodeSystem.SIA_DCS, "CL", at=hour(19)), partition=None)
    plan = plan_arming(
        [sia_closing, cid("401", at=hour(19.5), closing=True)], [PANEL, PANEL], supervised(before)
    )
    assert [r.code.code for r, _ in plan.restores] == ["failed_to_close"]
    assert plan.states[SHOP].closed_at == hour(19)

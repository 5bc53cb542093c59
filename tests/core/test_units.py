"""Units: the status table, dispatch, acknowledgement and the times a dispatch records."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from watchfloor.core.errors import InvalidTransitionError
from watchfloor.core.units import (
    STATUS_TRANSITIONS,
    Dispatch,
    Unit,
    UnitStatus,
    UnitTransitionError,
    acknowledge_dispatch,
    change_status,
    dispatch_unit,
)

T0 = datetime(2026, 1, 15, 3, 0, tzinfo=UTC)


def _unit(status: UnitStatus = UnitStatus.AVAILABLE) -> Unit:
    return Unit(id=7, name="Patrol 1", user="guard", status=status, status_at=T0)


def test_dispatch_moves_an_available_unit_and_opens_a_dispatch() -> None:
    unit, dispatch = dispatch_unit(_unit(), alarm_id=3, at=T0, by="op")
    assert unit.status is UnitStatus.DISPATCHED
    assert unit.version == 2
    assert dispatch == Dispatch(id=0, alarm_id=3, unit_id=7, dispatched_at=T0, dispatched_by="op")
    assert dispatch.is_active


@pytest.mark.parametrize("status", [s for s in UnitStatus if s is not UnitStatus.AVAILABLE])
def test_only_available_units_are_dispatched(status: UnitStatus) -> None:
    with pytest.raises(UnitTransitionError, match=f"the unit is {status}"):
        dispatch_unit(_unit(status), alarm_id=3, at=T0, by="op")


@pytest.mark.parametrize(
    ("start", "target"),
    [(s, t) for s in UnitStatus for t in UnitStatus if t is not s],
)
def test_status_changes_follow_the_table(start: UnitStatus, target: UnitStatus) -> None:
    unit = _unit(start)
    if target in STATUS_TRANSITIONS[start]:
        changed, _ = change_status(unit, target, at=T0 + timedelta(seconds=5), dispatch=None)
        assert changed.status is target
        assert changed.status_at == T0 + timedelta(seconds=5)
    else:
        with pytest.raises(InvalidTransitionError):
            change_status(unit, target, at=T0, dispatch=None)


def test_no_unit_reports_itself_dispatched() -> None:
    assert all(UnitStatus.DISPATCHED not in allowed for allowed in STATUS_TRANSITIONS.values())


def test_reporting_the_same_status_changes_nothing() -> None:
    unit = _unit(UnitStatus.EN_ROUTE)
    assert change_status(unit, UnitStatus.EN_ROUTE, at=T0, dispatch=None) == (unit, None)


def test_progress_stamps_the_dispatch_once_and_acknowledges_it() -> None:
    unit, dispatched = dispatch_unit(_unit(), alarm_id=3, at=T0, by="op")
    t1, t2, t3 = (T0 + timedelta(minutes=m) for m in (1, 5, 30))
    unit, dispatch = change_status(unit, UnitStatus.EN_ROUTE, at=t1, dispatch=dispatched)
    assert dispatch is not None
    assert (dispatch.acknowledged_at, dispatch.en_route_at) == (t1, t1)
    unit, dispatch = change_status(unit, UnitStatus.ON_SCENE, at=t2, dispatch=dispatch)
    assert dispatch is not None
    assert (dispatch.acknowledged_at, dispatch.on_scene_at) == (t1, t2)
    unit, dispatch = change_status(unit, UnitStatus.AVAILABLE, at=t3, dispatch=dispatch)
    assert dispatch is not None
    assert dispatch.cleared_at == t3
    assert not dispatch.is_active
    assert unit.status is UnitStatus.AVAILABLE


def test_standing_down_does_not_acknowledge() -> None:
    unit, dispatch = dispatch_unit(_unit(), alarm_id=3, at=T0, by="op")
    _, cleared = change_status(unit, UnitStatus.AVAILABLE, at=T0, dispatch=dispatch)
    assert cleared is not None
    assert cleared.acknowledged_at is None
    assert cleared.cleared_at == T0


def test_acknowledgement_keeps_the_first_time() -> None:
    _, dispatch = dispatch_unit(_unit(), alarm_id=3, at=T0, by="op")
    first = acknowledge_dispatch(dispatch, at=T0 + timedelta(seconds=9))
    again = acknowledge_dispatch(first, at=T0 + timedelta(seconds=60))
    assert again.acknowledged_at == T0 + timedelta(seconds=9)


def test_a_cleared_dispatch_cannot_be_acknowledged() -> None:
    _, dispatch = dispatch_unit(_unit(), alarm_id=3, at=T0, by="op")
    with pytest.raises(UnitTransitionError, match="cannot acknowledge the dispatch"):
        acknowledge_dispatch(replace(dispatch, cleared_at=T0), at=T0)

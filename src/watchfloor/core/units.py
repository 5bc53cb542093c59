"""Units (patrols, responders), their status, and their dispatch to alarms.

Theory of operation: a unit is ``off duty`` or ``available`` until an operator dispatches it
to an alarm; it is then ``dispatched``, acknowledges the dispatch from its own page, reports
``en route`` and ``on scene``, and becomes ``available`` again when it clears. Each status a
unit may move to by itself is in ``STATUS_TRANSITIONS``; ``dispatched`` is reached only
through ``dispatch_unit``, and only from ``available``. The times of a dispatch
(``Dispatch``) follow the unit's status through ``STAMPS``, so that the statistics can measure
the time to dispatch and the time to arrival on scene.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum
from types import MappingProxyType

from watchfloor.core.errors import InvalidTransitionError

__all__ = [
    "STAMPS",
    "STATUS_TRANSITIONS",
    "Dispatch",
    "Unit",
    "UnitStatus",
    "UnitTransitionError",
    "acknowledge_dispatch",
    "change_status",
    "dispatch_unit",
]


class UnitStatus(StrEnum):
    """Where a unit stands."""

    AVAILABLE = "available"
    DISPATCHED = "dispatched"
    EN_ROUTE = "en_route"
    ON_SCENE = "on_scene"
    OFF_DUTY = "off_duty"


class UnitTransitionError(InvalidTransitionError):
    """A status change or dispatch that the unit's (or dispatch's) current status refuses."""

    def __init__(self, state: str, action: str) -> None:
        super().__init__(state, action)
        self.args = (f"cannot {action}: the unit is {state}",)


#: status -> the statuses a unit may report next by itself (``dispatched`` is the operator's).
STATUS_TRANSITIONS: Mapping[UnitStatus, frozenset[UnitStatus]] = MappingProxyType(
    {
        UnitStatus.OFF_DUTY: frozenset({UnitStatus.AVAILABLE}),
        UnitStatus.AVAILABLE: frozenset({UnitStatus.OFF_DUTY}),
        UnitStatus.DISPATCHED: frozenset(
            {UnitStatus.EN_ROUTE, UnitStatus.ON_SCENE, UnitStatus.AVAILABLE}
        ),
        UnitStatus.EN_ROUTE: frozenset({UnitStatus.ON_SCENE, UnitStatus.AVAILABLE}),
        UnitStatus.ON_SCENE: frozenset({UnitStatus.AVAILABLE}),
    }
)


@dataclass(frozen=True, slots=True, kw_only=True)
class Unit:
    """A patrol or responder that can be dispatched.

    ``user`` is the user whose phone page reports for the unit (None: only operators
    change it). ``version`` grows with each change, for compare-and-set in the store.
    """

    id: int
    name: str
    user: str | None
    status: UnitStatus
    status_at: datetime
    version: int = 1


@dataclass(frozen=True, slots=True, kw_only=True)
class Dispatch:
    """One unit sent to one alarm, with the times of its progress (None: not yet)."""

    id: int
    alarm_id: int
    unit_id: int
    dispatched_at: datetime
    dispatched_by: str
    acknowledged_at: datetime | None = None
    en_route_at: datetime | None = None
    on_scene_at: datetime | None = None
    cleared_at: datetime | None = None

    @property
    def is_active(self) -> bool:
        """Whether the unit is still on this dispatch."""
        return self.cleared_at is None


#: The times of a dispatch that a unit's new status sets (each the first time only).
STAMPS: Mapping[UnitStatus, Callable[[Dispatch, datetime], Dispatch]] = MappingProxyType(
    {
        UnitStatus.EN_ROUTE: lambda d, at: replace(
            d, acknowledged_at=d.acknowledged_at or at, en_route_at=d.en_route_at or at
        ),
        UnitStatus.ON_SCENE: lambda d, at: replace(
            d, acknowledged_at=d.acknowledged_at or at, on_scene_at=d.on_scene_at or at
        ),
        UnitStatus.AVAILABLE: lambda d, at: replace(d, cleared_at=d.cleared_at or at),
    }
)


def change_status(
    unit: Unit, status: UnitStatus, *, at: datetime, dispatch: Dispatch | None
) -> tuple[Unit, Dispatch | None]:
    """Return the unit at its new status and its current dispatch with the time stamped.

    Reporting the status the unit is already in changes nothing (idempotent: a page resent
    after a lost reply). Going en route or arriving on scene also acknowledges a dispatch not
    yet acknowledged, since the unit evidently received it.

    Raises:
        UnitTransitionError: the unit may not move from its status to ``status``.
    """
    if status is unit.status:
        return unit, dispatch
    if status not in STATUS_TRANSITIONS[unit.status]:
        raise UnitTransitionError(unit.status, f"report {status}")
    changed = replace(unit, status=status, status_at=at, version=unit.version + 1)
    stamp = STAMPS.get(status)
    if dispatch is None or stamp is None:
        return changed, dispatch
    return changed, stamp(dispatch, at)


def dispatch_unit(unit: Unit, *, alarm_id: int, at: datetime, by: str) -> tuple[Unit, Dispatch]:
    """Return the unit dispatched to an alarm and the new dispatch (``id`` 0 until stored).

    Raises:
        UnitTransitionError: the unit is not available.
    """
    if unit.status is not UnitStatus.AVAILABLE:
        raise UnitTransitionError(unit.status, f"dispatch {unit.name}")
    dispatched = replace(unit, status=UnitStatus.DISPATCHED, status_at=at, version=unit.version + 1)
    return dispatched, Dispatch(
        id=0, alarm_id=alarm_id, unit_id=unit.id, dispatched_at=at, dispatched_by=by
    )


def acknowledge_dispatch(dispatch: Dispatch, *, at: datetime) -> Dispatch:
    """Return the dispatch acknowledged by its unit; the first acknowledgement's time stays.

    Raises:
        UnitTransitionError: the dispatch is over (the unit has cleared).
    """
    if not dispatch.is_active and dispatch.acknowledged_at is None:
        raise UnitTransitionError("cleared", "acknowledge the dispatch")
    return replace(dispatch, acknowledged_at=dispatch.acknowledged_at or at)

"""Dispatching units to alarms, and the units' own reports, over the UnitRepository port.

Each use case reads, applies the pure rule from ``core.units`` (and ``core.alarms`` for the
alarm's own ``dispatch`` action), and stores the result with its timeline entries in one
commit, compare-and-set on the versions read: of two operators dispatching one unit at once,
exactly one succeeds. Changes to the alarm are published to every console after commit; so is
a unit's progress on a dispatch (acknowledged, en route, on scene, cleared), which adds to the
alarm's timeline without changing the alarm itself, so that a console showing the alarm
reloads its timeline and dispatches.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Protocol

from watchfloor.core.alarms import (
    Alarm,
    AlarmAction,
    AlarmState,
    TimelineEntry,
    TimelineKind,
    apply_action,
)
from watchfloor.core.errors import InvalidTransitionError
from watchfloor.core.ports import (
    AlarmEvent,
    AlarmEventKind,
    AlarmStore,
    AuditedStore,
    Clock,
    Publish,
)
from watchfloor.core.units import (
    Dispatch,
    Unit,
    UnitStatus,
    acknowledge_dispatch,
    change_status,
    dispatch_unit,
)

__all__ = ["Dispatching", "FieldStore", "UnitDetail", "UnitRepository"]


@dataclass(frozen=True, slots=True, kw_only=True)
class UnitDetail:
    """A unit and the dispatch it is on (None: none)."""

    unit: Unit
    dispatch: Dispatch | None


class UnitRepository(Protocol):
    """The store of units and dispatches."""

    async def add_unit(self, *, name: str, user: str | None) -> Unit:
        """Register an available unit. Raises ConflictError: the name is taken."""
        ...

    async def list_units(self) -> list[UnitDetail]:
        """Return every unit with its active dispatch, ordered by name."""
        ...

    async def get_unit(self, unit_id: int) -> UnitDetail:
        """Return a unit with its active dispatch. Raises NotFoundError."""
        ...

    async def get_dispatch(self, dispatch_id: int) -> Dispatch:
        """Return a dispatch. Raises NotFoundError."""
        ...

    async def dispatches_of(self, alarm_id: int) -> list[Dispatch]:
        """Return an alarm's dispatches, oldest first."""
        ...

    async def save_dispatch(
        self,
        previous: Alarm,
        alarm: Alarm,
        entries: Sequence[TimelineEntry],
        units_changed: Sequence[tuple[Unit, Unit]],
        new_dispatches: Sequence[Dispatch],
    ) -> tuple[Alarm, tuple[Dispatch, ...]]:
        """Store a dispatch in one commit: the alarm, its entries, the units, the dispatches.

        Compare-and-set on the alarm's and each unit's version (pairs of read, changed).

        Raises:
            NotFoundError, ConflictError (stale alarm or unit); nothing was stored.
        """
        ...

    async def save_unit(
        self,
        previous: Unit,
        unit: Unit,
        dispatch: Dispatch | None,
        entries: Sequence[TimelineEntry],
    ) -> Unit:
        """Store a unit's change, its dispatch's times and the entries on the dispatch's alarm.

        Raises:
            NotFoundError, ConflictError (stale unit); nothing was stored.
        """
        ...

    async def save_acknowledgement(
        self, dispatch: Dispatch, entries: Sequence[TimelineEntry]
    ) -> Dispatch:
        """Store a dispatch's acknowledgement and its entries on the alarm (idempotent)."""
        ...


class FieldStore(UnitRepository, AuditedStore, Protocol):
    """What the pages of staff on duty need besides units: the units they report for."""

    async def units_of_user(self, user: str) -> list[UnitDetail]:
        """Return the units a user reports for, with their active dispatches."""
        ...


_DISPATCHABLE = frozenset({AlarmState.ACKNOWLEDGED, AlarmState.DISPATCHED})


@dataclass(frozen=True, slots=True, kw_only=True)
class Dispatching:
    """Units: their dispatch by operators and their own status reports."""

    units: UnitRepository
    repository: AlarmStore
    clock: Clock
    publish: Publish

    async def dispatch(self, alarm_id: int, unit_ids: Sequence[int], *, actor: str) -> Alarm:
        """Dispatch available units to an acknowledged (or already dispatched) alarm.

        An acknowledged alarm moves to ``dispatched`` through its lifecycle; units added to a
        dispatched alarm join it. One timeline entry names the units.

        Raises:
            NotFoundError: no such alarm or unit.
            InvalidTransitionError: the alarm is neither acknowledged nor dispatched, or a
                unit is not available (``UnitTransitionError``).
            ConflictError: the alarm or a unit changed meanwhile; nothing was stored.
        """
        previous = (await self.repository.get_alarm(alarm_id)).alarm
        if previous.state not in _DISPATCHABLE:
            raise InvalidTransitionError(previous.state, "dispatch units to")
        now = self.clock.now()
        if previous.state is AlarmState.ACKNOWLEDGED:
            alarm = apply_action(previous, AlarmAction.DISPATCH, at=now, actor=actor)
        else:
            alarm = replace(previous, version=previous.version + 1)
        pairs: list[tuple[Unit, Unit]] = []
        dispatches: list[Dispatch] = []
        for unit_id in dict.fromkeys(unit_ids):
            unit = (await self.units.get_unit(unit_id)).unit
            dispatched, dispatch = dispatch_unit(unit, alarm_id=alarm_id, at=now, by=actor)
            pairs.append((unit, dispatched))
            dispatches.append(dispatch)
        names = ", ".join(unit.name for unit, _ in pairs)
        entry = TimelineEntry(
            at=now, kind=TimelineKind.DISPATCHED, actor=actor, detail=f"units: {names}"
        )
        stored, _ = await self.units.save_dispatch(previous, alarm, [entry], pairs, dispatches)
        self.publish(AlarmEvent(kind=AlarmEventKind.UPDATED, alarm=stored))
        return stored

    async def report_status(self, unit_id: int, status: UnitStatus, *, actor: str) -> UnitDetail:
        """Change a unit's status as its crew (or a supervisor) reports it.

        A change on a dispatch publishes the dispatch's alarm (unchanged) as updated.

        Raises:
            NotFoundError, InvalidTransitionError (``UnitTransitionError``), ConflictError.
        """
        detail = await self.units.get_unit(unit_id)
        unit, dispatch = change_status(
            detail.unit, status, at=self.clock.now(), dispatch=detail.dispatch
        )
        if unit is detail.unit:
            return detail
        entries = (
            []
            if dispatch is None
            else [
                TimelineEntry(
                    at=unit.status_at,
                    kind=TimelineKind.UNIT,
                    actor=actor,
                    detail=f"{unit.name}: {status.value.replace('_', ' ')}",
                )
            ]
        )
        alarm = None if dispatch is None else await self._alarm(dispatch.alarm_id)
        stored = await self.units.save_unit(detail.unit, unit, dispatch, entries)
        if alarm is not None:
            self.publish(AlarmEvent(kind=AlarmEventKind.UPDATED, alarm=alarm))
        return UnitDetail(
            unit=stored, dispatch=dispatch if dispatch is not None and dispatch.is_active else None
        )

    async def acknowledge(self, dispatch_id: int, *, actor: str) -> Dispatch:
        """Acknowledge a dispatch for its unit (idempotent: the first time stays).

        The first acknowledgement publishes the dispatch's alarm (unchanged) as updated.

        Raises:
            NotFoundError, InvalidTransitionError (the dispatch is over).
        """
        dispatch = await self.units.get_dispatch(dispatch_id)
        if dispatch.acknowledged_at is not None:
            return dispatch
        acknowledged = acknowledge_dispatch(dispatch, at=self.clock.now())
        unit = (await self.units.get_unit(dispatch.unit_id)).unit
        entry = TimelineEntry(
            at=acknowledged.acknowledged_at or self.clock.now(),
            kind=TimelineKind.UNIT,
            actor=actor,
            detail=f"{unit.name}: dispatch acknowledged",
        )
        alarm = await self._alarm(dispatch.alarm_id)
        stored = await self.units.save_acknowledgement(acknowledged, [entry])
        self.publish(AlarmEvent(kind=AlarmEventKind.UPDATED, alarm=alarm))
        return stored

    async def _alarm(self, alarm_id: int) -> Alarm:
        # Read before the write: a unit's progress adds timeline entries, not alarm changes.
        return (await self.repository.get_alarm(alarm_id)).alarm

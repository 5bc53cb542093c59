"""The store of units, dispatches, report photos and undeliverable notifications."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any

from sqlalchemy import Row, Select, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from watchfloor.core.alarms import Alarm, TimelineEntry
from watchfloor.core.dispatching import UnitDetail
from watchfloor.core.errors import ConflictError, NotFoundError
from watchfloor.core.notifications import DeadLetter
from watchfloor.core.units import Dispatch, Unit, UnitStatus
from watchfloor.store._alarm_writes import write_alarm_change
from watchfloor.store._errors import translate_errors
from watchfloor.store._rows import timeline_values
from watchfloor.store._unit import AuditedUnit
from watchfloor.store.tables import (
    alarm_timeline,
    dispatches,
    notification_dead_letters,
    units,
)

__all__ = ["SqlDispatchStore"]


def _unit_from_row(row: Row[Any]) -> Unit:
    m = row._mapping
    return Unit(
        id=m["id"],
        name=m["name"],
        user=m["user_name"],
        status=UnitStatus(m["status"]),
        status_at=m["status_at"],
        version=m["version"],
    )


def _dispatch_from_row(row: Row[Any]) -> Dispatch:
    m = row._mapping
    return Dispatch(
        id=m["id"],
        alarm_id=m["alarm_id"],
        unit_id=m["unit_id"],
        dispatched_at=m["dispatched_at"],
        dispatched_by=m["dispatched_by"],
        acknowledged_at=m["acknowledged_at"],
        en_route_at=m["en_route_at"],
        on_scene_at=m["on_scene_at"],
        cleared_at=m["cleared_at"],
    )


def _dispatch_times(dispatch: Dispatch) -> dict[str, datetime | None]:
    return {
        "acknowledged_at": dispatch.acknowledged_at,
        "en_route_at": dispatch.en_route_at,
        "on_scene_at": dispatch.on_scene_at,
        "cleared_at": dispatch.cleared_at,
    }


class SqlDispatchStore(AuditedUnit):
    """Units, dispatches, report photos and dead letters on SQLite or PostgreSQL.

    Implements ``core.dispatching.UnitRepository``. Every method runs in its own short
    transaction and translates driver errors like ``SqlRepository``.
    """

    async def add_unit(self, *, name: str, user: str | None) -> Unit:
        """Register an available unit.

        Raises:
            ConflictError: a unit of this name exists.
            StoreUnavailableError: the database could not be written.
        """
        now = self._clock.now()
        with translate_errors(f"register unit {name}"):
            async with self._write() as connection:
                unit_id = (
                    await connection.execute(
                        units.insert()
                        .values(
                            name=name,
                            user_name=user,
                            status=UnitStatus.AVAILABLE.value,
                            status_at=now,
                            version=1,
                            created_at=now,
                        )
                        .returning(units.c.id)
                    )
                ).scalar_one()
        return Unit(id=unit_id, name=name, user=user, status=UnitStatus.AVAILABLE, status_at=now)

    async def list_units(self) -> list[UnitDetail]:
        """Return every unit with its active dispatch, ordered by name."""
        with translate_errors("read units"):
            async with self._connect() as connection:
                rows = list(await connection.execute(select(units).order_by(units.c.name)))
                active = await self._active(connection, [row.id for row in rows])
        return [UnitDetail(unit=_unit_from_row(row), dispatch=active.get(row.id)) for row in rows]

    async def get_unit(self, unit_id: int) -> UnitDetail:
        """Return a unit with its active dispatch.

        Raises:
            NotFoundError: no such unit.
        """
        with translate_errors("read a unit"):
            async with self._connect() as connection:
                row = (await connection.execute(select(units).where(units.c.id == unit_id))).first()
                if row is None:
                    raise NotFoundError(f"no unit {unit_id}")
                active = await self._active(connection, [unit_id])
        return UnitDetail(unit=_unit_from_row(row), dispatch=active.get(unit_id))

    async def units_of_user(self, user: str) -> list[UnitDetail]:
        """Return the units a user reports for, with their active dispatches."""
        return [d for d in await self.list_units() if d.unit.user == user]

    async def get_dispatch(self, dispatch_id: int) -> Dispatch:
        """Return a dispatch.

        Raises:
            NotFoundError: no such dispatch.
        """
        rows = await self._read(select(dispatches).where(dispatches.c.id == dispatch_id))
        if not rows:
            raise NotFoundError(f"no dispatch {dispatch_id}")
        return _dispatch_from_row(rows[0])

    async def dispatches_of(self, alarm_id: int) -> list[Dispatch]:
        """Return an alarm's dispatches, oldest first."""
        rows = await self._read(
            select(dispatches).where(dispatches.c.alarm_id == alarm_id).order_by(dispatches.c.id)
        )
        return [_dispatch_from_row(row) for row in rows]

    async def save_dispatch(
        self,
        previous: Alarm,
        alarm: Alarm,
        entries: Sequence[TimelineEntry],
        units_changed: Sequence[tuple[Unit, Unit]],
        new_dispatches: Sequence[Dispatch],
    ) -> tuple[Alarm, tuple[Dispatch, ...]]:
        """Store a dispatch in one commit (see ``core.dispatching.UnitRepository``).

        Raises:
            NotFoundError, ConflictError: nothing was stored.
            StoreUnavailableError: the database could not be written; nothing was stored.
        """
        with translate_errors(f"dispatch units to alarm {previous.id}"):
            async with self._write() as connection:
                stored = await write_alarm_change(connection, previous, alarm, entries)
                for before, after in units_changed:
                    await _write_unit(connection, before, after)
                saved: list[Dispatch] = []
                for dispatch in new_dispatches:
                    dispatch_id = (
                        await connection.execute(
                            dispatches.insert()
                            .values(
                                alarm_id=dispatch.alarm_id,
                                unit_id=dispatch.unit_id,
                                dispatched_at=dispatch.dispatched_at,
                                dispatched_by=dispatch.dispatched_by,
                                **_dispatch_times(dispatch),
                            )
                            .returning(dispatches.c.id)
                        )
                    ).scalar_one()
                    saved.append(replace(dispatch, id=dispatch_id))
        return stored, tuple(saved)

    async def save_unit(
        self,
        previous: Unit,
        unit: Unit,
        dispatch: Dispatch | None,
        entries: Sequence[TimelineEntry],
    ) -> Unit:
        """Store a unit's change with its dispatch's times and the alarm's entries.

        Raises:
            NotFoundError, ConflictError (stale unit): nothing was stored.
        """
        with translate_errors(f"change unit {previous.name}"):
            async with self._write() as connection:
                await _write_unit(connection, previous, unit)
                if dispatch is not None:
                    await _write_dispatch(connection, dispatch, entries)
        return unit

    async def save_acknowledgement(
        self, dispatch: Dispatch, entries: Sequence[TimelineEntry]
    ) -> Dispatch:
        """Store a dispatch's acknowledgement and the alarm's entries; the first one stays."""
        with translate_errors(f"acknowledge dispatch {dispatch.id}"):
            async with self._write() as connection:
                result = await connection.execute(
                    update(dispatches)
                    .where(dispatches.c.id == dispatch.id, dispatches.c.acknowledged_at.is_(None))
                    .values(acknowledged_at=dispatch.acknowledged_at)
                )
                if result.rowcount:
                    await _insert_entries(connection, dispatch.alarm_id, entries)
        return await self.get_dispatch(dispatch.id)

    async def add_dead_letter(self, letter: DeadLetter) -> None:
        """Keep a notification that failed every attempt (its ``id`` is ignored)."""
        with translate_errors("store a dead letter"):
            async with self._write() as connection:
                await connection.execute(
                    notification_dead_letters.insert().values(
                        rule=letter.rule,
                        channel=letter.channel,
                        destination=letter.destination,
                        alarm_id=letter.alarm_id,
                        body=letter.body,
                        attempts=letter.attempts,
                        last_error=letter.last_error,
                        failed_at=letter.failed_at,
                    )
                )

    async def list_dead_letters(self, *, limit: int = 100) -> list[DeadLetter]:
        """Return the newest dead letters first."""
        rows = await self._read(
            select(notification_dead_letters)
            .order_by(notification_dead_letters.c.id.desc())
            .limit(limit)
        )
        return [DeadLetter(**row._mapping) for row in rows]

    async def _active(
        self, connection: AsyncConnection, unit_ids: Sequence[int]
    ) -> dict[int, Dispatch]:
        if not unit_ids:
            return {}
        rows = await connection.execute(
            select(dispatches)
            .where(dispatches.c.unit_id.in_(unit_ids), dispatches.c.cleared_at.is_(None))
            .order_by(dispatches.c.id)
        )
        return {row.unit_id: _dispatch_from_row(row) for row in rows}

    async def _read(self, query: Select[Any]) -> list[Row[Any]]:
        with translate_errors("read the store"):
            async with self._connect() as connection:
                return list(await connection.execute(query))


async def _write_unit(connection: AsyncConnection, previous: Unit, unit: Unit) -> None:
    result = await connection.execute(
        update(units)
        .where(units.c.id == previous.id, units.c.version == previous.version)
        .values(status=unit.status.value, status_at=unit.status_at, version=unit.version)
    )
    if not result.rowcount:
        raise ConflictError(f"unit {previous.name} changed since it was read")


async def _write_dispatch(
    connection: AsyncConnection, dispatch: Dispatch, entries: Sequence[TimelineEntry]
) -> None:
    await connection.execute(
        update(dispatches).where(dispatches.c.id == dispatch.id).values(**_dispatch_times(dispatch))
    )
    await _insert_entries(connection, dispatch.alarm_id, entries)


async def _insert_entries(
    connection: AsyncConnection, alarm_id: int, entries: Sequence[TimelineEntry]
) -> None:
    if entries:
        await connection.execute(
            alarm_timeline.insert(),
            [timeline_values(entry, alarm_id=alarm_id) for entry in entries],
        )

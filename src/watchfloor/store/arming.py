"""Arming schedules and armed states as stored: read for the intake and the watch, and kept.

A schedule row (``site_schedules``, written by the site record) holds its weekly windows and
exceptions as JSON in the site's time zone; ``site_arming`` holds the armed state that intake
keeps (``core.arming``). Both are read together, in one statement, for the sites a batch
needs or for all (the watch). A row that cannot be read as a schedule (bad JSON, an unknown
time zone) is left out and logged: one bad schedule does not stop the others' supervision.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Row, and_, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from watchfloor.core.arming import (
    ArmingState,
    DueArming,
    ScheduleKey,
    SupervisedSchedule,
    due_conditions,
)
from watchfloor.core.errors import StoreUnavailableError
from watchfloor.core.schedules import Schedule, ScheduleException, WeeklyWindow
from watchfloor.store._errors import translate_errors
from watchfloor.store._rows import chunks
from watchfloor.store.tables import site_arming, site_schedules, sites

__all__ = [
    "ArmingSchedules",
    "StoredSchedules",
    "read_schedules",
    "schedule_from_row",
    "write_arming_states",
]

logger = logging.getLogger(__name__)

_STATE_COLUMNS = (
    "armed",
    "opened_at",
    "closed_at",
    "device",
    "account",
    "failed_close_for",
    "late_open_for",
    "unexpected_open_for",
)


@dataclass(frozen=True, slots=True, kw_only=True)
class StoredSchedules:
    """The schedules read, with their states, by key; and each site's id, by name."""

    supervised: Mapping[ScheduleKey, SupervisedSchedule]
    site_ids: Mapping[str, int]


def schedule_from_row(row: Row[Any]) -> Schedule:
    """Return the schedule of a ``site_schedules`` row joined with its site's name and zone.

    Raises:
        ValueError: the windows or exceptions are not the documented JSON, or the time zone
            is unknown.
    """
    try:
        ZoneInfo(row.time_zone)
        windows = tuple(
            WeeklyWindow(
                weekday=int(w["weekday"]),
                opens=time.fromisoformat(w["opens"]),
                closes=time.fromisoformat(w["closes"]),
            )
            for w in json.loads(row.windows)
        )
        exceptions = tuple(
            ScheduleException(
                day=date.fromisoformat(e["day"]),
                opens=None if e.get("opens") is None else time.fromisoformat(e["opens"]),
                closes=None if e.get("closes") is None else time.fromisoformat(e["closes"]),
                note=e.get("note"),
            )
            for e in json.loads(row.exceptions)
        )
    except (KeyError, TypeError, ValueError) as err:
        raise ValueError(f"schedule of site {row.site_name!r} cannot be read: {err}") from err
    return Schedule(
        site=row.site_name,
        partition=row.partition or None,
        time_zone=row.time_zone,
        windows=windows,
        exceptions=exceptions,
        close_grace=timedelta(seconds=row.close_grace_seconds),
        open_grace=(
            None if row.open_grace_seconds is None else timedelta(seconds=row.open_grace_seconds)
        ),
    )


def _state_from_row(row: Row[Any]) -> ArmingState:
    return ArmingState(**{name: getattr(row, name) for name in _STATE_COLUMNS})


_SELECT = (
    select(
        site_schedules.c.site_id,
        site_schedules.c.partition,
        site_schedules.c.windows,
        site_schedules.c.exceptions,
        site_schedules.c.close_grace_seconds,
        site_schedules.c.open_grace_seconds,
        site_schedules.c.updated_at,
        sites.c.name.label("site_name"),
        sites.c.time_zone,
        *(site_arming.c[name] for name in _STATE_COLUMNS),
    )
    .select_from(site_schedules)
    .join(sites, sites.c.id == site_schedules.c.site_id)
    .outerjoin(
        site_arming,
        and_(
            site_arming.c.site_id == site_schedules.c.site_id,
            site_arming.c.partition == site_schedules.c.partition,
        ),
    )
    .where(sites.c.decommissioned_at.is_(None))
)


async def read_schedules(
    connection: AsyncConnection, site_names: Collection[str] | None = None
) -> StoredSchedules:
    """Return the schedules (with armed state) of the named sites, or of every site (None).

    One statement per ``CHUNK`` of names. A schedule that cannot be read is logged and left
    out.
    """
    queries = (
        [_SELECT]
        if site_names is None
        else [_SELECT.where(sites.c.name.in_(chunk)) for chunk in chunks(sorted(site_names))]
    )
    supervised: dict[ScheduleKey, SupervisedSchedule] = {}
    site_ids: dict[str, int] = {}
    for query in queries:
        for row in await connection.execute(query):
            try:
                schedule = schedule_from_row(row)
            except ValueError as err:
                logger.warning("open/close supervision skips a schedule: %s", err)
                continue
            entry = SupervisedSchedule(
                schedule=schedule, state=_state_from_row(row), since=row.updated_at
            )
            supervised[entry.key] = entry
            site_ids[schedule.site] = row.site_id
    return StoredSchedules(supervised=supervised, site_ids=site_ids)


async def write_arming_states(
    connection: AsyncConnection,
    states: Mapping[ScheduleKey, ArmingState],
    site_ids: Mapping[str, int],
) -> None:
    """Insert or replace the armed states (one executemany); idempotent."""
    if not states:
        return
    rows = [
        {
            "site_id": site_ids[key.site],
            "partition": key.partition or "",
            **{name: getattr(state, name) for name in _STATE_COLUMNS},
        }
        for key, state in states.items()
    ]
    if connection.dialect.name == "postgresql":
        insert: postgresql.Insert | sqlite.Insert = postgresql.insert(site_arming)
    elif connection.dialect.name == "sqlite":
        insert = sqlite.insert(site_arming)
    else:
        raise StoreUnavailableError(f"unsupported database {connection.dialect.name}")
    statement = insert.on_conflict_do_update(
        index_elements=[site_arming.c.site_id, site_arming.c.partition],
        set_={name: insert.excluded[name] for name in _STATE_COLUMNS},
    )
    await connection.execute(statement, rows)


class ArmingSchedules:
    """The watch's view of the stored schedules (``receivers.open_close.DueConditions``)."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def due_arming(self, now: datetime) -> list[DueArming]:
        """Return every open/close condition due at ``now`` and not raised yet.

        Reads every schedule in one statement; the core decides what is due
        (``core.arming.due_conditions``).

        Raises:
            StoreUnavailableError: the store could not be read.
        """
        with translate_errors("read the arming schedules"):
            async with self._engine.connect() as connection:
                stored = await read_schedules(connection)
        return [
            DueArming(key=key, state=entry.state, due=due)
            for key, entry in stored.supervised.items()
            for due in due_conditions(entry.schedule, entry.state, now, since=entry.since)
        ]

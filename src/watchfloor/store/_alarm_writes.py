"""A change to an alarm with its timeline entries, on a connection inside a transaction."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from watchfloor.core.alarms import Alarm, TimelineEntry
from watchfloor.core.errors import ConflictError, NotFoundError
from watchfloor.store._rows import alarm_from_row, alarm_update_values, timeline_values
from watchfloor.store.tables import alarm_timeline, alarms

__all__ = ["write_alarm_change"]


async def write_alarm_change(
    connection: AsyncConnection,
    previous: Alarm,
    updated: Alarm,
    entries: Sequence[TimelineEntry],
) -> Alarm:
    """Write ``updated`` over ``previous`` (compare-and-set on its version) and the entries.

    Does not commit: the caller's transaction may hold more changes that stand or fall with
    this one.

    Raises:
        NotFoundError: no such alarm.
        ConflictError: the alarm changed since ``previous`` was read (stale version).
    """
    row = (
        await connection.execute(
            update(alarms)
            .where(alarms.c.id == previous.id, alarms.c.version == previous.version)
            .values(alarm_update_values(updated))
            .returning(*alarms.c)
        )
    ).first()
    if row is None:
        exists = await connection.scalar(select(alarms.c.version).where(alarms.c.id == previous.id))
        if exists is None:
            raise NotFoundError(f"no alarm {previous.id}")
        raise ConflictError(
            f"alarm {previous.id} changed since it was read "
            f"(version {previous.version}, now {exists})"
        )
    if entries:
        await connection.execute(
            alarm_timeline.insert(),
            [timeline_values(entry, alarm_id=previous.id) for entry in entries],
        )
    return alarm_from_row(row)

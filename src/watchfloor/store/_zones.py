"""The zone descriptions of the alarms a batch opens, read set-based from the zone lists.

Why at intake, stored on the alarm: the alarm that the stream, the notifications (CAP,
webhook) and the consoles receive is the one the batch wrote, so the description must be on
it then; stored, it also stays what the operator saw when the zone list changes later, and
the reads of alarms need no join. Signals are kept as received and get theirs by a join at
read time (``zone_name_column``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from sqlalchemy import ColumnElement, and_, select, tuple_
from sqlalchemy.ext.asyncio import AsyncConnection

from watchfloor.core.correlation import AlarmChange, ClassifiedSignal
from watchfloor.store._rows import chunks
from watchfloor.store.tables import signals, zones

__all__ = ["describe_zones", "signal_zone_name"]


async def describe_zones(
    connection: AsyncConnection, batch: Sequence[ClassifiedSignal], changes: Sequence[AlarmChange]
) -> list[AlarmChange]:
    """Return the changes with each alarm the batch opens named after its zone, where described.

    One statement per ``CHUNK`` wanted zones; none when no opened alarm has a zone of a
    registered device.
    """
    device_of = {entry.key: entry.device.id for entry in batch if entry.device is not None}
    wanted = {
        (device_of[c.key], c.alarm.zone)
        for c in changes
        if c.read_version is None and c.alarm.zone is not None and c.key in device_of
    }
    if not wanted:
        return list(changes)
    names: dict[tuple[int, str], str] = {}
    for chunk in chunks(sorted(wanted)):
        rows = await connection.execute(
            select(zones.c.device_id, zones.c.zone, zones.c.description).where(
                tuple_(zones.c.device_id, zones.c.zone).in_(chunk)
            )
        )
        names.update({(row.device_id, row.zone): row.description for row in rows})
    return [
        replace(c, alarm=replace(c.alarm, zone_name=name))
        if c.read_version is None
        and c.alarm.zone is not None
        and c.key in device_of
        and (name := names.get((device_of[c.key], c.alarm.zone))) is not None
        else c
        for c in changes
    ]


def signal_zone_name() -> ColumnElement[str | None]:
    """The description of a signal's zone on its device's zone list (NULL: not described)."""
    return (
        select(zones.c.description)
        .where(and_(zones.c.device_id == signals.c.device_id, zones.c.zone == signals.c.zone))
        .scalar_subquery()
        .label("zone_name")
    )

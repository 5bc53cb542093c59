"""Pages of alarms: the log (newest first) and the operators' queue (core ``queue_key``)."""

# The queue is read in two parts so that neither sorts the whole history: the open alarms
# (few, found through the state index) by priority, then oldest first; then the others newest
# first (the primary key backwards). A page's cursor is the id of the previous page's last
# alarm and is resolved to where that alarm stands now: if it was closed meanwhile, the next
# page starts in the second part. A cursor that names no alarm (purged) continues the second
# part below its id, as the log would.

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import ColumnElement, and_, not_, or_, select
from sqlalchemy.ext.asyncio import AsyncConnection

from watchfloor.core.alarms import OPEN_STATES, Alarm, AlarmOrder
from watchfloor.store._rows import alarm_from_row
from watchfloor.store.tables import alarms

__all__ = ["read_alarm_page"]

_OPEN = alarms.c.state.in_(sorted(state.value for state in OPEN_STATES))


async def read_alarm_page(
    connection: AsyncConnection,
    conditions: Sequence[ColumnElement[bool]],
    *,
    order: AlarmOrder,
    limit: int,
    after: int | None,
) -> list[Alarm]:
    """Return at most ``limit`` alarms meeting ``conditions``, in ``order``, after the cursor."""
    if order is AlarmOrder.NEWEST:
        return await _newest(connection, conditions, limit=limit, below=after)
    page: list[Alarm] = []
    below = after
    cursor = None if after is None else await _cursor(connection, after)
    if after is None or (cursor is not None and cursor.state in OPEN_STATES):
        query = (
            select(alarms)
            .where(_OPEN, *conditions)
            .order_by(alarms.c.priority, alarms.c.first_at, alarms.c.id)
            .limit(limit)
        )
        if cursor is not None:
            query = query.where(_queue_after(cursor))
        page = [alarm_from_row(row) for row in await connection.execute(query)]
        below = None
    if len(page) == limit:
        return page
    rest = await _newest(
        connection, [not_(_OPEN), *conditions], limit=limit - len(page), below=below
    )
    return page + rest


async def _newest(
    connection: AsyncConnection,
    conditions: Sequence[ColumnElement[bool]],
    *,
    limit: int,
    below: int | None,
) -> list[Alarm]:
    query = select(alarms).where(*conditions).order_by(alarms.c.id.desc()).limit(limit)
    if below is not None:
        query = query.where(alarms.c.id < below)
    return [alarm_from_row(row) for row in await connection.execute(query)]


async def _cursor(connection: AsyncConnection, alarm_id: int) -> Alarm | None:
    row = (await connection.execute(select(alarms).where(alarms.c.id == alarm_id))).first()
    return None if row is None else alarm_from_row(row)


def _queue_after(cursor: Alarm) -> ColumnElement[bool]:
    # (priority, first_at, id) > the cursor's, spelt out: row values compare on both
    # backends, but this form keeps each bound value typed by its column (UtcDateTime).
    priority, first_at, id_ = alarms.c.priority, alarms.c.first_at, alarms.c.id
    same_priority = priority == cursor.priority
    return or_(
        priority > cursor.priority,
        and_(same_priority, first_at > cursor.first_at),
        and_(same_priority, first_at == cursor.first_at, id_ > cursor.id),
    )

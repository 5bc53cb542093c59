"""The body of one group-commit transaction: store signals, correlate them, change alarms.

Theory of operation: the writer hands over the units of a batch in arrival order. Every
statement is a round trip (on SQLite, one through the driver's thread), so the batch is
applied in three phases whose number of statements does not grow with its size. The rules
are the core's; this module reads what they need, calls them, and writes what they decide.

1. Read, set-based: the stored signals that a signal of the batch may repeat
   (``core.retransmission.repeat_lookup``: same dedupe key within ``RETRANSMISSION_WINDOW``,
   or a staff report's or call's idempotency key at any time), the registered devices the
   items name, the open alarms under the batch's correlation keys (locked on PostgreSQL),
   and, for flood control (``_flood``), each device's recent signal count and, for the
   devices that may flood, their newest open alarm; for a batch with openings, closings or
   open/close conditions, the schedules and armed states of their sites (``arming``).
2. Plan, in memory and in arrival order, as if each item were stored before the next one is
   looked at: ``core.retransmission.deduplicate`` resolves a repeated frame to the stored
   signals or to an earlier frame of the batch; ``core.supervision.plan_supervision`` marks
   devices heard, lost or restored (a restore is stored and correlated like any signal, on
   the open "link lost" alarm's timeline, but belongs to no unit);
   ``core.arming.plan_arming`` changes armed states and adds the restores of the open/close
   conditions an opening or closing ends (after the batch's signals); every signal is
   attributed to its device, classified, and correlated by
   ``core.correlation.correlate_batch``, which folds flooding signals (``core.flood``) and
   ends each alarm the batch touches in its final state.
3. Write, one executemany per table: the alarms the batch opened, in their final state; the
   alarms it changed, guarded by the version read in 1; the signals; the pictures that came
   with them (``_snapshots``); their timeline entries;
   the devices' last-seen time, clock skew and lost link; the armed states (an upsert).

A batch thus takes about a dozen statements, whatever its size (IN lists are cut at ``CHUNK``
values). Everything runs on one connection inside one transaction. Nothing here commits or publishes:
the writer does both, in that order.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC
from typing import Any, Final

from sqlalchemy import (
    ColumnElement,
    Table,
    bindparam,
    func,
    literal_column,
    or_,
    select,
    tuple_,
    update,
)
from sqlalchemy.ext.asyncio import AsyncConnection

from watchfloor.core.alarm_types import Taxonomy
from watchfloor.core.alarms import OPEN_STATES, Alarm, TimelineEntry
from watchfloor.core.arming import arming_sites, plan_arming
from watchfloor.core.correlation import (
    AlarmChange,
    ClassifiedSignal,
    CorrelationKey,
    classify_for_correlation,
    correlate_batch,
)
from watchfloor.core.errors import ConflictError
from watchfloor.core.flood import FloodLimit, flooding
from watchfloor.core.ports import AlarmEvent, AlarmEventKind
from watchfloor.core.retransmission import RepeatLookup, deduplicate, repeat_lookup
from watchfloor.core.signals import LinkTest, Signal, SignalRecord
from watchfloor.core.supervision import SupervisionPlan, plan_supervision
from watchfloor.store._devices import device_ref, read_devices
from watchfloor.store._flood import read_flood
from watchfloor.store._rows import (
    alarm_from_row,
    alarm_values,
    chunks,
    signal_record_from_row,
    signal_values,
    timeline_values,
)
from watchfloor.store._snapshots import insert_snapshots
from watchfloor.store._zones import describe_zones
from watchfloor.store.arming import StoredSchedules, read_schedules, write_arming_states
from watchfloor.store.tables import UtcDateTime, alarm_timeline, alarms, devices, signals

__all__ = ["BatchOutcome", "apply_batch"]

_NO_SCHEDULES: Final = StoredSchedules(supervised={}, site_ids={})
_OPEN_STATE_VALUES: Final = sorted(state.value for state in OPEN_STATES)

#: The identity of ``uq_alarms_open_key``, which the open-alarm read matches on.
_ALARM_KEY: Final = tuple_(
    alarms.c.key_device, alarms.c.type_code, func.coalesce(alarms.c.zone, literal_column("''"))
)

# The SET clause comes from the column names among each row's parameters.
_UPDATE_ALARM: Final = update(alarms).where(
    alarms.c.id == bindparam("b_id"), alarms.c.version == bindparam("b_read_version")
)
_SEEN_AT: Final = bindparam("b_at", type_=UtcDateTime())
# Never move last_seen_at backwards (a late batch of older signals).
_MARK_SEEN: Final = (
    update(devices)
    .where(
        devices.c.id == bindparam("b_id"),
        or_(devices.c.last_seen_at.is_(None), devices.c.last_seen_at < _SEEN_AT),
    )
    .values(last_seen_at=_SEEN_AT)
)
_SET_SKEW: Final = (
    update(devices)
    .where(devices.c.id == bindparam("b_id"))
    .values(clock_skew_seconds=bindparam("b_skew"))
)
_SET_LINK_LOST: Final = (
    update(devices)
    .where(devices.c.id == bindparam("b_id"))
    .values(link_lost_at=bindparam("b_lost", type_=UtcDateTime()))
)


@dataclass(frozen=True, slots=True, kw_only=True)
class BatchOutcome:
    """What a batch stored: one tuple of records per unit, and the alarm changes to publish.

    ``events`` holds one event per alarm the batch changed, with the alarm's final state:
    ``alarm.created`` if the batch opened it, else ``alarm.updated``; in order of first change.
    """

    records: tuple[tuple[SignalRecord | None, ...], ...]
    events: tuple[AlarmEvent, ...]


async def apply_batch(
    connection: AsyncConnection,
    taxonomy: Taxonomy,
    units: Sequence[Sequence[Signal | LinkTest]],
    *,
    flood: FloodLimit | None = None,
) -> BatchOutcome:
    """Store the units' items on a connection inside an open transaction; do not commit.

    Args:
        connection: a connection inside a transaction that holds the write lock (SQLite).
        taxonomy: classifies the signals.
        units: the batch's units in arrival order, each a sequence of items.
        flood: the rate above which a device's new alarms fold into its newest open alarm
            (None: no flood control).

    Returns:
        One record per item (None for a link test; for a retransmission, the record stored
        the first time, maybe by this batch) and the alarm changes to publish after commit.

    Raises:
        ConflictError: an alarm changed under us (stale version); the caller rolls back.
        sqlalchemy.exc.DBAPIError, OSError: the database failed; the caller rolls back.

    Cancelled, it leaves part of the batch written in the transaction; the caller rolls back.
    """
    units = [[_in_utc(item) for item in unit] for unit in units]
    lookup = repeat_lookup([item for unit in units for item in unit if isinstance(item, Signal)])
    dedupe = deduplicate(units, await _read_stored_signals(connection, lookup))
    arrivals = dedupe.arrivals
    known = await read_devices(connection, arrivals)
    plan = plan_supervision(
        arrivals, [known.by_ref[device_ref(item)] for item in arrivals], known.supervised
    )
    sites = arming_sites(plan.signals, plan.devices)
    schedules = await read_schedules(connection, sites) if sites else _NO_SCHEDULES
    arming = plan_arming(plan.signals, plan.devices, schedules.supervised)
    # The restores open/close supervision adds go last: they belong to no unit.
    stored_signals = [*plan.signals, *(signal for signal, _ in arming.restores)]
    batch = [
        classify_for_correlation(taxonomy, signal, device)
        for signal, device in zip(
            stored_signals,
            [*plan.devices, *(device for _, device in arming.restores)],
            strict=True,
        )
    ]
    open_alarms = await _read_open_alarms(connection, {entry.key for entry in batch})
    if flood is None:
        correlation = correlate_batch(batch, open_alarms)
    else:
        reading = await read_flood(connection, flood, stored_signals)
        correlation = correlate_batch(
            batch,
            open_alarms,
            flooding=flooding(flood, reading.stored, stored_signals),
            flood_targets=reading.targets,
        )
    changes = await describe_zones(connection, batch, correlation.changes)
    final = await _insert_alarms(connection, changes)
    await _update_alarms(connection, [c for c in changes if c.read_version is not None])
    records = await _insert_signals(
        connection, batch, [None if j is None else final[j].id for j in correlation.joined]
    )
    await insert_snapshots(connection, records)
    await _insert_timeline(connection, correlation.timeline, records)
    await _update_devices(connection, plan)
    await write_arming_states(connection, arming.states, schedules.site_ids)
    events = tuple(
        AlarmEvent(
            kind=AlarmEventKind.CREATED if c.read_version is None else AlarmEventKind.UPDATED,
            alarm=alarm,
        )
        for c, alarm in zip(changes, final, strict=True)
    )
    position = plan.stored_at
    return BatchOutcome(
        records=tuple(
            tuple(records[position[slot]] if isinstance(slot, int) else slot for slot in unit_slots)
            for unit_slots in dedupe.slots
        ),
        events=events,
    )


def _in_utc(item: Signal | LinkTest) -> Signal | LinkTest:
    return replace(item, received_at=item.received_at.astimezone(UTC))


# -- phase 1: read -------------------------------------------------------------------------


async def _read_stored_signals(
    connection: AsyncConnection, lookup: RepeatLookup
) -> dict[str, list[SignalRecord]]:
    """Return the stored signals each dedupe key of the lookup may repeat, newest first."""
    found: dict[str, list[SignalRecord]] = {}
    if lookup.window is not None:
        earliest, latest = lookup.window
        await _read_keyed(
            connection,
            lookup.windowed,
            found,
            signals.c.received_at >= earliest,
            signals.c.received_at <= latest,
        )
    await _read_keyed(connection, lookup.lasting, found)
    return found


async def _read_keyed(
    connection: AsyncConnection,
    keys: frozenset[str],
    found: dict[str, list[SignalRecord]],
    *conditions: ColumnElement[bool],
) -> None:
    for chunk in chunks(sorted(keys)):
        rows = await connection.execute(
            select(signals)
            .where(signals.c.dedupe_key.in_(chunk), *conditions)
            .order_by(signals.c.id.desc())
        )
        for row in rows:
            found.setdefault(row.dedupe_key, []).append(signal_record_from_row(row))


async def _read_open_alarms(
    connection: AsyncConnection, keys: set[CorrelationKey]
) -> dict[CorrelationKey, Alarm]:
    """Return the open alarm under each key that has one, locking it (PostgreSQL)."""
    found: dict[CorrelationKey, Alarm] = {}
    # The index folds a NULL zone into '', so the keys are matched exactly below.
    for chunk in chunks(list(keys)):
        query = (
            select(alarms)
            .where(
                # The first condition lets SQLite use an index; it cannot for the second.
                alarms.c.key_device.in_(sorted({k.device for k in chunk})),
                _ALARM_KEY.in_([(k.device, k.type_code, k.zone or "") for k in chunk]),
                alarms.c.state.in_(_OPEN_STATE_VALUES),
            )
            # Ascending, so that the newest alarm of a key wins below, and so that writers
            # on several nodes take the row locks in one order.
            .order_by(alarms.c.id)
            # PostgreSQL: an operator's concurrent change waits for our commit (or we for
            # theirs, and then see it), instead of failing the batch on a stale version.
            # SQLite ignores it; BEGIN IMMEDIATE already excludes every other writer.
            .with_for_update()
        )
        for row in await connection.execute(query):
            alarm = alarm_from_row(row)
            key = CorrelationKey(device=row.key_device, type_code=alarm.type_code, zone=alarm.zone)
            if key in keys:
                found[key] = alarm
    return found


# -- phase 3: write ------------------------------------------------------------------------


async def _insert_alarms(
    connection: AsyncConnection, changes: Sequence[AlarmChange]
) -> list[Alarm]:
    """Insert the alarms the batch opened; return every changed alarm, with its id."""
    opened = [c for c in changes if c.read_version is None]
    if not opened:
        return [c.alarm for c in changes]
    ids = iter(
        await _insert_returning_ids(
            connection, alarms, [alarm_values(c.alarm, key_device=c.key.device) for c in opened]
        )
    )
    return [
        c.alarm if c.read_version is not None else replace(c.alarm, id=next(ids)) for c in changes
    ]


async def _update_alarms(connection: AsyncConnection, changed: Sequence[AlarmChange]) -> None:
    rows = [
        {
            "b_id": c.alarm.id,
            "b_read_version": c.read_version,
            **alarm_values(c.alarm, key_device=c.key.device),
        }
        for c in changed
    ]
    if not rows:
        return
    result = await connection.execute(_UPDATE_ALARM, rows)
    if connection.dialect.supports_sane_multi_rowcount:
        updated = result.rowcount
    else:
        # asyncpg reports no row count for executemany: count the rows at their new version.
        # Versions only grow, and the rows have been locked since they were read.
        updated = 0
        for chunk in chunks([(c.alarm.id, c.alarm.version) for c in changed]):
            updated += (
                await connection.scalar(
                    select(func.count())
                    .select_from(alarms)
                    .where(tuple_(alarms.c.id, alarms.c.version).in_(chunk))
                )
                or 0
            )
    if updated != len(rows):
        ids = ", ".join(str(c.alarm.id) for c in changed)
        raise ConflictError(f"one of alarms {ids} changed while signals were joining it")


async def _insert_signals(
    connection: AsyncConnection,
    batch: Sequence[ClassifiedSignal],
    alarm_ids: Sequence[int | None],
) -> list[SignalRecord]:
    if not batch:
        return []
    rows = [
        signal_values(
            entry.signal,
            alarm_id=alarm_id,
            device_id=None if entry.device is None else entry.device.id,
            type_code=entry.classification.alarm_type.code,
        )
        for entry, alarm_id in zip(batch, alarm_ids, strict=True)
    ]
    ids = await _insert_returning_ids(connection, signals, rows)
    return [
        SignalRecord(
            id=signal_id,
            alarm_id=alarm_id,
            type_code=entry.classification.alarm_type.code,
            signal=entry.signal,
        )
        for entry, alarm_id, signal_id in zip(batch, alarm_ids, ids, strict=True)
    ]


async def _insert_returning_ids(
    connection: AsyncConnection, table: Table, rows: Sequence[dict[str, Any]]
) -> list[int]:
    """Insert rows (executemany); return the ids they got, in the rows' order."""
    if connection.dialect.name != "sqlite":
        statement = table.insert().returning(table.c.id, sort_by_parameter_order=True)
        return list((await connection.execute(statement, rows)).scalars())
    # SQLite returns RETURNING rows in no promised order, so SQLAlchemy would insert the rows
    # one by one to match ids to rows. The transaction holds the write lock (BEGIN
    # IMMEDIATE), so the ids can be chosen here as SQLite chooses them: above the largest.
    largest = await connection.scalar(select(func.max(table.c.id))) or 0
    ids = list(range(largest + 1, largest + 1 + len(rows)))
    await connection.execute(
        table.insert(), [{**row, "id": row_id} for row, row_id in zip(rows, ids, strict=True)]
    )
    return ids


async def _insert_timeline(
    connection: AsyncConnection,
    timeline: Sequence[TimelineEntry | None],
    records: Sequence[SignalRecord],
) -> None:
    rows = [
        timeline_values(replace(entry, signal_id=record.id), alarm_id=record.alarm_id)
        for entry, record in zip(timeline, records, strict=True)
        if entry is not None and record.alarm_id is not None
    ]
    if rows:
        await connection.execute(alarm_timeline.insert(), rows)


async def _update_devices(connection: AsyncConnection, plan: SupervisionPlan) -> None:
    if plan.seen:
        await connection.execute(_MARK_SEEN, _rows_of(plan.seen, "b_at"))
    if plan.skews:
        await connection.execute(_SET_SKEW, _rows_of(plan.skews, "b_skew"))
    if plan.link_lost:
        await connection.execute(_SET_LINK_LOST, _rows_of(plan.link_lost, "b_lost"))


def _rows_of(values: Mapping[int, Any], name: str) -> list[dict[str, Any]]:
    return [{"b_id": device_id, name: value} for device_id, value in values.items()]

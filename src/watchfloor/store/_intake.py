"""The body of one group-commit transaction: store signals, correlate them, change alarms.

Theory of operation: the writer hands over the units of a batch in arrival order. Every
statement is a round trip (on SQLite, one through the driver's thread), so the batch is
applied in three phases whose number of statements does not grow with its size:

1. Read, set-based: the stored signals that a DC-09 signal of the batch may repeat (same
   dedupe key within ``RETRANSMISSION_WINDOW``) or a staff report or call may resend (same
   idempotency key, at any time), the registered devices the items name, the
   open alarms under the batch's correlation keys (locked on PostgreSQL), and, for flood
   control (``_flood``), each device's recent signal count and, for the devices that may
   flood, their newest open alarm.
2. Plan, in memory and in arrival order, as if each item were stored before the next one is
   looked at: a retransmission resolves to the stored signal or to an earlier signal of the
   batch; every other signal is attributed to its device, classified and correlated with the
   open alarm under its key, so a later signal joins the alarm an earlier one opened. A
   signal of a flooding device that would open an alarm joins the device's newest open
   alarm instead, which may be one the batch opened. Each alarm the batch touches collects
   its changes and ends with its final state.
   Supervision (``core.supervision``) is planned in the same walk: a ``link_lost`` signal
   marks its device lost; the next item heard from a lost device is preceded by a
   ``link_lost`` restore, which is stored and correlated like any signal (it goes on the
   open "link lost" alarm's timeline) but belongs to no unit.
3. Write, one executemany per table: the alarms the batch opened, in their final state; the
   alarms it changed, guarded by the version read in 1; the signals; the pictures that came
   with them (``_snapshots``); their timeline entries;
   the devices' last-seen time, clock skew and lost link.

A batch thus takes about a dozen statements, whatever its size (IN lists are cut at ``CHUNK``
values). Everything runs on one connection inside one transaction. Nothing here commits or publishes:
the writer does both, in that order.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
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

from watchfloor.core.alarm_types import LINK_LOST, Classification, CodeSystem, SourceCode, Taxonomy
from watchfloor.core.alarms import OPEN_STATES, Alarm, TimelineEntry
from watchfloor.core.correlation import (
    CorrelationKey,
    Effect,
    classify_signal,
    correlate,
    correlation_key,
)
from watchfloor.core.devices import Device
from watchfloor.core.errors import ConflictError
from watchfloor.core.ports import AlarmEvent, AlarmEventKind
from watchfloor.core.signals import LinkTest, Signal, SignalRecord, SignalSource
from watchfloor.core.supervision import (
    SupervisedDevice,
    link_restored_signal,
    supervision_deadline,
)
from watchfloor.store._devices import HEARD_SOURCES, KnownDevices, device_ref, read_devices
from watchfloor.store._flood import FloodLimit, FloodMeter, read_flood_meter
from watchfloor.store._rows import (
    alarm_from_row,
    alarm_values,
    chunks,
    dedupe_key,
    signal_record_from_row,
    signal_values,
    timeline_values,
)
from watchfloor.store._snapshots import insert_snapshots
from watchfloor.store.tables import UtcDateTime, alarm_timeline, alarms, devices, signals

__all__ = ["RETRANSMISSION_WINDOW", "BatchOutcome", "FloodLimit", "apply_batch"]

#: A DC-09 frame repeated within this time (same account, sequence number and content) is a
#: retransmission: acknowledged again, stored once (DESIGN: DC-09 behaviour).
RETRANSMISSION_WINDOW: Final = timedelta(minutes=5)

_LINK_LOST_CODE: Final = SourceCode(system=CodeSystem.SUPERVISION, code=LINK_LOST)

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

#: Where an item of the batch ends up: None for a link test, the record of a signal stored
#: before the batch (it is retransmitted), or the index of the batch's arrival (a signal)
#: that is stored.
_Slot = SignalRecord | int | None
#: The events of one frame: their arrival indexes in the batch, or their stored records.
_Frame = list[int] | list[SignalRecord]


@dataclass(slots=True, kw_only=True)
class _DeviceChanges:
    """What the batch changes on device rows: last seen, clock skew, lost link (or None)."""

    seen: dict[int, datetime]
    skews: dict[int, float]
    link_lost: dict[int, datetime | None]


@dataclass(frozen=True, slots=True, kw_only=True)
class BatchOutcome:
    """What a batch stored: one tuple of records per unit, and the alarm changes to publish.

    ``events`` holds one event per alarm the batch changed, with the alarm's final state:
    ``alarm.created`` if the batch opened it, else ``alarm.updated``; in order of first change.
    """

    records: tuple[tuple[SignalRecord | None, ...], ...]
    events: tuple[AlarmEvent, ...]


@dataclass(eq=False, slots=True, kw_only=True)
class _AlarmChange:
    """An alarm the batch opens (``read_version`` None) or changes, in its latest state."""

    key: CorrelationKey
    alarm: Alarm
    read_version: int | None


@dataclass(slots=True, kw_only=True)
class _Planned:
    """A signal the batch stores, and what correlation decided for it."""

    signal: Signal
    device: Device | None
    classification: Classification
    key: CorrelationKey
    change: _AlarmChange | None = None
    timeline: TimelineEntry | None = None

    @property
    def alarm_id(self) -> int | None:
        return None if self.change is None else self.change.alarm.id


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
    items = [item for unit in units for item in unit]
    stored_before = await _read_stored_signals(
        connection, [item for item in items if isinstance(item, Signal)]
    )
    slots, arrivals = _deduplicate(units, stored_before)
    known = await read_devices(connection, arrivals)
    planned, position, device_changes = _plan(taxonomy, arrivals, known)
    open_alarms = await _read_open_alarms(connection, {p.key for p in planned})
    meter = (
        None
        if flood is None
        else await read_flood_meter(connection, flood, [p.signal for p in planned])
    )
    changes = _correlate(planned, open_alarms, meter)
    await _insert_alarms(connection, [c for c in changes if c.read_version is None])
    await _update_alarms(connection, [c for c in changes if c.read_version is not None])
    records = await _insert_signals(connection, planned)
    await insert_snapshots(connection, records)
    await _insert_timeline(connection, planned, records)
    await _update_devices(connection, device_changes)
    events = tuple(
        AlarmEvent(
            kind=AlarmEventKind.CREATED if c.read_version is None else AlarmEventKind.UPDATED,
            alarm=c.alarm,
        )
        for c in changes
    )
    return BatchOutcome(
        records=tuple(
            tuple(records[position[slot]] if isinstance(slot, int) else slot for slot in unit_slots)
            for unit_slots in slots
        ),
        events=events,
    )


def _in_utc(item: Signal | LinkTest) -> Signal | LinkTest:
    return replace(item, received_at=item.received_at.astimezone(UTC))


# -- phase 1: read -------------------------------------------------------------------------


async def _read_stored_signals(
    connection: AsyncConnection, batch: Sequence[Signal]
) -> dict[str, list[SignalRecord]]:
    """Return the stored signals each dedupe key of the batch may repeat, newest first."""
    keyed = [
        (key, signal.received_at)
        for signal in batch
        if signal.idempotency_key is None and (key := dedupe_key(signal))
    ]
    found: dict[str, list[SignalRecord]] = {}
    if keyed:
        # The window of every signal lies within this range; each one's own is applied later.
        earliest = min(at for _, at in keyed) - RETRANSMISSION_WINDOW
        latest = max(at for _, at in keyed)
        await _read_keyed(
            connection,
            {key for key, _ in keyed},
            found,
            signals.c.received_at >= earliest,
            signals.c.received_at <= latest,
        )
    # A sender's idempotency key holds for ever: an offline queue may resend days later.
    lasting = {key for signal in batch if signal.idempotency_key and (key := dedupe_key(signal))}
    await _read_keyed(connection, lasting, found)
    return found


async def _read_keyed(
    connection: AsyncConnection,
    keys: set[str],
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


# -- phase 2: plan -------------------------------------------------------------------------


def _deduplicate(
    units: Sequence[Sequence[Signal | LinkTest]], stored_before: Mapping[str, list[SignalRecord]]
) -> tuple[list[list[_Slot]], list[Signal | LinkTest]]:
    """Return each item's slot and the arrivals: link tests and the signals to store.

    Retransmission is decided per frame (a unit), not per event (DESIGN rule 4): the events
    of one frame share its dedupe key, so every event of a new frame is stored, and the n-th
    event of a repeated frame resolves to the n-th event of the frame it repeats.
    Retransmissions are not arrivals.
    """
    arrivals: list[Signal | LinkTest] = []
    frames_by_key: dict[str, list[list[int]]] = {}
    slots: list[list[_Slot]] = []
    for unit in units:
        unit_slots: list[_Slot] = []
        # Per key of this unit: the frame it repeats (None: a new frame) and its events so far.
        repeated: dict[str, _Frame | None] = {}
        events: dict[str, int] = {}
        new_frames: dict[str, list[int]] = {}
        for item in unit:
            key = None if isinstance(item, LinkTest) else dedupe_key(item)
            if isinstance(item, LinkTest) or key is None:
                unit_slots.append(None if isinstance(item, LinkTest) else len(arrivals))
                arrivals.append(item)
                continue
            if key not in repeated:
                repeated[key] = _repeated_frame(
                    item, arrivals, frames_by_key.get(key, []), stored_before.get(key, [])
                )
            frame = repeated[key]
            event = events[key] = events.get(key, -1) + 1
            if frame is None:
                new_frames.setdefault(key, []).append(len(arrivals))
                unit_slots.append(len(arrivals))
                arrivals.append(item)
            else:
                # A first transmission stored with fewer events repeats its last one.
                unit_slots.append(frame[min(event, len(frame) - 1)])
        for key, frame_slots in new_frames.items():
            frames_by_key.setdefault(key, []).append(frame_slots)
        slots.append(unit_slots)
    return slots, arrivals


def _repeated_frame(
    signal: Signal,
    arrivals: list[Signal | LinkTest],
    same_in_batch: list[list[int]],
    same_stored: list[SignalRecord],
) -> _Frame | None:
    """Return the events of the frame the signal's frame retransmits, or None.

    The newest match wins: a frame of the batch before a stored one, and among stored
    signals the newest; the stored frame is every signal under the key received with it.
    """
    lasting = signal.idempotency_key is not None
    earliest = signal.received_at - RETRANSMISSION_WINDOW

    def within(at: datetime) -> bool:
        return lasting or earliest <= at <= signal.received_at

    for frame in reversed(same_in_batch):
        if within(arrivals[frame[0]].received_at):
            return frame
    newest = next((r for r in same_stored if within(r.signal.received_at)), None)
    if newest is None:
        return None
    return sorted(
        (r for r in same_stored if r.signal.received_at == newest.signal.received_at),
        key=lambda record: record.id,
    )


def _plan(
    taxonomy: Taxonomy, arrivals: Sequence[Signal | LinkTest], known: KnownDevices
) -> tuple[list[_Planned], dict[int, int], _DeviceChanges]:
    """Return the signals to store, each arrival's place among them, and device changes.

    Supervision, in arrival order: a ``link_lost`` signal marks its supervised device lost,
    unless the device has been heard since its deadline was computed (the supervision watch
    read the store before a message of the device was committed): then the loss is restored
    at once. An item the device sent itself, of a lost device, is preceded by the restore,
    once; the device is then no longer lost.
    """
    planned: list[_Planned] = []
    position: dict[int, int] = {}
    supervised = known.supervised
    lost = {device_id: device.link_lost_at for device_id, device in supervised.items()}
    changes = _DeviceChanges(seen={}, skews={}, link_lost={})

    def restore(device: Device, at: datetime) -> None:
        signal = link_restored_signal(supervised[device.id], at=at)
        planned.append(_classify(taxonomy, signal, device))
        lost[device.id] = None

    for index, item in enumerate(arrivals):
        device = known.by_ref[device_ref(item)]
        if device is not None and item.source in HEARD_SOURCES:
            if lost.get(device.id) is not None:
                restore(device, item.received_at)
            seen = changes.seen.get(device.id)
            changes.seen[device.id] = (
                item.received_at if seen is None else max(seen, item.received_at)
            )
            if isinstance(item, LinkTest) and item.skew_seconds is not None:
                changes.skews[device.id] = item.skew_seconds
        if isinstance(item, LinkTest):
            continue
        position[index] = len(planned)
        planned.append(_classify(taxonomy, item, device))
        if device is None or device.id not in supervised or not _is_link_lost(item):
            continue
        if lost[device.id] is not None:
            continue  # lost already (a second watch): the signal repeats the alarm
        heard = _last_heard(supervised[device.id], changes.seen.get(device.id))
        if (
            supervision_deadline(replace(supervised[device.id], last_seen_at=heard))
            < item.received_at
        ):
            lost[device.id] = item.received_at
        else:
            restore(device, max(item.received_at, heard or item.received_at))
    changes.link_lost = {
        device_id: at for device_id, at in lost.items() if at != supervised[device_id].link_lost_at
    }
    return planned, position, changes


def _is_link_lost(signal: Signal) -> bool:
    return (
        signal.source is SignalSource.SUPERVISION
        and signal.code == _LINK_LOST_CODE
        and not signal.restore
    )


def _last_heard(device: SupervisedDevice, seen_in_batch: datetime | None) -> datetime | None:
    candidates = [at for at in (device.last_seen_at, seen_in_batch) if at is not None]
    return max(candidates, default=None)


def _classify(taxonomy: Taxonomy, signal: Signal, device: Device | None) -> _Planned:
    classification = classify_signal(taxonomy, signal, device)
    return _Planned(
        signal=signal,
        device=device,
        classification=classification,
        key=correlation_key(signal, classification),
    )


def _correlate(
    planned: Sequence[_Planned],
    open_alarms: Mapping[CorrelationKey, Alarm],
    meter: FloodMeter | None,
) -> list[_AlarmChange]:
    """Correlate the signals in order; return the alarms changed, in order of first change."""
    current: dict[CorrelationKey, _AlarmChange | None] = {
        key: _AlarmChange(key=key, alarm=alarm, read_version=alarm.version)
        for key, alarm in open_alarms.items()
    }
    # A flood target may also be open under a key of the batch: both must be one change.
    by_id = {c.alarm.id: c for c in current.values() if c is not None}
    newest: dict[str, _AlarmChange] = {
        device: by_id.get(alarm.id)
        or _AlarmChange(key=key, alarm=alarm, read_version=alarm.version)
        for device, (key, alarm) in ({} if meter is None else meter.newest).items()
    }
    changed: dict[_AlarmChange, None] = {}
    for entry in planned:
        change = current.get(entry.key)
        flooding = meter is not None and meter.count(entry.signal)
        target = newest.get(entry.key.device) if flooding else None
        correlation = correlate(
            entry.signal,
            entry.classification,
            None if change is None else change.alarm,
            device=entry.device,
            flood=None if target is None else target.alarm,
        )
        if correlation.alarm is None:
            continue
        if target is not None and correlation.effect is Effect.FLOODED:
            change = target  # the signal's own key still has no open alarm
        else:
            if change is None:
                change = _AlarmChange(key=entry.key, alarm=correlation.alarm, read_version=None)
                newest[entry.key.device] = change
            current[entry.key] = change if correlation.alarm.is_open else None
        change.alarm = correlation.alarm
        changed[change] = None
        entry.change = change
        entry.timeline = correlation.timeline
    return list(changed)


# -- phase 3: write ------------------------------------------------------------------------


async def _insert_alarms(connection: AsyncConnection, opened: Sequence[_AlarmChange]) -> None:
    if not opened:
        return
    ids = await _insert_returning_ids(
        connection, alarms, [alarm_values(c.alarm, key_device=c.key.device) for c in opened]
    )
    for change, alarm_id in zip(opened, ids, strict=True):
        change.alarm = replace(change.alarm, id=alarm_id)


async def _update_alarms(connection: AsyncConnection, changed: Sequence[_AlarmChange]) -> None:
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
    connection: AsyncConnection, planned: Sequence[_Planned]
) -> list[SignalRecord]:
    if not planned:
        return []
    rows = [
        signal_values(
            p.signal,
            alarm_id=p.alarm_id,
            device_id=None if p.device is None else p.device.id,
            type_code=p.classification.alarm_type.code,
        )
        for p in planned
    ]
    ids = await _insert_returning_ids(connection, signals, rows)
    return [
        SignalRecord(
            id=signal_id,
            alarm_id=p.alarm_id,
            type_code=p.classification.alarm_type.code,
            signal=p.signal,
        )
        for p, signal_id in zip(planned, ids, strict=True)
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
    connection: AsyncConnection, planned: Sequence[_Planned], records: Sequence[SignalRecord]
) -> None:
    rows = [
        timeline_values(replace(p.timeline, signal_id=record.id), alarm_id=record.alarm_id)
        for p, record in zip(planned, records, strict=True)
        if p.timeline is not None and record.alarm_id is not None
    ]
    if rows:
        await connection.execute(alarm_timeline.insert(), rows)


async def _update_devices(connection: AsyncConnection, changes: _DeviceChanges) -> None:
    if changes.seen:
        await connection.execute(_MARK_SEEN, _rows_of(changes.seen, "b_at"))
    if changes.skews:
        await connection.execute(_SET_SKEW, _rows_of(changes.skews, "b_skew"))
    if changes.link_lost:
        await connection.execute(_SET_LINK_LOST, _rows_of(changes.link_lost, "b_lost"))


def _rows_of(values: Mapping[int, Any], name: str) -> list[dict[str, Any]]:
    return [{"b_id": device_id, name: value} for device_id, value in values.items()]

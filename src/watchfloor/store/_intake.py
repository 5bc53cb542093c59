"""The body of one group-commit transaction: store signals, correlate them, change alarms.

Theory of operation: the writer hands over the units of a batch in arrival order. Every
statement is a round trip (on SQLite, one through the driver's thread), so the batch is
applied in three phases whose number of statements does not grow with its size:

1. Read, set-based: the stored signals that a DC-09 signal of the batch may repeat (same
   dedupe key within ``RETRANSMISSION_WINDOW``), the registered devices the items name, and
   the open alarms under the batch's correlation keys (locked on PostgreSQL).
2. Plan, in memory and in arrival order, as if each item were stored before the next one is
   looked at: a retransmission resolves to the stored signal or to an earlier signal of the
   batch; every other signal is attributed to its device, classified and correlated with the
   open alarm under its key, so a later signal joins the alarm an earlier one opened. Each
   alarm the batch touches collects its changes and ends with its final state.
3. Write, one executemany per table: the alarms the batch opened, in their final state; the
   alarms it changed, guarded by the version read in 1; the signals; their timeline entries;
   the devices' last-seen time and clock skew.

A batch thus takes about ten statements, whatever its size (IN lists are cut at ``_CHUNK``
values). Everything runs on one connection inside one transaction. Nothing here commits or publishes:
the writer does both, in that order.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any, Final, TypeVar

from sqlalchemy import Table, and_, bindparam, func, literal_column, or_, select, tuple_, update
from sqlalchemy.ext.asyncio import AsyncConnection

from watchfloor.core.alarm_types import Classification, Taxonomy
from watchfloor.core.alarms import OPEN_STATES, Alarm, TimelineEntry
from watchfloor.core.correlation import CorrelationKey, classify_signal, correlate, correlation_key
from watchfloor.core.devices import Device, DeviceKind
from watchfloor.core.errors import ConflictError
from watchfloor.core.ports import AlarmEvent, AlarmEventKind
from watchfloor.core.signals import LinkTest, Signal, SignalRecord, SignalSource
from watchfloor.store._rows import (
    alarm_from_row,
    alarm_values,
    dedupe_key,
    device_from_row,
    select_devices,
    signal_record_from_row,
    signal_values,
    timeline_values,
)
from watchfloor.store.tables import UtcDateTime, alarm_timeline, alarms, devices, signals

__all__ = ["RETRANSMISSION_WINDOW", "BatchOutcome", "apply_batch"]

#: A DC-09 frame repeated within this time (same account, sequence number and content) is a
#: retransmission: acknowledged again, stored once (DESIGN: DC-09 behaviour).
RETRANSMISSION_WINDOW: Final = timedelta(minutes=5)

#: The device kind a source's signals are attributed to, looked up by name. Sources without
#: one (patrol, call, supervision) are looked up by name among all devices.
_KIND_OF_SOURCE: Final = {
    SignalSource.HIKVISION: DeviceKind.HIKVISION,
    SignalSource.ONVIF: DeviceKind.ONVIF,
    SignalSource.FRIGATE: DeviceKind.FRIGATE,
}

_OPEN_STATE_VALUES: Final = sorted(state.value for state in OPEN_STATES)

#: The identity of ``uq_alarms_open_key``, which the open-alarm read matches on.
_ALARM_KEY: Final = tuple_(
    alarms.c.key_device, alarms.c.type_code, func.coalesce(alarms.c.zone, literal_column("''"))
)

#: Most values in one IN list: three bound parameters each stay under 999, the smallest
#: limit SQLite was ever built with.
_CHUNK: Final = 300

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

_T = TypeVar("_T")

#: Where an item of the batch ends up: None for a link test, the record of a signal stored
#: before the batch (it is retransmitted), or the index of the batch's signal that is stored.
_Slot = SignalRecord | int | None


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
    connection: AsyncConnection, taxonomy: Taxonomy, units: Sequence[Sequence[Signal | LinkTest]]
) -> BatchOutcome:
    """Store the units' items on a connection inside an open transaction; do not commit.

    Args:
        connection: a connection inside a transaction that holds the write lock (SQLite).
        taxonomy: classifies the signals.
        units: the batch's units in arrival order, each a sequence of items.

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
    link_tests = [item for item in items if isinstance(item, LinkTest)]
    stored_before = await _read_stored_signals(
        connection, [item for item in items if isinstance(item, Signal)]
    )
    slots, fresh = _deduplicate(units, stored_before)
    known = await _read_devices(connection, [*fresh, *link_tests])
    planned = [_classify(taxonomy, signal, known) for signal in fresh]
    changes = _correlate(planned, await _read_open_alarms(connection, {p.key for p in planned}))
    await _insert_alarms(connection, [c for c in changes if c.read_version is None])
    await _update_alarms(connection, [c for c in changes if c.read_version is not None])
    records = await _insert_signals(connection, planned)
    await _insert_timeline(connection, planned, records)
    await _update_devices(connection, link_tests, planned, known)
    events = tuple(
        AlarmEvent(
            kind=AlarmEventKind.CREATED if c.read_version is None else AlarmEventKind.UPDATED,
            alarm=c.alarm,
        )
        for c in changes
    )
    return BatchOutcome(
        records=tuple(
            tuple(records[slot] if isinstance(slot, int) else slot for slot in unit_slots)
            for unit_slots in slots
        ),
        events=events,
    )


def _in_utc(item: Signal | LinkTest) -> Signal | LinkTest:
    return replace(item, received_at=item.received_at.astimezone(UTC))


def _chunks(values: Sequence[_T]) -> Iterator[Sequence[_T]]:
    for start in range(0, len(values), _CHUNK):
        yield values[start : start + _CHUNK]


# -- phase 1: read -------------------------------------------------------------------------


async def _read_stored_signals(
    connection: AsyncConnection, batch: Sequence[Signal]
) -> dict[str, list[SignalRecord]]:
    """Return the stored signals each dedupe key of the batch may repeat, newest first."""
    keyed = [(key, signal.received_at) for signal in batch if (key := dedupe_key(signal))]
    if not keyed:
        return {}
    # The window of every signal lies within this range; each signal's own is applied later.
    earliest = min(at for _, at in keyed) - RETRANSMISSION_WINDOW
    latest = max(at for _, at in keyed)
    found: dict[str, list[SignalRecord]] = {}
    for keys in _chunks(sorted({key for key, _ in keyed})):
        rows = await connection.execute(
            select(signals)
            .where(
                signals.c.dedupe_key.in_(keys),
                signals.c.received_at >= earliest,
                signals.c.received_at <= latest,
            )
            .order_by(signals.c.id.desc())
        )
        for row in rows:
            found.setdefault(row.dedupe_key, []).append(signal_record_from_row(row))
    return found


def _device_key(item: Signal | LinkTest) -> str:
    # A DC-09 device is registered under its account, which the signal also names as device.
    if isinstance(item, Signal) and item.account is not None:
        return item.account
    return item.device


async def _read_devices(
    connection: AsyncConnection, items: Sequence[Signal | LinkTest]
) -> dict[tuple[SignalSource, str], Device | None]:
    """Return the registered device (or None) of every (source, device key) of the items."""
    wanted = {(item.source, _device_key(item)) for item in items}
    accounts = sorted({key for source, key in wanted if source is SignalSource.DC09})
    names = sorted({key for source, key in wanted if source is not SignalSource.DC09})
    conditions = [
        *(
            and_(devices.c.kind == DeviceKind.DC09.value, devices.c.account.in_(chunk))
            for chunk in _chunks(accounts)
        ),
        *(devices.c.name.in_(chunk) for chunk in _chunks(names)),
    ]
    found: dict[int, Device] = {}
    for condition in conditions:
        for row in await connection.execute(select_devices().where(condition)):
            found[row.id] = device_from_row(row)
    # In id order: where several devices match (names are unique per kind only), the
    # oldest wins.
    by_key: dict[str, list[Device]] = {}
    for device in sorted(found.values(), key=lambda device: device.id):
        for key in (device.name, device.account):
            if key is not None:
                by_key.setdefault(key, []).append(device)
    return {
        (source, key): next((d for d in by_key.get(key, ()) if _is_named(d, source, key)), None)
        for source, key in wanted
    }


def _is_named(device: Device, source: SignalSource, key: str) -> bool:
    if source is SignalSource.DC09:
        return device.kind is DeviceKind.DC09 and device.account == key
    kind = _KIND_OF_SOURCE.get(source)
    return device.name == key and (kind is None or device.kind is kind)


async def _read_open_alarms(
    connection: AsyncConnection, keys: set[CorrelationKey]
) -> dict[CorrelationKey, Alarm]:
    """Return the open alarm under each key that has one, locking it (PostgreSQL)."""
    found: dict[CorrelationKey, Alarm] = {}
    # The index folds a NULL zone into '', so the keys are matched exactly below.
    for chunk in _chunks(list(keys)):
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
) -> tuple[list[list[_Slot]], list[Signal]]:
    """Return each item's slot and the signals to store, resolving retransmissions."""
    fresh: list[Signal] = []
    fresh_by_key: dict[str, list[int]] = {}
    slots: list[list[_Slot]] = []
    for unit in units:
        unit_slots: list[_Slot] = []
        for item in unit:
            if isinstance(item, LinkTest):
                unit_slots.append(None)
                continue
            key = dedupe_key(item)
            slot = (
                None
                if key is None
                else _repeated(item, fresh, fresh_by_key.get(key, []), stored_before.get(key, []))
            )
            if slot is None:
                slot = len(fresh)
                fresh.append(item)
                if key is not None:
                    fresh_by_key.setdefault(key, []).append(slot)
            unit_slots.append(slot)
        slots.append(unit_slots)
    return slots, fresh


def _repeated(
    signal: Signal, fresh: list[Signal], same_in_batch: list[int], same_stored: list[SignalRecord]
) -> SignalRecord | int | None:
    """Return what the signal retransmits: a signal of the batch, a stored one, or None.

    The newest match wins (the one with the highest id); the batch's signals are newer than
    any stored one.
    """
    earliest = signal.received_at - RETRANSMISSION_WINDOW
    for index in reversed(same_in_batch):
        if earliest <= fresh[index].received_at <= signal.received_at:
            return index
    for record in same_stored:
        if earliest <= record.signal.received_at <= signal.received_at:
            return record
    return None


def _classify(
    taxonomy: Taxonomy, signal: Signal, known: Mapping[tuple[SignalSource, str], Device | None]
) -> _Planned:
    device = known[(signal.source, _device_key(signal))]
    classification = classify_signal(taxonomy, signal, device)
    return _Planned(
        signal=signal,
        device=device,
        classification=classification,
        key=correlation_key(signal, classification),
    )


def _correlate(
    planned: Sequence[_Planned], open_alarms: Mapping[CorrelationKey, Alarm]
) -> list[_AlarmChange]:
    """Correlate the signals in order; return the alarms changed, in order of first change."""
    current: dict[CorrelationKey, _AlarmChange | None] = {
        key: _AlarmChange(key=key, alarm=alarm, read_version=alarm.version)
        for key, alarm in open_alarms.items()
    }
    changed: dict[_AlarmChange, None] = {}
    for entry in planned:
        change = current.get(entry.key)
        correlation = correlate(
            entry.signal,
            entry.classification,
            None if change is None else change.alarm,
            device=entry.device,
        )
        if correlation.alarm is None:
            continue
        if change is None:
            change = _AlarmChange(key=entry.key, alarm=correlation.alarm, read_version=None)
        change.alarm = correlation.alarm
        changed[change] = None
        current[entry.key] = change if change.alarm.is_open else None
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
        for chunk in _chunks([(c.alarm.id, c.alarm.version) for c in changed]):
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


async def _update_devices(
    connection: AsyncConnection,
    link_tests: Sequence[LinkTest],
    planned: Sequence[_Planned],
    known: Mapping[tuple[SignalSource, str], Device | None],
) -> None:
    seen: dict[int, datetime] = {}
    skews: dict[int, float] = {}
    sightings = [(p.device, p.signal.received_at) for p in planned]
    for test in link_tests:
        device = known[(test.source, _device_key(test))]
        sightings.append((device, test.received_at))
        if device is not None and test.skew_seconds is not None:
            skews[device.id] = test.skew_seconds
    for device, at in sightings:
        if device is not None:
            seen[device.id] = max(at, seen.get(device.id, at))
    if seen:
        await connection.execute(_MARK_SEEN, _rows_of(seen, "b_at"))
    if skews:
        await connection.execute(_SET_SKEW, _rows_of(skews, "b_skew"))


def _rows_of(values: Mapping[int, Any], name: str) -> list[dict[str, Any]]:
    return [{"b_id": device_id, name: value} for device_id, value in values.items()]

"""The body of one group-commit transaction: store signals, correlate them, change alarms.

Theory of operation: the writer hands over the units of a batch in arrival order; each signal
is checked for a DC-09 retransmission, attributed to its registered device (if any),
classified, correlated with the open alarm under its key, and stored with the alarm change
and timeline entry it causes. Everything runs on one connection inside one transaction,
which sees its own inserts, so a later signal of the batch joins an alarm opened by an
earlier one. Nothing here commits or publishes: the writer does both, in that order.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Final

from sqlalchemy import or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from watchfloor.core.alarm_types import Taxonomy
from watchfloor.core.alarms import OPEN_STATES, Alarm
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
from watchfloor.store.tables import alarm_timeline, alarms, devices, signals

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


@dataclass(frozen=True, slots=True, kw_only=True)
class BatchOutcome:
    """What a batch stored: one tuple of records per unit, and the alarm changes to publish.

    ``events`` holds one event per alarm the batch changed, with the alarm's final state:
    ``alarm.created`` if the batch opened it, else ``alarm.updated``; in order of first change.
    """

    records: tuple[tuple[SignalRecord | None, ...], ...]
    events: tuple[AlarmEvent, ...]


@dataclass(slots=True)
class _Batch:
    """Per-transaction caches and the changes to apply and publish at its end."""

    connection: AsyncConnection
    taxonomy: Taxonomy
    devices: dict[tuple[str, str], Device | None] = field(default_factory=dict)
    open_alarms: dict[CorrelationKey, Alarm | None] = field(default_factory=dict)
    changed: dict[int, Alarm] = field(default_factory=dict)
    created: set[int] = field(default_factory=set)
    seen: dict[int, datetime] = field(default_factory=dict)
    skews: dict[int, float] = field(default_factory=dict)


async def apply_batch(
    connection: AsyncConnection, taxonomy: Taxonomy, units: Sequence[Sequence[Signal | LinkTest]]
) -> BatchOutcome:
    """Store the units' items on a connection inside an open transaction; do not commit.

    Raises:
        ConflictError: an alarm changed under us (stale version); the caller rolls back.
        sqlalchemy.exc.DBAPIError, OSError: the database failed; the caller rolls back.
    """
    batch = _Batch(connection=connection, taxonomy=taxonomy)
    records: list[tuple[SignalRecord | None, ...]] = []
    for unit in units:
        unit_records: list[SignalRecord | None] = []
        for item in unit:
            if isinstance(item, LinkTest):
                await _note_link_test(batch, item)
                unit_records.append(None)
            else:
                unit_records.append(await _store_signal(batch, item))
        records.append(tuple(unit_records))
    await _update_devices(batch)
    events = tuple(
        AlarmEvent(
            kind=AlarmEventKind.CREATED if alarm_id in batch.created else AlarmEventKind.UPDATED,
            alarm=alarm,
        )
        for alarm_id, alarm in batch.changed.items()
    )
    return BatchOutcome(records=tuple(records), events=events)


async def _store_signal(batch: _Batch, signal: Signal) -> SignalRecord:
    signal = replace(signal, received_at=signal.received_at.astimezone(UTC))
    retransmitted = await _find_retransmission(batch, signal)
    if retransmitted is not None:
        return retransmitted
    device = await _find_device(batch, signal.source, _device_key(signal))
    classification = classify_signal(batch.taxonomy, signal, device)
    key = correlation_key(signal, classification)
    open_alarm = await _find_open_alarm(batch, key)
    correlation = correlate(signal, classification, open_alarm, device=device)
    alarm_id: int | None = None
    if correlation.alarm is not None:
        alarm = await _save_alarm(batch, key, correlation.alarm, previous=open_alarm)
        alarm_id = alarm.id
    type_code = classification.alarm_type.code
    result = await batch.connection.execute(
        signals.insert().values(
            signal_values(
                signal,
                alarm_id=alarm_id,
                device_id=device.id if device is not None else None,
                type_code=type_code,
            )
        )
    )
    signal_id: int = result.inserted_primary_key[0]  # type: ignore[index]
    if correlation.timeline is not None and alarm_id is not None:
        entry = replace(correlation.timeline, signal_id=signal_id)
        await batch.connection.execute(
            alarm_timeline.insert().values(timeline_values(entry, alarm_id=alarm_id))
        )
    if device is not None:
        _saw(batch, device.id, signal.received_at)
    return SignalRecord(id=signal_id, alarm_id=alarm_id, type_code=type_code, signal=signal)


async def _find_retransmission(batch: _Batch, signal: Signal) -> SignalRecord | None:
    key = dedupe_key(signal)
    if key is None:
        return None
    row = (
        await batch.connection.execute(
            select(signals)
            .where(
                signals.c.dedupe_key == key,
                signals.c.received_at >= signal.received_at - RETRANSMISSION_WINDOW,
                signals.c.received_at <= signal.received_at,
            )
            .order_by(signals.c.id.desc())
            .limit(1)
        )
    ).first()
    return None if row is None else signal_record_from_row(row)


def _device_key(item: Signal | LinkTest) -> str:
    # A DC-09 device is registered under its account, which the signal also names as device.
    if isinstance(item, Signal) and item.account is not None:
        return item.account
    return item.device


async def _find_device(batch: _Batch, source: SignalSource, key: str) -> Device | None:
    cache_key = (source.value, key)
    if cache_key in batch.devices:
        return batch.devices[cache_key]
    query = select_devices().order_by(devices.c.id).limit(1)
    if source is SignalSource.DC09:
        query = query.where(devices.c.kind == DeviceKind.DC09.value, devices.c.account == key)
    elif (kind := _KIND_OF_SOURCE.get(source)) is not None:
        query = query.where(devices.c.kind == kind.value, devices.c.name == key)
    else:
        query = query.where(devices.c.name == key)
    row = (await batch.connection.execute(query)).first()
    device = None if row is None else device_from_row(row)
    batch.devices[cache_key] = device
    return device


async def _find_open_alarm(batch: _Batch, key: CorrelationKey) -> Alarm | None:
    if key in batch.open_alarms:
        return batch.open_alarms[key]
    zone = alarms.c.zone.is_(None) if key.zone is None else alarms.c.zone == key.zone
    query = (
        select(alarms)
        .where(
            alarms.c.key_device == key.device,
            alarms.c.type_code == key.type_code,
            zone,
            alarms.c.state.in_(_OPEN_STATE_VALUES),
        )
        .order_by(alarms.c.id.desc())
        .limit(1)
        # PostgreSQL: an operator's concurrent change waits for our commit (or we for
        # theirs, and then see it), instead of failing the batch on a stale version.
        # SQLite ignores it; BEGIN IMMEDIATE already excludes every other writer.
        .with_for_update()
    )
    row = (await batch.connection.execute(query)).first()
    alarm = None if row is None else alarm_from_row(row)
    batch.open_alarms[key] = alarm
    return alarm


async def _save_alarm(
    batch: _Batch, key: CorrelationKey, alarm: Alarm, *, previous: Alarm | None
) -> Alarm:
    values = alarm_values(alarm, key_device=key.device)
    if previous is None:
        result = await batch.connection.execute(alarms.insert().values(values))
        alarm = replace(alarm, id=result.inserted_primary_key[0])  # type: ignore[index]
        batch.created.add(alarm.id)
    else:
        result = await batch.connection.execute(
            update(alarms)
            .where(alarms.c.id == alarm.id, alarms.c.version == previous.version)
            .values(values)
        )
        if result.rowcount != 1:
            raise ConflictError(f"alarm {alarm.id} changed while signals were joining it")
    batch.open_alarms[key] = alarm if alarm.is_open else None
    batch.changed[alarm.id] = alarm
    return alarm


async def _note_link_test(batch: _Batch, link_test: LinkTest) -> None:
    device = await _find_device(batch, link_test.source, _device_key(link_test))
    if device is None:
        return
    _saw(batch, device.id, link_test.received_at.astimezone(UTC))
    if link_test.skew_seconds is not None:
        batch.skews[device.id] = link_test.skew_seconds


def _saw(batch: _Batch, device_id: int, at: datetime) -> None:
    batch.seen[device_id] = max(at, batch.seen.get(device_id, at))


async def _update_devices(batch: _Batch) -> None:
    for device_id, at in batch.seen.items():
        # Never move last_seen_at backwards (a late batch of older signals).
        await batch.connection.execute(
            update(devices)
            .where(
                devices.c.id == device_id,
                or_(devices.c.last_seen_at.is_(None), devices.c.last_seen_at < at),
            )
            .values(last_seen_at=at)
        )
    for device_id, skew in batch.skews.items():
        await batch.connection.execute(
            update(devices).where(devices.c.id == device_id).values(clock_skew_seconds=skew)
        )

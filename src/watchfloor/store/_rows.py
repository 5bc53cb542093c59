"""Mapping between table rows and core values (the only place that knows both shapes)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any, Final, TypeVar

from sqlalchemy import Row, Select, func, select

from watchfloor.core.alarm_types import CodeSystem, SourceCode
from watchfloor.core.alarms import Alarm, AlarmState, Outcome, TimelineEntry, TimelineKind
from watchfloor.core.devices import Device, DeviceKind
from watchfloor.core.mapping_overrides import parse_overrides
from watchfloor.core.retransmission import dedupe_key
from watchfloor.core.signals import Origin, Signal, SignalRecord, SignalSource
from watchfloor.core.sites import CallAttempt, CallOutcome
from watchfloor.core.statistics import AlarmFact
from watchfloor.core.supervision import DEFAULT_GRACE, SupervisedDevice
from watchfloor.store.tables import alarms, camera_devices, devices, dispatches, sites

__all__ = [
    "CHUNK",
    "alarm_fact_from_row",
    "alarm_from_row",
    "alarm_update_values",
    "alarm_values",
    "call_from_row",
    "call_values",
    "chunks",
    "device_from_row",
    "select_alarm_facts",
    "select_devices",
    "signal_record_from_row",
    "signal_values",
    "supervised_from_row",
    "timeline_from_row",
    "timeline_values",
    "token_hash",
]

#: Most values in one IN list: three bound parameters each stay under 999, the smallest
#: limit SQLite was ever built with.
CHUNK: Final = 300

_T = TypeVar("_T")


def chunks(values: Sequence[_T]) -> Iterator[Sequence[_T]]:
    """Return the values in slices of at most ``CHUNK``, for IN lists."""
    for start in range(0, len(values), CHUNK):
        yield values[start : start + CHUNK]


def token_hash(token: str) -> str:
    """Return the sha256 hex under which an API token is stored."""
    return hashlib.sha256(token.encode()).hexdigest()


def alarm_values(alarm: Alarm, *, key_device: str) -> dict[str, Any]:
    """Return the column values of an alarm (without its id)."""
    return {**alarm_update_values(alarm), "key_device": key_device}


def alarm_update_values(alarm: Alarm) -> dict[str, Any]:
    """Return the column values of an alarm but its id and correlation key (``key_device``)."""
    return {
        "origin": alarm.origin.value,
        "type_code": alarm.type_code,
        "type_name": alarm.type_name,
        "category": alarm.category,
        "priority": alarm.priority,
        "state": alarm.state.value,
        "site": alarm.site,
        "device": alarm.device,
        "zone": alarm.zone,
        "zone_name": alarm.zone_name,
        "signal_count": alarm.signal_count,
        "first_at": alarm.first_at,
        "last_at": alarm.last_at,
        "restored_at": alarm.restored_at,
        "acknowledged_at": alarm.acknowledged_at,
        "dispatched_at": alarm.dispatched_at,
        "resolved_at": alarm.resolved_at,
        "closed_at": alarm.closed_at,
        "outcome": alarm.outcome.value if alarm.outcome is not None else None,
        "held_from": alarm.held_from.value if alarm.held_from is not None else None,
        "claimed_by": alarm.claimed_by,
        "acknowledged_by": alarm.acknowledged_by,
        "resolved_by": alarm.resolved_by,
        "ack_deadline": alarm.ack_deadline,
        "escalation_count": alarm.escalation_count,
        "escalation_level": alarm.escalation_level,
        "sop_done": json.dumps(sorted(alarm.sop_done)),
        "flooded": alarm.flooded,
        "version": alarm.version,
    }


def alarm_from_row(row: Row[Any]) -> Alarm:
    """Return the alarm stored in a row of ``alarms``."""
    m = row._mapping
    return Alarm(
        id=m["id"],
        origin=Origin(m["origin"]),
        type_code=m["type_code"],
        type_name=m["type_name"],
        category=m["category"],
        priority=m["priority"],
        state=AlarmState(m["state"]),
        site=m["site"],
        device=m["device"],
        zone=m["zone"],
        zone_name=m["zone_name"],
        signal_count=m["signal_count"],
        first_at=m["first_at"],
        last_at=m["last_at"],
        restored_at=m["restored_at"],
        acknowledged_at=m["acknowledged_at"],
        dispatched_at=m["dispatched_at"],
        resolved_at=m["resolved_at"],
        closed_at=m["closed_at"],
        outcome=Outcome(m["outcome"]) if m["outcome"] is not None else None,
        held_from=AlarmState(m["held_from"]) if m["held_from"] is not None else None,
        claimed_by=m["claimed_by"],
        acknowledged_by=m["acknowledged_by"],
        resolved_by=m["resolved_by"],
        ack_deadline=m["ack_deadline"],
        escalation_count=m["escalation_count"],
        escalation_level=m["escalation_level"],
        sop_done=frozenset(int(index) for index in json.loads(m["sop_done"])),
        flooded=bool(m["flooded"]),
        version=m["version"],
    )


def select_alarm_facts(*, start: datetime, end: datetime) -> Select[Any]:
    """Return a SELECT of the facts of alarms first raised in [start, end), oldest first."""
    return (
        select(
            alarms.c.id,
            alarms.c.type_code,
            alarms.c.type_name,
            alarms.c.site,
            alarms.c.priority,
            alarms.c.first_at,
            alarms.c.acknowledged_at,
            alarms.c.acknowledged_by,
            alarms.c.dispatched_at,
            alarms.c.resolved_at,
            alarms.c.resolved_by,
            alarms.c.outcome,
            alarms.c.escalation_count,
            select(func.min(dispatches.c.on_scene_at))
            .where(dispatches.c.alarm_id == alarms.c.id)
            .scalar_subquery()
            .label("arrived_at"),
        )
        .where(alarms.c.first_at >= start, alarms.c.first_at < end)
        .order_by(alarms.c.first_at, alarms.c.id)
    )


def alarm_fact_from_row(row: Row[Any]) -> AlarmFact:
    """Return the fact in a row of ``select_alarm_facts``."""
    m = row._mapping
    return AlarmFact(
        id=m["id"],
        type_code=m["type_code"],
        type_name=m["type_name"],
        site=m["site"],
        priority=m["priority"],
        first_at=m["first_at"],
        acknowledged_at=m["acknowledged_at"],
        acknowledged_by=m["acknowledged_by"],
        dispatched_at=m["dispatched_at"],
        resolved_at=m["resolved_at"],
        resolved_by=m["resolved_by"],
        outcome=Outcome(m["outcome"]) if m["outcome"] is not None else None,
        escalation_count=m["escalation_count"],
        arrived_at=m["arrived_at"],
    )


def signal_values(
    signal: Signal, *, alarm_id: int | None, device_id: int | None, type_code: int
) -> dict[str, Any]:
    """Return the column values of a signal (without its id)."""
    return {
        "alarm_id": alarm_id,
        "device_id": device_id,
        "device": signal.device,
        "source": signal.source.value,
        "received_at": signal.received_at,
        "code_system": signal.code.system.value,
        "code": signal.code.code,
        "zone": signal.zone,
        "partition": signal.partition,
        "restore": signal.restore,
        "text": signal.text,
        "raw": signal.raw,
        "peer": signal.peer,
        "account": signal.account,
        "seq": signal.seq,
        "token": signal.token,
        "ext": json.dumps(list(signal.ext)),
        "type_code": type_code,
        "dedupe_key": dedupe_key(signal),
    }


def signal_record_from_row(row: Row[Any]) -> SignalRecord:
    """Return the record stored in a row of ``signals``."""
    m = row._mapping
    signal = Signal(
        source=SignalSource(m["source"]),
        received_at=m["received_at"],
        device=m["device"],
        code=SourceCode(system=CodeSystem(m["code_system"]), code=m["code"]),
        zone=m["zone"],
        partition=m["partition"],
        restore=m["restore"],
        text=m["text"],
        raw=m["raw"],
        peer=m["peer"],
        account=m["account"],
        seq=m["seq"],
        token=m["token"],
        ext=tuple(json.loads(m["ext"])),
    )
    return SignalRecord(
        id=m["id"],
        alarm_id=m["alarm_id"],
        type_code=m["type_code"],
        signal=signal,
        zone_name=m.get("zone_name"),
    )


def call_values(call: CallAttempt, *, alarm_id: int) -> dict[str, Any]:
    """Return the column values of a call to a contact made on an alarm."""
    return {
        "alarm_id": alarm_id,
        "contact_id": call.contact_id,
        "phone_label": call.phone_label,
        "outcome": call.outcome.value,
        "at": call.at,
        "actor": call.actor,
    }


def call_from_row(row: Row[Any]) -> CallAttempt:
    """Return the call stored in a row of ``call_attempts``."""
    m = row._mapping
    return CallAttempt(
        contact_id=m["contact_id"],
        outcome=CallOutcome(m["outcome"]),
        at=m["at"],
        actor=m["actor"],
        phone_label=m["phone_label"],
    )


def timeline_values(entry: TimelineEntry, *, alarm_id: int) -> dict[str, Any]:
    """Return the column values of a timeline entry."""
    return {
        "alarm_id": alarm_id,
        "at": entry.at,
        "kind": entry.kind.value,
        "actor": entry.actor,
        "detail": entry.detail,
        "signal_id": entry.signal_id,
    }


def timeline_from_row(row: Row[Any]) -> TimelineEntry:
    """Return the entry stored in a row of ``alarm_timeline``."""
    m = row._mapping
    return TimelineEntry(
        at=m["at"],
        kind=TimelineKind(m["kind"]),
        actor=m["actor"],
        detail=m["detail"],
        signal_id=m["signal_id"],
    )


def select_devices() -> Select[Any]:
    """Return a SELECT of devices with their site's name, for ``device_from_row``."""
    return select(
        devices.c.id,
        devices.c.kind,
        devices.c.name,
        sites.c.name.label("site_name"),
        devices.c.account,
        (devices.c.aes_key.is_not(None)).label("has_key"),
        devices.c.enabled,
        devices.c.created_at,
        devices.c.last_seen_at,
        devices.c.clock_skew_seconds,
        devices.c.supervision_interval_seconds,
        devices.c.supervision_grace_seconds,
        devices.c.supervision_since,
        devices.c.link_lost_at,
        devices.c.on_test_until,
        sites.c.on_test_until.label("site_on_test_until"),
        camera_devices.c.zone,
        camera_devices.c.mapping_overrides,
    ).select_from(
        devices.outerjoin(sites, devices.c.site_id == sites.c.id).outerjoin(
            camera_devices, camera_devices.c.device_id == devices.c.id
        )
    )


def device_from_row(row: Row[Any] | Mapping[str, Any]) -> Device:
    """Return the device in a row of ``select_devices()``."""
    m = row._mapping if isinstance(row, Row) else row
    return Device(
        id=m["id"],
        kind=DeviceKind(m["kind"]),
        name=m["name"],
        site=m["site_name"],
        account=m["account"],
        has_key=bool(m["has_key"]),
        enabled=bool(m["enabled"]),
        created_at=m["created_at"],
        last_seen_at=m["last_seen_at"],
        clock_skew_seconds=m["clock_skew_seconds"],
        supervision_interval=_seconds(m["supervision_interval_seconds"]),
        supervision_grace=_seconds(m["supervision_grace_seconds"]),
        link_lost_at=m["link_lost_at"],
        # The device is on test while either it or its whole site is.
        on_test_until=_latest(m["on_test_until"], m["site_on_test_until"]),
        zone=m["zone"],
        overrides=(
            None
            if m["mapping_overrides"] is None
            else parse_overrides(json.loads(m["mapping_overrides"]), known_types=None)
        ),
    )


def supervised_from_row(row: Row[Any] | Mapping[str, Any]) -> SupervisedDevice | None:
    """Return what supervision knows of the device in a row of ``select_devices()``.

    None for a device without a supervision interval. The key is the identity the device's
    signals carry: a DC-09 device's account, any other device's name.
    """
    m = row._mapping if isinstance(row, Row) else row
    interval = _seconds(m["supervision_interval_seconds"])
    if interval is None:
        return None
    account = m["account"] if m["kind"] == DeviceKind.DC09.value else None
    since: datetime = m["supervision_since"] or m["created_at"]
    grace = _seconds(m["supervision_grace_seconds"])
    return SupervisedDevice(
        key=account if account is not None else m["name"],
        account=account,
        interval=interval,
        grace=DEFAULT_GRACE if grace is None else grace,
        since=since,
        last_seen_at=m["last_seen_at"],
        link_lost_at=m["link_lost_at"],
    )


def _latest(*values: datetime | None) -> datetime | None:
    return max((value for value in values if value is not None), default=None)


def _seconds(value: float | None) -> timedelta | None:
    return None if value is None else timedelta(seconds=value)

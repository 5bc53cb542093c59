"""Mapping between table rows and core values (the only place that knows both shapes)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any

from sqlalchemy import Row, Select, select

from watchfloor.core.alarm_types import CodeSystem, SourceCode
from watchfloor.core.alarms import Alarm, AlarmState, Outcome, TimelineEntry, TimelineKind
from watchfloor.core.devices import Device, DeviceKind
from watchfloor.core.signals import Origin, Signal, SignalRecord, SignalSource
from watchfloor.store.tables import devices, sites

__all__ = [
    "alarm_from_row",
    "alarm_values",
    "dedupe_key",
    "device_from_row",
    "select_devices",
    "signal_record_from_row",
    "signal_values",
    "timeline_from_row",
    "timeline_values",
    "token_hash",
]


def token_hash(token: str) -> str:
    """Return the sha256 hex under which an API token is stored."""
    return hashlib.sha256(token.encode()).hexdigest()


def dedupe_key(signal: Signal) -> str | None:
    """Return the retransmission key of a DC-09 signal (None for other sources).

    DC-09 rule: a repeat has the same account, sequence number and content.
    """
    if signal.source is not SignalSource.DC09:
        return None
    material = f"{signal.account or ''}|{signal.seq or ''}|{signal.raw}"
    return hashlib.sha256(material.encode()).hexdigest()


def alarm_values(alarm: Alarm, *, key_device: str) -> dict[str, Any]:
    """Return the column values of an alarm (without its id)."""
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
        "key_device": key_device,
        "signal_count": alarm.signal_count,
        "first_at": alarm.first_at,
        "last_at": alarm.last_at,
        "restored_at": alarm.restored_at,
        "acknowledged_at": alarm.acknowledged_at,
        "resolved_at": alarm.resolved_at,
        "outcome": alarm.outcome.value if alarm.outcome is not None else None,
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
        signal_count=m["signal_count"],
        first_at=m["first_at"],
        last_at=m["last_at"],
        restored_at=m["restored_at"],
        acknowledged_at=m["acknowledged_at"],
        resolved_at=m["resolved_at"],
        outcome=Outcome(m["outcome"]) if m["outcome"] is not None else None,
        version=m["version"],
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
    return SignalRecord(id=m["id"], alarm_id=m["alarm_id"], type_code=m["type_code"], signal=signal)


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
    ).select_from(devices.outerjoin(sites, devices.c.site_id == sites.c.id))


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
    )

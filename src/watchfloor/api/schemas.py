"""The JSON shapes of the API (pydantic models) and their construction from core values."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from watchfloor.core.alarms import Alarm, TimelineEntry
from watchfloor.core.devices import Device
from watchfloor.core.ports import AlarmDetail, AlarmEvent
from watchfloor.core.signals import SignalRecord

__all__ = [
    "AccountIn",
    "AccountOut",
    "AlarmDetailOut",
    "AlarmList",
    "AlarmOut",
    "SignalList",
    "SignalOut",
    "StreamMessage",
    "TimelineOut",
]


class AlarmOut(BaseModel):
    """An alarm as operators see it."""

    id: int
    origin: str
    type_code: int
    type_name: str
    category: str
    priority: int
    state: str
    site: str | None
    device: str
    zone: str | None
    signal_count: int
    first_at: datetime
    last_at: datetime
    restored_at: datetime | None
    acknowledged_at: datetime | None
    resolved_at: datetime | None
    outcome: str | None
    version: int

    @classmethod
    def of(cls, alarm: Alarm) -> AlarmOut:
        """Build from a core alarm."""
        return cls(
            id=alarm.id,
            origin=alarm.origin,
            type_code=alarm.type_code,
            type_name=alarm.type_name,
            category=alarm.category,
            priority=alarm.priority,
            state=alarm.state,
            site=alarm.site,
            device=alarm.device,
            zone=alarm.zone,
            signal_count=alarm.signal_count,
            first_at=alarm.first_at,
            last_at=alarm.last_at,
            restored_at=alarm.restored_at,
            acknowledged_at=alarm.acknowledged_at,
            resolved_at=alarm.resolved_at,
            outcome=alarm.outcome,
            version=alarm.version,
        )


class SignalOut(BaseModel):
    """A signal as received, with its classification."""

    id: int
    alarm_id: int | None
    type_code: int
    received_at: datetime
    source: str
    device: str
    code: str
    code_system: str
    zone: str | None
    partition: str | None
    restore: bool
    text: str | None
    raw: str
    peer: str | None
    account: str | None
    seq: str | None
    token: str | None
    ext: list[str]

    @classmethod
    def of(cls, record: SignalRecord) -> SignalOut:
        """Build from a stored signal."""
        signal = record.signal
        return cls(
            id=record.id,
            alarm_id=record.alarm_id,
            type_code=record.type_code,
            received_at=signal.received_at,
            source=signal.source,
            device=signal.device,
            code=signal.code.code,
            code_system=signal.code.system,
            zone=signal.zone,
            partition=signal.partition,
            restore=signal.restore,
            text=signal.text,
            raw=signal.raw,
            peer=signal.peer,
            account=signal.account,
            seq=signal.seq,
            token=signal.token,
            ext=list(signal.ext),
        )


class TimelineOut(BaseModel):
    """One line of an alarm's timeline."""

    at: datetime
    kind: str
    actor: str
    detail: str
    signal_id: int | None

    @classmethod
    def of(cls, entry: TimelineEntry) -> TimelineOut:
        """Build from a core timeline entry."""
        return cls(
            at=entry.at,
            kind=entry.kind,
            actor=entry.actor,
            detail=entry.detail,
            signal_id=entry.signal_id,
        )


class AlarmDetailOut(AlarmOut):
    """An alarm with its signals and timeline, oldest first."""

    signals: list[SignalOut]
    timeline: list[TimelineOut]

    @classmethod
    def of_detail(cls, detail: AlarmDetail) -> AlarmDetailOut:
        """Build from a core alarm detail."""
        return cls(
            **AlarmOut.of(detail.alarm).model_dump(),
            signals=[SignalOut.of(s) for s in detail.signals],
            timeline=[TimelineOut.of(t) for t in detail.timeline],
        )


class AlarmList(BaseModel):
    """A page of alarms, newest first."""

    items: list[AlarmOut]


class SignalList(BaseModel):
    """A page of signals, newest first."""

    items: list[SignalOut]


_Account = Annotated[
    str, StringConstraints(strip_whitespace=True, to_upper=True, pattern=r"^[0-9A-Fa-f]{3,16}$")
]


class AccountIn(BaseModel):
    """A DC-09 transmitter to register. The key is write-only: it is never returned."""

    model_config = ConfigDict(extra="forbid")

    account: _Account = Field(description="DC-09 account: 3 to 16 hex digits")
    site: (
        Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
        | None
    ) = None
    name: (
        Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
        | None
    ) = None
    key: str | None = Field(default=None, description="AES key as 32, 48 or 64 hex digits")
    key_ascii: str | None = Field(default=None, description="AES key as 16, 24 or 32 characters")

    @model_validator(mode="after")
    def _one_key_form(self) -> AccountIn:
        if self.key is not None and self.key_ascii is not None:
            raise ValueError("give key or key_ascii, not both")
        return self


class AccountOut(BaseModel):
    """A registered DC-09 transmitter (without its key)."""

    id: int
    account: str | None
    name: str
    site: str | None
    has_key: bool
    enabled: bool
    created_at: datetime

    @classmethod
    def of(cls, device: Device) -> AccountOut:
        """Build from a core device."""
        return cls(
            id=device.id,
            account=device.account,
            name=device.name,
            site=device.site,
            has_key=device.has_key,
            enabled=device.enabled,
            created_at=device.created_at,
        )


class StreamMessage(BaseModel):
    """One message of the alarm stream."""

    event: str
    alarm: AlarmOut

    @classmethod
    def of(cls, event: AlarmEvent) -> StreamMessage:
        """Build from a committed alarm change."""
        return cls(event=event.kind, alarm=AlarmOut.of(event.alarm))

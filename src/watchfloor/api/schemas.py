"""The JSON shapes of the API (pydantic models) and their construction from core values."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    model_validator,
)

from watchfloor.api.params import AsciiKey, HexKey, Name, Note, TypeCode, UtcTime
from watchfloor.api.site_schemas import SiteRecordOut
from watchfloor.codecs.accounts import ACCOUNT_PATTERN
from watchfloor.core.alarm_types import AlarmType
from watchfloor.core.alarms import Alarm, AlarmAction, AlarmState, Outcome, TimelineEntry
from watchfloor.core.devices import Device
from watchfloor.core.ports import AlarmDetail, AlarmEvent
from watchfloor.core.signals import SignalRecord

__all__ = [
    "AccountChange",
    "AccountIn",
    "AccountList",
    "AccountOut",
    "ActionIn",
    "AlarmDetailOut",
    "AlarmList",
    "AlarmOut",
    "AlarmTypeList",
    "AlarmTypeOut",
    "BulkIn",
    "BulkOut",
    "ClaimIn",
    "NoteIn",
    "SignalList",
    "SignalOut",
    "StepIn",
    "StepOut",
    "StreamMessage",
    "TestPeriodIn",
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
    zone_name: str | None = Field(description="the zone's description (null: not described)")
    signal_count: int
    first_at: datetime
    last_at: datetime
    restored_at: datetime | None
    acknowledged_at: datetime | None
    acknowledged_by: str | None
    dispatched_at: datetime | None
    resolved_at: datetime | None
    resolved_by: str | None
    closed_at: datetime | None
    outcome: str | None
    held_from: str | None
    claimed_by: str | None
    ack_deadline: datetime | None = Field(
        description="when the alarm next climbs the escalation ladder unless acknowledged "
        "(null: never, or no level left)"
    )
    escalation_count: int = Field(description="how many levels of the escalation ladder were told")
    escalation_level: str | None = Field(
        description="the last level of the escalation ladder told (null: none), e.g. supervisor"
    )
    overdue: bool = Field(
        description="not acknowledged by its deadline: its escalation has begun; "
        "escalation never changes the priority"
    )
    sop_done: list[int] = Field(description="procedure steps done, numbered from 1")
    flooded: bool = Field(
        description="flood control folded signals of other alarms of the device into this one"
    )
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
            zone_name=alarm.zone_name,
            signal_count=alarm.signal_count,
            first_at=alarm.first_at,
            last_at=alarm.last_at,
            restored_at=alarm.restored_at,
            acknowledged_at=alarm.acknowledged_at,
            acknowledged_by=alarm.acknowledged_by,
            dispatched_at=alarm.dispatched_at,
            resolved_at=alarm.resolved_at,
            resolved_by=alarm.resolved_by,
            closed_at=alarm.closed_at,
            outcome=alarm.outcome,
            held_from=alarm.held_from,
            claimed_by=alarm.claimed_by,
            ack_deadline=alarm.ack_deadline,
            escalation_count=alarm.escalation_count,
            escalation_level=alarm.escalation_level,
            overdue=alarm.overdue,
            sop_done=sorted(index + 1 for index in alarm.sop_done),
            flooded=alarm.flooded,
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
    zone_name: str | None = Field(description="the zone's description (null: not described)")
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
            zone_name=record.zone_name,
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
    """An alarm with its signals and timeline, oldest first, and its procedure."""

    signals: list[SignalOut]
    timeline: list[TimelineOut]
    sop: list[StepOut]
    site_record: SiteRecordOut | None = Field(
        default=None, description="the alarm's site record (null: the site has none)"
    )

    @classmethod
    def of_detail(
        cls,
        detail: AlarmDetail,
        alarm_type: AlarmType | None,
        site_record: SiteRecordOut | None = None,
    ) -> AlarmDetailOut:
        """Build from a core alarm detail and the alarm's type (None: no longer in force)."""
        return cls(
            **AlarmOut.of(detail.alarm).model_dump(),
            signals=[SignalOut.of(s) for s in detail.signals],
            timeline=[TimelineOut.of(t) for t in detail.timeline],
            sop=AlarmTypeOut.of(alarm_type).sop if alarm_type is not None else [],
            site_record=site_record,
        )


class StepOut(BaseModel):
    """One step of a standard operating procedure."""

    step: int = Field(description="numbered from 1")
    text: str
    optional: bool


class AlarmTypeOut(BaseModel):
    """An alarm type in force, with its procedure and acknowledgement deadline."""

    code: int
    name: str
    category: str
    priority: int
    basis: str
    raises_alarm: bool
    ack_within_seconds: float | None
    sop: list[StepOut]

    @classmethod
    def of(cls, alarm_type: AlarmType) -> AlarmTypeOut:
        """Build from a core alarm type."""
        within = alarm_type.ack_within
        return cls(
            code=alarm_type.code,
            name=alarm_type.name,
            category=alarm_type.category,
            priority=alarm_type.priority,
            basis=alarm_type.basis,
            raises_alarm=alarm_type.raises_alarm,
            ack_within_seconds=within.total_seconds() if within is not None else None,
            sop=[
                StepOut(step=i + 1, text=text, optional=i in alarm_type.optional_steps)
                for i, text in enumerate(alarm_type.sop)
            ],
        )


class AlarmTypeList(BaseModel):
    """The alarm types in force."""

    items: list[AlarmTypeOut]


class ActionIn(BaseModel):
    """What comes with an action: a note, the outcome (resolve), a supervisor's override."""

    model_config = ConfigDict(extra="forbid")

    note: Note | None = None
    outcome: Outcome | None = Field(default=None, description="required to resolve")
    override_reason: Note | None = Field(
        default=None, description="supervisors: resolve although mandatory steps are not done"
    )


class ClaimIn(BaseModel):
    """A claim; supervisors may take over an alarm another operator holds."""

    model_config = ConfigDict(extra="forbid")

    take_over: bool = False


class StepIn(BaseModel):
    """A procedure step done or undone."""

    model_config = ConfigDict(extra="forbid")

    done: bool = True


class NoteIn(BaseModel):
    """A note for an alarm's timeline."""

    model_config = ConfigDict(extra="forbid")

    text: Note


class BulkIn(BaseModel):
    """Acknowledge or resolve every open alarm matching a filter (a flood), with a reason."""

    model_config = ConfigDict(extra="forbid")

    action: Literal[AlarmAction.ACKNOWLEDGE, AlarmAction.RESOLVE]
    reason: Note
    outcome: Outcome | None = None
    state: AlarmState | None = None
    site: Name | None = None
    device: Name | None = None
    type_code: TypeCode | None = None
    limit: int = Field(default=500, ge=1, le=5000)

    @model_validator(mode="after")
    def _outcome_to_resolve(self) -> BulkIn:
        if self.action is AlarmAction.RESOLVE and self.outcome is None:
            raise ValueError("outcome is required to resolve")
        if self.site is None and self.device is None and self.type_code is None:
            raise ValueError("give at least one of site, device, type_code")
        return self


class TestPeriodIn(BaseModel):
    """Until when equipment is on test (null: the test ends now)."""

    model_config = ConfigDict(extra="forbid")

    until: UtcTime | None


class BulkOut(BaseModel):
    """Which alarms a bulk action changed, and which it skipped (changed meanwhile)."""

    done: list[int]
    skipped: list[int]


class AlarmList(BaseModel):
    """A page of alarms, newest first."""

    items: list[AlarmOut]


class SignalList(BaseModel):
    """A page of signals, newest first."""

    items: list[SignalOut]


_Account = Annotated[
    str, StringConstraints(strip_whitespace=True, to_upper=True, pattern=f"^{ACCOUNT_PATTERN}$")
]


class AccountIn(BaseModel):
    """A DC-09 transmitter to register. The key is write-only: it is never returned."""

    model_config = ConfigDict(extra="forbid")

    account: _Account = Field(description="DC-09 account: 3 to 16 hex digits")
    site: Name | None = None
    name: Name | None = None
    key: HexKey | None = Field(default=None, description="AES key as 32, 48 or 64 hex digits")
    key_ascii: AsciiKey | None = Field(
        default=None, description="AES key as 16, 24 or 32 characters"
    )

    @model_validator(mode="after")
    def _one_key_form(self) -> AccountIn:
        if self.key is not None and self.key_ascii is not None:
            raise ValueError("give key or key_ascii, not both")
        return self


class AccountChange(BaseModel):
    """A change to a registered account; absent fields stay as they are. Keys are write-only."""

    model_config = ConfigDict(extra="forbid")

    site: Name | None = None
    name: Name | None = None
    enabled: bool | None = None
    key: HexKey | None = Field(default=None, description="new AES key, 32/48/64 hex digits")
    key_ascii: AsciiKey | None = Field(default=None, description="new AES key, 16/24/32 characters")
    clear_key: bool = False
    # At least a second: a shorter interval is no supervision, and rounds to zero below 1 µs.
    supervision_interval_seconds: float | None = Field(default=None, ge=1, le=7 * 86400)
    supervision_grace_seconds: float | None = Field(default=None, ge=0, le=86400)
    clear_supervision: bool = False

    @model_validator(mode="after")
    def _consistent(self) -> AccountChange:
        if self.key is not None and self.key_ascii is not None:
            raise ValueError("give key or key_ascii, not both")
        if self.clear_key and (self.key is not None or self.key_ascii is not None):
            raise ValueError("clear_key cannot come with a new key")
        if self.clear_supervision and (
            self.supervision_interval_seconds is not None
            or self.supervision_grace_seconds is not None
        ):
            raise ValueError("clear_supervision cannot come with supervision_*_seconds")
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
    last_seen_at: datetime | None
    clock_skew_seconds: float | None
    supervision_interval_seconds: float | None
    supervision_grace_seconds: float | None
    link_lost_at: datetime | None

    @classmethod
    def of(cls, device: Device) -> AccountOut:
        """Build from a core device."""
        interval, grace = device.supervision_interval, device.supervision_grace
        return cls(
            id=device.id,
            account=device.account,
            name=device.name,
            site=device.site,
            has_key=device.has_key,
            enabled=device.enabled,
            created_at=device.created_at,
            last_seen_at=device.last_seen_at,
            clock_skew_seconds=device.clock_skew_seconds,
            supervision_interval_seconds=interval.total_seconds() if interval else None,
            supervision_grace_seconds=grace.total_seconds() if grace else None,
            link_lost_at=device.link_lost_at,
        )


class AccountList(BaseModel):
    """The registered DC-09 transmitters."""

    items: list[AccountOut]


class StreamMessage(BaseModel):
    """One message of the alarm stream."""

    event: str
    alarm: AlarmOut

    @classmethod
    def of(cls, event: AlarmEvent) -> StreamMessage:
        """Build from a committed alarm change."""
        return cls(event=event.kind, alarm=AlarmOut.of(event.alarm))

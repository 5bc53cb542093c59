"""Signals: what a source sent, as received, and the record the store keeps of it."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from watchfloor.core.alarm_types import SourceCode

__all__ = ["LinkTest", "Origin", "Signal", "SignalRecord", "SignalSource", "Snapshot"]


class SignalSource(StrEnum):
    """The kind of source a signal came from."""

    DC09 = "dc09"
    HIKVISION = "hikvision"
    ONVIF = "onvif"
    FRIGATE = "frigate"
    PATROL = "patrol"
    CALL = "call"
    SUPERVISION = "supervision"


class Origin(StrEnum):
    """Where an alarm comes from: a device (or its silence), staff on duty, or a phone call."""

    EQUIPMENT = "equipment"
    PATROL = "patrol"
    CALL = "call"


ORIGIN_OF_SOURCE = {
    SignalSource.DC09: Origin.EQUIPMENT,
    SignalSource.HIKVISION: Origin.EQUIPMENT,
    SignalSource.ONVIF: Origin.EQUIPMENT,
    SignalSource.FRIGATE: Origin.EQUIPMENT,
    SignalSource.SUPERVISION: Origin.EQUIPMENT,
    SignalSource.PATROL: Origin.PATROL,
    SignalSource.CALL: Origin.CALL,
}


@dataclass(frozen=True, slots=True, kw_only=True)
class Snapshot:
    """A picture that came with a signal (a camera's JPEG), kept with it for verification."""

    content_type: str
    data: bytes = field(repr=False)


@dataclass(frozen=True, slots=True, kw_only=True)
class Signal:
    """One message from one source, exactly as received; immutable.

    ``device`` is the source's identity as it names itself (a DC-09 account, a camera's
    secret-bound name). ``code`` is the source's event code; ``restore`` is set when the
    message itself says restore (Contact ID qualifier 3). The DC-09 fields ``account``,
    ``seq`` and ``token`` are None for other sources. ``snapshots`` are pictures the source
    sent with the message; the store keeps them with the signal, in the same commit, and
    records read back from the store leave them out (they are served on their own).

    Staff reports and calls name their ``site`` themselves (devices take theirs from their
    registration) and carry the ``idempotency_key`` their sender chose, so that a resent
    report is stored once however late it comes; both are None for devices.
    """

    source: SignalSource
    received_at: datetime
    device: str
    code: SourceCode
    zone: str | None
    partition: str | None = None
    restore: bool = False
    text: str | None = None
    raw: str
    peer: str | None = None
    account: str | None = None
    seq: str | None = None
    token: str | None = None
    ext: tuple[str, ...] = ()
    snapshots: tuple[Snapshot, ...] = ()
    site: str | None = None
    idempotency_key: str | None = None

    @property
    def origin(self) -> Origin:
        """The origin of the alarms this signal raises."""
        return ORIGIN_OF_SOURCE[self.source]


@dataclass(frozen=True, slots=True, kw_only=True)
class SignalRecord:
    """A stored signal: the signal, its id, its alarm type and the alarm it joined (if any).

    ``zone_name`` is its zone's description on its device's zone list, where read (None:
    not described).
    """

    id: int
    alarm_id: int | None
    type_code: int
    signal: Signal
    zone_name: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class LinkTest:
    """A link test (DC-09 ``NULL``) from a device: proves the path works, raises nothing.

    ``skew_seconds`` is the sender's clock minus ours, when the message carried a timestamp.
    """

    source: SignalSource
    received_at: datetime
    device: str
    skew_seconds: float | None = None
    peer: str | None = None

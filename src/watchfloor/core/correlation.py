"""Correlation: how a classified signal joins, opens or restores an alarm.

Theory of operation: signals with the same device, alarm type and zone belong together while
an alarm for them is open (new, acknowledged, dispatched or held): a repeat raises the alarm's
``signal_count``; a restore (Contact ID qualifier 3, a SIA restore code) goes on its timeline.
A signal of a log-only type, or a restore with no open alarm, is stored but raises nothing.
A DC-09 signal from an account nobody registered is an "unregistered transmitter" alarm, so
that nothing is lost. A device (or its site) put "on test" until a time raises nothing
before then: its signals are stored and shown only.

Flood control: a faulty panel, or a camera in the rain, can send hundreds of signals that
would each open an alarm, and drown the control room. The caller measures each device's
rate; above it, it names the device's most recent open alarm, and a signal that would open
an alarm folds into that one instead (its count rises and it is marked ``flooded``), so that
operators see one alarm per device with a count. Repeats and restores are unaffected, and
life safety (priority 1) is never folded, neither in nor into: it always opens its own alarm.

A batch (``correlate_batch``) is correlated in arrival order, as if each signal were stored
before the next one is looked at: a later signal joins the alarm an earlier one opened, and
each alarm the batch touches is one change that ends in its final state. A flooding
signal's target may be an alarm the batch opened, or one also open under a key of the batch:
either way it is the same change.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from enum import StrEnum
from types import MappingProxyType

from watchfloor.core.alarm_types import (
    CAMERA_LINK_LOST,
    LINK_LOST,
    UNREGISTERED_TRANSMITTER,
    Classification,
    CodeSystem,
    SourceCode,
    Taxonomy,
)
from watchfloor.core.alarms import Alarm, AlarmState, TimelineEntry, TimelineKind
from watchfloor.core.devices import Device, DeviceKind
from watchfloor.core.mapping_overrides import overridden_type
from watchfloor.core.signals import Signal, SignalSource

__all__ = [
    "LIFE_SAFETY_PRIORITY",
    "LINK_LOST_BY_KIND",
    "SYSTEM_ACTOR",
    "AlarmChange",
    "BatchCorrelation",
    "ClassifiedSignal",
    "Correlation",
    "CorrelationKey",
    "Effect",
    "classify_for_correlation",
    "classify_signal",
    "correlate",
    "correlate_batch",
    "correlation_key",
]

#: The actor named on timeline entries that no person caused.
SYSTEM_ACTOR = "system"

#: The priority of life-safety alarm types (fire, hold-up, medical...), which flood control
#: never folds.
LIFE_SAFETY_PRIORITY = 1


class Effect(StrEnum):
    """What a signal does to the alarm queue."""

    OPENED = "opened"
    REPEATED = "repeated"
    RESTORED = "restored"
    LOGGED = "logged"
    ON_TEST = "on_test"
    FLOODED = "flooded"


@dataclass(frozen=True, slots=True, kw_only=True)
class CorrelationKey:
    """The identity under which signals join one open alarm."""

    device: str
    type_code: int
    zone: str | None


@dataclass(frozen=True, slots=True, kw_only=True)
class Correlation:
    """The outcome of correlating one signal: the alarm as it must be stored, if any."""

    effect: Effect
    alarm: Alarm | None
    timeline: TimelineEntry | None


@dataclass(frozen=True, slots=True, kw_only=True)
class ClassifiedSignal:
    """A signal ready to correlate: its device (None: unregistered), alarm type and key."""

    signal: Signal
    device: Device | None
    classification: Classification
    key: CorrelationKey


@dataclass(frozen=True, slots=True, kw_only=True)
class AlarmChange:
    """An alarm a batch opens (``read_version`` None, ``id`` 0) or changes, in its final state.

    ``read_version`` is the version the alarm had when it was read, which its update must
    still find.
    """

    key: CorrelationKey
    alarm: Alarm
    read_version: int | None


@dataclass(frozen=True, slots=True, kw_only=True)
class BatchCorrelation:
    """The outcome of ``correlate_batch``.

    ``changes`` are the alarms the batch changed, in order of first change. For each signal,
    ``joined`` is the index in ``changes`` of the alarm it joined (None: it raised nothing),
    and ``timeline`` the entry it adds to that alarm.
    """

    changes: tuple[AlarmChange, ...]
    joined: tuple[int | None, ...]
    timeline: tuple[TimelineEntry | None, ...]


@dataclass(eq=False, slots=True, kw_only=True)
class _Change:
    key: CorrelationKey
    alarm: Alarm
    read_version: int | None


#: The supervision condition a silent device of each kind raises when the taxonomy maps it
#: (a camera or NVR gone quiet is "video system offline"); other kinds, or a taxonomy
#: without it, raise the generic ``link_lost``.
LINK_LOST_BY_KIND: Mapping[DeviceKind, SourceCode] = MappingProxyType(
    dict.fromkeys(
        (DeviceKind.HIKVISION, DeviceKind.ONVIF, DeviceKind.FRIGATE),
        SourceCode(system=CodeSystem.SUPERVISION, code=CAMERA_LINK_LOST),
    )
)
_LINK_LOST = SourceCode(system=CodeSystem.SUPERVISION, code=LINK_LOST)


def classify_signal(taxonomy: Taxonomy, signal: Signal, device: Device | None) -> Classification:
    """Return the alarm type of a signal from a device that may be unregistered (None).

    The device's mapping overrides, when one matches, win over the taxonomy's mapping; an
    override naming a type the taxonomy no longer has is ignored. A link loss is classified
    by the kind of device that went silent (``LINK_LOST_BY_KIND``).
    """
    if device is not None and signal.code == _LINK_LOST:
        by_kind = LINK_LOST_BY_KIND.get(device.kind)
        if by_kind is not None and by_kind in taxonomy.mappings:
            return taxonomy.classify(by_kind, restore=signal.restore)
    if device is None and signal.source is SignalSource.DC09:
        return Classification(alarm_type=taxonomy.get(UNREGISTERED_TRANSMITTER), restore=False)
    if device is not None and device.overrides is not None:
        type_code = overridden_type(
            device.overrides, code=signal.code.code, zone=signal.zone, at=signal.received_at
        )
        if type_code is not None and type_code in taxonomy.types:
            return Classification(alarm_type=taxonomy.get(type_code), restore=signal.restore)
    return taxonomy.classify(signal.code, restore=signal.restore)


def correlation_key(signal: Signal, classification: Classification) -> CorrelationKey:
    """Return the key under which this signal looks for an open alarm.

    All traffic of an unregistered transmitter folds into one alarm, whatever its zone. A
    report or call that names its site joins only alarms of that site: one guard's findings
    at two sites are two alarms.
    """
    type_code = classification.alarm_type.code
    # An empty zone is no zone: the store's open-alarm index treats both alike.
    zone = None if type_code == UNREGISTERED_TRANSMITTER else (signal.zone or None)
    device = signal.device if signal.site is None else f"{signal.device}@{signal.site}"
    return CorrelationKey(device=device, type_code=type_code, zone=zone)


def classify_for_correlation(
    taxonomy: Taxonomy, signal: Signal, device: Device | None
) -> ClassifiedSignal:
    """Return the signal with its device, classification (``classify_signal``) and key."""
    classification = classify_signal(taxonomy, signal, device)
    return ClassifiedSignal(
        signal=signal,
        device=device,
        classification=classification,
        key=correlation_key(signal, classification),
    )


def correlate(
    signal: Signal,
    classification: Classification,
    open_alarm: Alarm | None,
    *,
    device: Device | None,
    flood: Alarm | None = None,
) -> Correlation:
    """Decide what a classified signal does, given the open alarm under its key (if any).

    Pure: the caller stores the returned alarm (``id`` 0 means insert) and timeline entry.

    Args:
        signal: the signal, as received.
        classification: its alarm type and whether it is a restore (``classify_signal``).
        open_alarm: the open alarm under the signal's ``correlation_key``, if any.
        device: the registered device the signal came from (None: unregistered).
        flood: the device's most recent open alarm, given only while the device is above
            its flood rate. A signal that would open an alarm then folds into it instead
            (``Effect.FLOODED``), unless the signal's type or ``flood`` itself is of
            priority 1 (life safety): those always open an alarm of their own. Repeats,
            restores and log-only signals are unaffected.
    """
    at = signal.received_at
    alarm_type = classification.alarm_type
    if device is not None and device.on_test_until is not None and at < device.on_test_until:
        # On test (engineers at work): stored and shown, never queued for an operator.
        return Correlation(effect=Effect.ON_TEST, alarm=None, timeline=None)
    if classification.restore:
        if open_alarm is None:
            return Correlation(effect=Effect.LOGGED, alarm=None, timeline=None)
        restored = replace(
            open_alarm,
            restored_at=at,
            last_at=max(at, open_alarm.last_at),
            version=open_alarm.version + 1,
        )
        entry = TimelineEntry(
            at=at,
            kind=TimelineKind.RESTORED,
            actor=SYSTEM_ACTOR,
            detail=f"restore received ({signal.code.code})",
        )
        return Correlation(effect=Effect.RESTORED, alarm=restored, timeline=entry)
    if not alarm_type.raises_alarm:
        return Correlation(effect=Effect.LOGGED, alarm=None, timeline=None)
    if open_alarm is not None:
        repeated = replace(
            open_alarm,
            signal_count=open_alarm.signal_count + 1,
            last_at=max(at, open_alarm.last_at),
            restored_at=None,
            version=open_alarm.version + 1,
        )
        entry = TimelineEntry(
            at=at,
            kind=TimelineKind.REPEATED,
            actor=SYSTEM_ACTOR,
            detail=f"signal {signal.code.code} repeated",
        )
        return Correlation(effect=Effect.REPEATED, alarm=repeated, timeline=entry)
    key = correlation_key(signal, classification)
    if (
        flood is not None
        and alarm_type.priority > LIFE_SAFETY_PRIORITY
        and flood.priority > LIFE_SAFETY_PRIORITY
    ):
        folded = replace(
            flood,
            signal_count=flood.signal_count + 1,
            last_at=max(at, flood.last_at),
            flooded=True,
            version=flood.version + 1,
        )
        zone = key.zone or "-"
        entry = TimelineEntry(
            at=at,
            kind=TimelineKind.FLOOD,
            actor=SYSTEM_ACTOR,
            detail=f"flood: {alarm_type.name} {signal.code.code} zone {zone} folded in",
        )
        return Correlation(effect=Effect.FLOODED, alarm=folded, timeline=entry)
    alarm = Alarm(
        id=0,
        origin=signal.origin,
        type_code=alarm_type.code,
        type_name=alarm_type.name,
        category=alarm_type.category,
        priority=alarm_type.priority,
        state=AlarmState.NEW,
        site=device.site if device is not None else signal.site,
        device=device.name if device is not None else signal.device,
        zone=key.zone,
        signal_count=1,
        first_at=at,
        last_at=at,
        ack_deadline=at + alarm_type.ack_within if alarm_type.ack_within is not None else None,
    )
    entry = TimelineEntry(
        at=at,
        kind=TimelineKind.CREATED,
        actor=SYSTEM_ACTOR,
        detail=f"{alarm_type.name} from {signal.source} {signal.code.code}",
    )
    return Correlation(effect=Effect.OPENED, alarm=alarm, timeline=entry)


def correlate_batch(
    signals: Sequence[ClassifiedSignal],
    open_alarms: Mapping[CorrelationKey, Alarm],
    *,
    flooding: Sequence[bool] = (),
    flood_targets: Mapping[str, tuple[CorrelationKey, Alarm]] | None = None,
) -> BatchCorrelation:
    """Correlate a batch's signals in order; return the alarms changed and what each joined.

    Pure: the caller stores the changes (an alarm opened has ``id`` 0) and the signals.

    Args:
        signals: the signals the batch stores, in order.
        open_alarms: the open alarm under each key of the batch that has one.
        flooding: per signal, whether its device is flooding with it (``core.flood``);
            empty: none is.
        flood_targets: the newest open alarm, with its key, of each device (the key's
            ``device``) that may flood.
    """
    current: dict[CorrelationKey, _Change | None] = {
        key: _Change(key=key, alarm=alarm, read_version=alarm.version)
        for key, alarm in open_alarms.items()
    }
    # A flood target may also be open under a key of the batch: both must be one change.
    by_id = {c.alarm.id: c for c in current.values() if c is not None}
    newest: dict[str, _Change] = {
        device: by_id.get(alarm.id) or _Change(key=key, alarm=alarm, read_version=alarm.version)
        for device, (key, alarm) in (flood_targets or {}).items()
    }
    changed: dict[_Change, int] = {}
    joined: list[_Change | None] = []
    timeline: list[TimelineEntry | None] = []
    flags = flooding if flooding else (False,) * len(signals)
    for entry, flood in zip(signals, flags, strict=True):
        change = current.get(entry.key)
        target = newest.get(entry.key.device) if flood else None
        correlation = correlate(
            entry.signal,
            entry.classification,
            None if change is None else change.alarm,
            device=entry.device,
            flood=None if target is None else target.alarm,
        )
        if correlation.alarm is None:
            joined.append(None)
            timeline.append(None)
            continue
        if target is not None and correlation.effect is Effect.FLOODED:
            change = target  # the signal's own key still has no open alarm
        else:
            if change is None:
                change = _Change(key=entry.key, alarm=correlation.alarm, read_version=None)
                newest[entry.key.device] = change
            current[entry.key] = change if correlation.alarm.is_open else None
        change.alarm = correlation.alarm
        changed.setdefault(change, len(changed))
        joined.append(change)
        timeline.append(correlation.timeline)
    return BatchCorrelation(
        changes=tuple(
            AlarmChange(key=c.key, alarm=c.alarm, read_version=c.read_version) for c in changed
        ),
        joined=tuple(None if c is None else changed[c] for c in joined),
        timeline=tuple(timeline),
    )

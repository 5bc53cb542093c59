"""The pure mapping from decoded camera and Frigate messages to signals and link tests."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from watchfloor.codecs.frigate import Availability, FrigateEvent, FrigateReview, MessageKind
from watchfloor.codecs.hikvision import EventState, HikvisionAlert, Picture
from watchfloor.core.alarm_types import CodeSystem, SourceCode
from watchfloor.core.devices import Device
from watchfloor.core.signals import LinkTest, Signal, SignalSource, Snapshot

__all__ = [
    "SnapshotLimits",
    "availability_signal",
    "event_signal",
    "hikvision_item",
    "keep_snapshots",
    "review_signal",
]

#: The code of a Frigate instance that is not available (``[frigate]`` in the taxonomy).
UNAVAILABLE = "unavailable"
_DOWN = frozenset({Availability.OFFLINE, Availability.STOPPED})


@dataclass(frozen=True, slots=True, kw_only=True)
class SnapshotLimits:
    """How many pictures, of which size, are kept with one signal; larger ones are dropped."""

    max_bytes: int = 2 * 1024 * 1024
    max_count: int = 4


def keep_snapshots(pictures: Sequence[Picture], limits: SnapshotLimits) -> tuple[Snapshot, ...]:
    """Return the pictures to store: the first ``max_count`` within ``max_bytes`` each."""
    kept = [
        Snapshot(content_type=p.content_type, data=p.data)
        for p in pictures
        if 0 < len(p.data) <= limits.max_bytes
    ]
    return tuple(kept[: limits.max_count])


def hikvision_item(
    alert: HikvisionAlert,
    *,
    device: Device,
    xml: bytes,
    received_at: datetime,
    peer: str | None,
    snapshots: tuple[Snapshot, ...] = (),
) -> Signal | LinkTest:
    """Return the signal an ISAPI alert carries, or a link test for a heartbeat.

    The zone is the device's registered zone, else the event's channel (an NVR's camera);
    ``inactive`` is the restore of the same event type. Picture URLs the device offers are
    kept as links (``ext``), never fetched.
    """
    if alert.is_heartbeat:
        return LinkTest(
            source=SignalSource.HIKVISION, received_at=received_at, device=device.name, peer=peer
        )
    details = [alert.description or alert.event_type]
    if alert.channel_name:
        details.append(f"channel {alert.channel_name}")
    if alert.targets:
        details.append("target " + ", ".join(alert.targets))
    return Signal(
        source=SignalSource.HIKVISION,
        received_at=received_at,
        device=device.name,
        code=SourceCode(system=CodeSystem.HIKVISION, code=alert.event_type),
        zone=device.zone or alert.channel,
        restore=alert.state is EventState.INACTIVE,
        text="; ".join(details),
        raw=xml.decode("utf-8", "replace"),
        peer=peer,
        ext=tuple(f"V{url}" for url in alert.picture_urls),
        snapshots=snapshots,
    )


def _frigate_signal(
    *,
    device: Device,
    code: str,
    zone: str | None,
    restore: bool,
    text: str,
    document: dict[str, object],
    received_at: datetime,
    snapshots: tuple[Snapshot, ...] = (),
) -> Signal:
    return Signal(
        source=SignalSource.FRIGATE,
        received_at=received_at,
        device=device.name,
        code=SourceCode(system=CodeSystem.FRIGATE, code=code),
        zone=zone,
        restore=restore,
        text=text,
        raw=json.dumps(document, sort_keys=True),
        snapshots=snapshots,
    )


def event_signal(
    event: FrigateEvent,
    *,
    device: Device,
    received_at: datetime,
    snapshots: tuple[Snapshot, ...] = (),
) -> Signal | None:
    """Return the signal of a tracked-object message, or None when it adds nothing.

    ``new`` raises the label in the object's zone (its camera when outside every zone); an
    ``update`` raises it again only when the object entered a zone it had not been in (a
    person walking into the loading dock); ``end`` restores it.
    """
    if event.false_positive and event.kind is not MessageKind.END:
        return None
    if event.kind is MessageKind.UPDATE and not event.new_zones:
        return None
    zone = event.new_zones[-1] if event.kind is MessageKind.UPDATE else None
    zone = zone or (event.zones[-1] if event.zones else event.camera)
    return _frigate_signal(
        device=device,
        code=event.label,
        zone=zone,
        restore=event.kind is MessageKind.END,
        text=f"{event.label} on {event.camera} in {zone}",
        document=event.as_document(),
        received_at=received_at,
        snapshots=snapshots,
    )


def review_signal(review: FrigateReview, *, device: Device, received_at: datetime) -> Signal | None:
    """Return the signal of a review segment that is (or stops being) an alert, else None.

    Detections are left to the events; a segment raises its first object's label when it
    becomes an alert (new as an alert, or escalated from detection) and restores it at end.
    """
    if review.severity != "alert" or not review.objects:
        return None
    escalated = review.kind is MessageKind.UPDATE and review.previous_severity != "alert"
    if review.kind is MessageKind.UPDATE and not escalated:
        return None
    zone = review.zones[-1] if review.zones else review.camera
    label = review.objects[0]
    return _frigate_signal(
        device=device,
        code=label,
        zone=zone,
        restore=review.kind is MessageKind.END,
        text=f"review alert: {', '.join(review.objects)} on {review.camera} in {zone}",
        document=review.as_document(),
        received_at=received_at,
    )


def availability_signal(
    availability: Availability,
    *,
    device: Device,
    received_at: datetime,
    camera: str | None = None,
    role: str | None = None,
) -> Signal | None:
    """Return the supervision signal of an availability message, or None for ``disabled``.

    The instance going ``offline`` (its MQTT last will) or ``stopped`` raises
    ``unavailable``; a camera role going offline raises ``<role>_offline`` in the camera's
    zone. ``online`` restores either. A role someone disabled on purpose raises nothing.
    """
    if availability is Availability.DISABLED:
        return None
    code = UNAVAILABLE if role is None else f"{role.lower()}_offline"
    subject = "Frigate" if camera is None else f"camera {camera} {role}"
    return _frigate_signal(
        device=device,
        code=code,
        zone=camera,
        restore=availability not in _DOWN,
        text=f"{subject} is {availability.value}",
        document={"camera": camera, "role": role, "availability": availability.value},
        received_at=received_at,
    )

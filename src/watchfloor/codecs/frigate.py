"""Frigate NVR MQTT payloads: ``<prefix>/events``, ``<prefix>/reviews`` and availability.

Identity is dropped at decode: the values below simply have no field for ``sub_label``
(a recognised name), face or other ``attributes``, ``current_attributes``, recognised
licence plates, a review's ``sub_labels`` or ``verified_objects``. Whatever decodes a Frigate
payload therefore cannot pass such data on, and ``as_document`` (what the store keeps as the
signal's raw text) is rebuilt from the fields that remain, never from the payload itself.

Events: ``type`` is ``new`` (an object is being tracked), ``update`` or ``end``; ``after``
is the object's current state, ``before`` the previous one. Reviews: the same envelope
around a review segment whose ``severity`` is ``alert`` or ``detection``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from enum import StrEnum

from watchfloor.codecs.errors import FormatError

__all__ = [
    "Availability",
    "FrigateEvent",
    "FrigateReview",
    "MessageKind",
    "decode_availability",
    "decode_event",
    "decode_review",
]

_MAX_TEXT = 128


class MessageKind(StrEnum):
    """Where a tracked object or review segment is in its life."""

    NEW = "new"
    UPDATE = "update"
    END = "end"


class Availability(StrEnum):
    """A Frigate instance's (or one camera role's) availability as published."""

    ONLINE = "online"
    OFFLINE = "offline"
    STOPPED = "stopped"
    DISABLED = "disabled"


@dataclass(frozen=True, slots=True, kw_only=True)
class FrigateEvent:
    """A tracked object: what was detected where, without who it might be.

    ``zones`` are the zones the object is in now (else the zones it entered, latest last);
    ``new_zones`` are zones entered since the previous message.
    """

    kind: MessageKind
    id: str
    camera: str
    label: str
    zones: tuple[str, ...]
    new_zones: tuple[str, ...]
    start_time: float | None
    end_time: float | None
    score: float | None
    has_snapshot: bool
    false_positive: bool

    def as_document(self) -> dict[str, object]:
        """Return the JSON-ready fields kept of the event (identity fields never existed)."""
        return {
            "type": self.kind.value,
            "id": self.id,
            "camera": self.camera,
            "label": self.label,
            "zones": list(self.zones),
            "start_time": self.start_time,
            "end_time": self.end_time,
            "score": self.score,
            "has_snapshot": self.has_snapshot,
        }


@dataclass(frozen=True, slots=True, kw_only=True)
class FrigateReview:
    """A review segment: which kinds of object (labels) in which zones, how severe."""

    kind: MessageKind
    id: str
    camera: str
    severity: str
    previous_severity: str | None
    objects: tuple[str, ...]
    zones: tuple[str, ...]
    detections: tuple[str, ...]
    start_time: float | None
    end_time: float | None

    def as_document(self) -> dict[str, object]:
        """Return the JSON-ready fields kept of the review (no sub labels, no names)."""
        return {
            "type": self.kind.value,
            "id": self.id,
            "camera": self.camera,
            "severity": self.severity,
            "objects": list(self.objects),
            "zones": list(self.zones),
            "detections": list(self.detections),
            "start_time": self.start_time,
            "end_time": self.end_time,
        }


def _object(payload: bytes) -> dict[str, object]:
    try:
        document = json.loads(payload)
    except (ValueError, RecursionError) as err:
        # ValueError covers UnicodeDecodeError and json.JSONDecodeError.
        raise FormatError(f"not JSON: {err}") from err
    if not isinstance(document, dict):
        raise FormatError("expected a JSON object")
    return document


def _envelope(payload: bytes) -> tuple[MessageKind, dict[str, object], dict[str, object]]:
    document = _object(payload)
    try:
        kind = MessageKind(str(document.get("type")))
    except ValueError as err:
        raise FormatError("type must be new, update or end") from err
    after = document.get("after")
    before = document.get("before")
    if not isinstance(after, dict):
        raise FormatError("'after' must be an object")
    return kind, after, before if isinstance(before, dict) else {}


def _text(document: dict[str, object], key: str) -> str:
    value = document.get(key)
    if isinstance(value, str) and value.strip():
        return value.strip()[:_MAX_TEXT]
    raise FormatError(f"{key!r} must be a non-empty string")


def _texts(value: object) -> tuple[str, ...]:
    if not isinstance(value, list):
        return ()
    return tuple(dict.fromkeys(v.strip()[:_MAX_TEXT] for v in value if isinstance(v, str) and v))


def _number(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def decode_event(payload: bytes) -> FrigateEvent:
    """Decode a ``<prefix>/events`` message.

    Raises:
        FormatError: not a JSON object, an unknown ``type``, or an ``after`` without
            ``id``, ``camera`` or ``label``.
    """
    kind, after, before = _envelope(payload)
    current = _texts(after.get("current_zones"))
    entered = _texts(after.get("entered_zones"))
    entered_before = set(_texts(before.get("entered_zones")))
    return FrigateEvent(
        kind=kind,
        id=_text(after, "id"),
        camera=_text(after, "camera"),
        label=_text(after, "label").lower(),
        zones=current or entered,
        new_zones=tuple(zone for zone in entered if zone not in entered_before),
        start_time=_number(after.get("start_time")),
        end_time=_number(after.get("end_time")),
        score=_number(after.get("top_score")) or _number(after.get("score")),
        has_snapshot=after.get("has_snapshot") is True,
        false_positive=after.get("false_positive") is True,
    )


def decode_review(payload: bytes) -> FrigateReview:
    """Decode a ``<prefix>/reviews`` message.

    Raises:
        FormatError: not a JSON object, an unknown ``type``, or an ``after`` without
            ``id``, ``camera`` or ``severity``.
    """
    kind, after, before = _envelope(payload)
    data = after.get("data")
    data = data if isinstance(data, dict) else {}
    previous = before.get("severity")
    return FrigateReview(
        kind=kind,
        id=_text(after, "id"),
        camera=_text(after, "camera"),
        severity=_text(after, "severity").lower(),
        previous_severity=previous.lower() if isinstance(previous, str) else None,
        objects=tuple(label.lower() for label in _texts(data.get("objects"))),
        zones=_texts(data.get("zones")),
        detections=_texts(data.get("detections")),
        start_time=_number(after.get("start_time")),
        end_time=_number(after.get("end_time")),
    )


def decode_availability(payload: bytes) -> Availability:
    """Decode ``<prefix>/available`` or ``<prefix>/<camera>/status/<role>``.

    Raises:
        FormatError: not one of online, offline, stopped, disabled.
    """
    try:
        return Availability(payload.decode("ascii").strip().lower())
    except (UnicodeDecodeError, ValueError) as err:
        raise FormatError(f"unknown availability {payload[:40]!r}") from err

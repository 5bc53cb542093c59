"""Cameras, NVRs and Frigate instances as registered devices, and their pictures.

A Hikvision camera or NVR pushes its events to a URL that carries its secret (the secret is
stored hashed and shown once), or, when it cannot push, is pulled from (``pull``: its
alertStream at ``url`` with ``username``/``password``). A Frigate instance publishes on MQTT
under its ``topic_prefix`` and serves snapshots at ``url``. Each may promise a heartbeat
(the supervision interval) and a ``zone``, and carry mapping overrides.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from watchfloor.core.devices import Device, DeviceKind
from watchfloor.core.mapping_overrides import MappingOverrides

__all__ = [
    "CAMERA_KINDS",
    "CameraDevice",
    "CameraRegistration",
    "PullTarget",
    "SnapshotInfo",
]

#: The device kinds this module describes (DC-09 transmitters are ``accounts``).
CAMERA_KINDS = frozenset({DeviceKind.HIKVISION, DeviceKind.ONVIF, DeviceKind.FRIGATE})


@dataclass(frozen=True, slots=True, kw_only=True)
class CameraDevice:
    """A registered camera, NVR or Frigate instance.

    Secrets and passwords never leave the store in this value: only whether they are set.
    """

    device: Device
    url: str | None = None
    username: str | None = None
    has_password: bool = False
    has_secret: bool = False
    pull: bool = False
    topic_prefix: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class CameraRegistration:
    """What registering a camera, NVR or Frigate instance takes.

    ``secret`` is the push URL's secret (Hikvision; stored as its sha256). ``heartbeat``
    is the supervision interval: silence beyond it (plus grace) is link loss.
    """

    kind: DeviceKind
    name: str
    site: str | None
    zone: str | None = None
    secret: str | None = field(default=None, repr=False)
    url: str | None = None
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    pull: bool = False
    topic_prefix: str | None = None
    heartbeat: timedelta | None = None
    overrides: MappingOverrides | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class PullTarget:
    """A device to pull events from: where, with which credentials, how often it beats."""

    device: Device
    url: str
    username: str | None
    password: str | None = field(repr=False)
    heartbeat: timedelta | None


@dataclass(frozen=True, slots=True, kw_only=True)
class SnapshotInfo:
    """A stored picture of a signal, without its bytes."""

    signal_id: int
    content_type: str
    size: int
    sha256: str
    received_at: datetime

"""Devices (DC-09 transmitters, cameras, NVRs) and the sites they protect."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

__all__ = ["Device", "DeviceKind"]


class DeviceKind(StrEnum):
    """What sort of equipment a device is."""

    DC09 = "dc09"
    HIKVISION = "hikvision"
    ONVIF = "onvif"
    FRIGATE = "frigate"


@dataclass(frozen=True, slots=True, kw_only=True)
class Device:
    """A registered device. For DC-09 the ``account`` is the transmitter's account number.

    ``has_key`` tells whether an AES key is set; the key itself never leaves the store except
    to the receiver that needs it.
    """

    id: int
    kind: DeviceKind
    name: str
    site: str | None
    account: str | None = None
    has_key: bool = False
    enabled: bool = True
    created_at: datetime
    last_seen_at: datetime | None = None
    clock_skew_seconds: float | None = None

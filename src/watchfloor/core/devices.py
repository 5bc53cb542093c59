"""Devices (DC-09 transmitters, cameras, NVRs) and the sites they protect."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from watchfloor.core.mapping_overrides import MappingOverrides

__all__ = ["AccountUpdate", "Device", "DeviceKind"]


class DeviceKind(StrEnum):
    """What sort of equipment a device is."""

    DC09 = "dc09"
    HIKVISION = "hikvision"
    ONVIF = "onvif"
    FRIGATE = "frigate"


@dataclass(frozen=True, slots=True, kw_only=True)
class Device:
    """A registered device. For DC-09 the ``account`` is the transmitter's account number.

    ``on_test_until`` is the later of the device's and its site's test periods, if any.

    ``has_key`` tells whether an AES key is set; the key itself never leaves the store except
    to the receiver that needs it.

    ``zone`` is where a camera looks (its signals' zone when the event names none);
    ``overrides`` refine how its codes map to alarm types (``core.mapping_overrides``).
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
    supervision_interval: timedelta | None = None
    supervision_grace: timedelta | None = None
    link_lost_at: datetime | None = None
    on_test_until: datetime | None = None
    zone: str | None = None
    overrides: MappingOverrides | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class AccountUpdate:
    """A change to a registered DC-09 account; None leaves a field as it is.

    ``key`` rotates the AES key; ``clear_key`` removes it (the account then accepts only
    unencrypted messages). ``supervision_interval`` starts or changes supervision (from the
    time of the change); ``clear_supervision`` stops it.
    """

    site: str | None = None
    name: str | None = None
    enabled: bool | None = None
    key: bytes | None = None
    clear_key: bool = False
    supervision_interval: timedelta | None = None
    supervision_grace: timedelta | None = None
    clear_supervision: bool = False

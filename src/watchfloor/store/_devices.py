"""Which registered device each item of a batch names, read set-based for the whole batch."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Final

from sqlalchemy import and_
from sqlalchemy.ext.asyncio import AsyncConnection

from watchfloor.core.devices import Device, DeviceKind
from watchfloor.core.signals import LinkTest, Signal, SignalSource
from watchfloor.core.supervision import SupervisedDevice
from watchfloor.store._rows import chunks, device_from_row, select_devices, supervised_from_row
from watchfloor.store.tables import devices

__all__ = ["DeviceRef", "KnownDevices", "device_ref", "read_devices"]

#: The device kind a source's signals are attributed to, looked up by name. Sources without
#: one (patrol, call, supervision) are looked up by name among all devices. DC-09 items, and
#: supervision signals that name an account, are looked up by DC-09 account instead.
_KIND_OF_SOURCE: Final = {
    SignalSource.HIKVISION: DeviceKind.HIKVISION,
    SignalSource.ONVIF: DeviceKind.ONVIF,
    SignalSource.FRIGATE: DeviceKind.FRIGATE,
}
_BY_ACCOUNT: Final = frozenset({SignalSource.DC09, SignalSource.SUPERVISION})


@dataclass(frozen=True, slots=True, kw_only=True)
class DeviceRef:
    """How an item names its device: by DC-09 account, or by name (among one kind, or all)."""

    by_account: bool
    kind: DeviceKind | None
    key: str


@dataclass(frozen=True, slots=True, kw_only=True)
class KnownDevices:
    """The registered devices the batch's items name, and what supervision knows of them."""

    by_ref: Mapping[DeviceRef, Device | None]
    supervised: Mapping[int, SupervisedDevice]


def device_ref(item: Signal | LinkTest) -> DeviceRef:
    # A DC-09 device is registered under its account, which DC-09 items also name as their
    # device; a supervision signal about a DC-09 device carries its account too.
    account = item.account if isinstance(item, Signal) else None
    if item.source is SignalSource.DC09 or (account is not None and item.source in _BY_ACCOUNT):
        return DeviceRef(by_account=True, kind=DeviceKind.DC09, key=account or item.device)
    return DeviceRef(by_account=False, kind=_KIND_OF_SOURCE.get(item.source), key=item.device)


async def read_devices(
    connection: AsyncConnection, items: Sequence[Signal | LinkTest]
) -> KnownDevices:
    """Return the registered device (or None) of every device reference of the items."""
    wanted = {device_ref(item) for item in items}
    accounts = sorted({ref.key for ref in wanted if ref.by_account})
    names = sorted({ref.key for ref in wanted if not ref.by_account})
    conditions = [
        *(
            and_(devices.c.kind == DeviceKind.DC09.value, devices.c.account.in_(chunk))
            for chunk in chunks(accounts)
        ),
        *(devices.c.name.in_(chunk) for chunk in chunks(names)),
    ]
    found: dict[int, Device] = {}
    supervised: dict[int, SupervisedDevice] = {}
    for condition in conditions:
        for row in await connection.execute(select_devices().where(condition)):
            found[row.id] = device_from_row(row)
            if (supervision := supervised_from_row(row)) is not None:
                supervised[row.id] = supervision
    # In id order: where several devices match (names are unique per kind only), the
    # oldest wins.
    by_key: dict[str, list[Device]] = {}
    for device in sorted(found.values(), key=lambda device: device.id):
        for key in (device.name, device.account):
            if key is not None:
                by_key.setdefault(key, []).append(device)
    return KnownDevices(
        by_ref={
            ref: next((d for d in by_key.get(ref.key, ()) if _is_named(d, ref)), None)
            for ref in wanted
        },
        supervised=supervised,
    )


def _is_named(device: Device, ref: DeviceRef) -> bool:
    if ref.by_account:
        return device.kind is DeviceKind.DC09 and device.account == ref.key
    return device.name == ref.key and (ref.kind is None or device.kind is ref.kind)

"""Registered accounts: finding one, and checking and translating an ``AccountUpdate``."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from watchfloor.core.devices import AccountUpdate, Device, DeviceKind
from watchfloor.store._rows import device_from_row, select_devices
from watchfloor.store.tables import devices

__all__ = ["changed_values", "check_change", "find_account"]


async def find_account(connection: AsyncConnection, account: str) -> Device | None:
    row = (
        await connection.execute(
            select_devices().where(
                devices.c.kind == DeviceKind.DC09.value, devices.c.account == account
            )
        )
    ).first()
    return None if row is None else device_from_row(row)


def check_change(change: AccountUpdate) -> None:
    # The messages name the fields only: a key must never reach a log.
    if change.key is not None and change.clear_key:
        raise ValueError("an account change cannot both set and clear the key")
    setting_supervision = (
        change.supervision_interval is not None or change.supervision_grace is not None
    )
    if setting_supervision and change.clear_supervision:
        raise ValueError("an account change cannot both set and clear supervision")
    if change.supervision_interval is not None and change.supervision_interval <= timedelta(0):
        raise ValueError("a supervision interval must be positive")
    if change.supervision_grace is not None and change.supervision_grace < timedelta(0):
        raise ValueError("a supervision grace must not be negative")


def changed_values(change: AccountUpdate, now: datetime) -> dict[str, Any]:
    """Return the device columns an account change sets (the site aside)."""
    values: dict[str, Any] = {}
    if change.name is not None:
        values["name"] = change.name
    if change.enabled is not None:
        values["enabled"] = change.enabled
    if change.key is not None or change.clear_key:
        values["aes_key"] = change.key
    if change.supervision_interval is not None:
        values["supervision_interval_seconds"] = change.supervision_interval.total_seconds()
        values["supervision_since"] = now
    if change.supervision_grace is not None:
        values["supervision_grace_seconds"] = change.supervision_grace.total_seconds()
        values["supervision_since"] = now
    if change.clear_supervision:
        values.update(
            supervision_interval_seconds=None,
            supervision_grace_seconds=None,
            supervision_since=None,
            link_lost_at=None,
        )
    return values

"""The camera registry and the pictures stored with signals, on SQLite or PostgreSQL."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from sqlalchemy import Row, delete, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from watchfloor.core.cameras import (
    CAMERA_KINDS,
    CameraDevice,
    CameraRegistration,
    PullTarget,
    SnapshotInfo,
)
from watchfloor.core.devices import Device, DeviceKind
from watchfloor.core.errors import ConflictError, NotFoundError
from watchfloor.core.signals import Snapshot
from watchfloor.store._errors import translate_errors
from watchfloor.store._rows import device_from_row, select_devices, token_hash
from watchfloor.store._unit import AuditedUnit
from watchfloor.store.repository import _ensure_site
from watchfloor.store.tables import camera_devices, devices, signal_snapshots, signals

__all__ = ["SqlCameraStore"]

_KIND_VALUES = sorted(kind.value for kind in CAMERA_KINDS)


def _select_cameras() -> Any:
    return select_devices().add_columns(
        camera_devices.c.url,
        camera_devices.c.username,
        camera_devices.c.password.is_not(None).label("has_password"),
        camera_devices.c.secret_hash.is_not(None).label("has_secret"),
        camera_devices.c.pull,
        camera_devices.c.topic_prefix,
    )


def _camera_from_row(row: Row[Any]) -> CameraDevice:
    m = row._mapping
    return CameraDevice(
        device=device_from_row(row),
        url=m["url"],
        username=m["username"],
        has_password=bool(m["has_password"]),
        has_secret=bool(m["has_secret"]),
        pull=bool(m["pull"]),
        topic_prefix=m["topic_prefix"],
    )


class SqlCameraStore(AuditedUnit):
    """The camera registry and the pictures stored with signals.

    Registers cameras, NVRs and Frigate instances and finds them by secret or topic prefix.

    Every method runs in its own short transaction and translates driver errors (a violated
    uniqueness is ConflictError, any other failure StoreUnavailableError).
    """

    async def add_camera(self, registration: CameraRegistration) -> CameraDevice:
        """Register a camera, NVR or Frigate instance, creating its site by name if new.

        Not idempotent: registering a name twice (per kind), or a secret or topic prefix in
        use, is ConflictError and stores nothing.

        Raises:
            ValueError: the kind is not a camera kind.
            ConflictError: the name, secret or topic prefix is taken.
            StoreUnavailableError: nothing was stored.
        """
        if registration.kind not in CAMERA_KINDS:
            raise ValueError(f"{registration.kind} is not a camera kind")
        now = self._clock.now()
        heartbeat = registration.heartbeat
        with translate_errors(f"register {registration.kind} {registration.name}"):
            async with self._write() as connection:
                taken = await connection.scalar(
                    select(devices.c.id).where(
                        devices.c.kind == registration.kind.value,
                        devices.c.name == registration.name,
                    )
                )
                if taken is not None:
                    raise ConflictError(
                        f"a {registration.kind} device named {registration.name} exists already"
                    )
                site_id = (
                    None
                    if registration.site is None
                    else await _ensure_site(connection, registration.site, now)
                )
                result = await connection.execute(
                    devices.insert().values(
                        kind=registration.kind.value,
                        name=registration.name,
                        site_id=site_id,
                        enabled=True,
                        created_at=now,
                        supervision_interval_seconds=(
                            None if heartbeat is None else heartbeat.total_seconds()
                        ),
                        supervision_since=None if heartbeat is None else now,
                    )
                )
                (device_id,) = result.inserted_primary_key or (None,)
                await connection.execute(
                    camera_devices.insert().values(
                        device_id=device_id,
                        secret_hash=(
                            None if registration.secret is None else token_hash(registration.secret)
                        ),
                        url=registration.url,
                        username=registration.username,
                        password=registration.password,
                        pull=registration.pull,
                        topic_prefix=registration.topic_prefix,
                        zone=registration.zone,
                        mapping_overrides=(
                            None
                            if registration.overrides is None
                            else json.dumps(registration.overrides.as_document())
                        ),
                    )
                )
                return await _read_camera(connection, device_id)

    async def list_cameras(self) -> list[CameraDevice]:
        """Return every camera, NVR and Frigate instance, by kind and name."""
        query = (
            _select_cameras()
            .where(devices.c.kind.in_(_KIND_VALUES))
            .order_by(devices.c.kind, devices.c.name)
        )
        return [_camera_from_row(row) for row in await self._read(query)]

    async def remove_camera(self, kind: DeviceKind, name: str) -> None:
        """Unregister a camera; its signals, pictures and alarms stay.

        Raises:
            NotFoundError: no such device. Nothing was changed.
        """
        with translate_errors(f"remove {kind} {name}"):
            async with self._write() as connection:
                device_id = await connection.scalar(
                    select(devices.c.id).where(devices.c.kind == kind.value, devices.c.name == name)
                )
                if device_id is None or kind not in CAMERA_KINDS:
                    raise NotFoundError(f"no {kind} device named {name}")
                await connection.execute(
                    update(signals).where(signals.c.device_id == device_id).values(device_id=None)
                )
                await connection.execute(
                    delete(camera_devices).where(camera_devices.c.device_id == device_id)
                )
                await connection.execute(delete(devices).where(devices.c.id == device_id))

    async def find_by_secret(self, secret: str) -> Device | None:
        """Return the enabled device whose push secret this is, or None.

        The lookup is by the secret's sha256, so its timing does not reveal how much of a
        guess was right.
        """
        query = _select_cameras().where(
            camera_devices.c.secret_hash == token_hash(secret), devices.c.enabled.is_(True)
        )
        rows = await self._read(query)
        return device_from_row(rows[0]) if rows else None

    async def find_by_topic_prefix(self, prefix: str) -> Device | None:
        """Return the enabled Frigate instance publishing under this MQTT prefix, or None."""
        query = _select_cameras().where(
            devices.c.kind == DeviceKind.FRIGATE.value,
            camera_devices.c.topic_prefix == prefix,
            devices.c.enabled.is_(True),
        )
        rows = await self._read(query)
        return device_from_row(rows[0]) if rows else None

    async def frigate_url(self, name: str) -> str | None:
        """Return the HTTP API address of a Frigate instance, if registered with one."""
        query = (
            select(camera_devices.c.url)
            .select_from(camera_devices.join(devices, devices.c.id == camera_devices.c.device_id))
            .where(devices.c.kind == DeviceKind.FRIGATE.value, devices.c.name == name)
        )
        rows = await self._read(query)
        return rows[0].url if rows else None

    async def pull_targets(self, kind: DeviceKind = DeviceKind.HIKVISION) -> list[PullTarget]:
        """Return the enabled devices of a kind to pull events from, with their credentials.

        Hikvision devices are pulled when registered with ``pull`` (the others push); ONVIF
        cameras are always pulled (PullPoint). The passwords are for the puller only: never
        log or show them.
        """
        query = (
            _select_cameras()
            .add_columns(camera_devices.c.password)
            .where(
                devices.c.kind == kind.value,
                camera_devices.c.url.is_not(None),
                devices.c.enabled.is_(True),
            )
            .order_by(devices.c.name)
        )
        if kind is DeviceKind.HIKVISION:
            query = query.where(camera_devices.c.pull.is_(True))
        return [
            PullTarget(
                device=device_from_row(row),
                url=row.url,
                username=row.username,
                password=row.password,
                heartbeat=(
                    None
                    if row.supervision_interval_seconds is None
                    else timedelta(seconds=row.supervision_interval_seconds)
                ),
            )
            for row in await self._read(query)
        ]

    async def snapshots_of_alarm(self, alarm_id: int) -> list[SnapshotInfo]:
        """Return the pictures of an alarm's signals, oldest first, without their bytes."""
        query = (
            select(
                signal_snapshots.c.signal_id,
                signal_snapshots.c.content_type,
                signal_snapshots.c.size,
                signal_snapshots.c.sha256,
                signal_snapshots.c.received_at,
            )
            .select_from(
                signal_snapshots.join(signals, signals.c.id == signal_snapshots.c.signal_id)
            )
            .where(signals.c.alarm_id == alarm_id)
            .order_by(signal_snapshots.c.id)
        )
        return [
            SnapshotInfo(
                signal_id=row.signal_id,
                content_type=row.content_type,
                size=row.size,
                sha256=row.sha256,
                received_at=row.received_at,
            )
            for row in await self._read(query)
        ]

    async def get_snapshot(self, signal_id: int) -> Snapshot:
        """Return the first picture stored with a signal.

        Raises:
            NotFoundError: the signal has no picture (or does not exist).
        """
        query = (
            select(signal_snapshots.c.content_type, signal_snapshots.c.data)
            .where(signal_snapshots.c.signal_id == signal_id)
            .order_by(signal_snapshots.c.id)
            .limit(1)
        )
        rows = await self._read(query)
        if not rows:
            raise NotFoundError(f"signal {signal_id} has no snapshot")
        return Snapshot(content_type=rows[0].content_type, data=bytes(rows[0].data))

    async def _read(self, query: Any) -> Sequence[Row[Any]]:
        with translate_errors("read the store"):
            async with self._connect() as connection:
                return list(await connection.execute(query))


async def _read_camera(connection: AsyncConnection, device_id: object) -> CameraDevice:
    row = (await connection.execute(_select_cameras().where(devices.c.id == device_id))).one()
    return _camera_from_row(row)

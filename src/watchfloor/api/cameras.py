"""Camera routes: the Hikvision push endpoint, the camera registry, and event pictures.

``/ingest/hikvision/<secret>`` is outside ``/api``: devices are not users and carry no bearer
token. They prove who they are by the secret in the path (or as the password of HTTP Basic
auth on ``/ingest/hikvision``); an unknown secret is 401 and counted. The answer is 200 only
after the signal is committed. Pictures are served to users who may read images, never
cached, and only through the API (an ``<img src>`` cannot carry the bearer token).
"""

from __future__ import annotations

import base64
import binascii
import logging
import re
import secrets
from collections.abc import AsyncIterator, Collection
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Annotated, Protocol

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field

from watchfloor.api.audit import audited_in
from watchfloor.api.auth import allowed
from watchfloor.api.params import AlarmId, SignalId
from watchfloor.api.services import Services
from watchfloor.core.audit import AuditEntry
from watchfloor.core.cameras import CameraDevice, CameraRegistration, SnapshotInfo
from watchfloor.core.devices import DeviceKind
from watchfloor.core.mapping_overrides import parse_overrides
from watchfloor.core.principals import Permission, Principal
from watchfloor.core.signals import SignalRecord, Snapshot

__all__ = [
    "CameraRegistry",
    "CameraServices",
    "PushReceiver",
    "RedactPushSecrets",
    "cameras_router",
    "push_path",
]

logger = logging.getLogger(__name__)

PUSH_PREFIX = "/ingest/hikvision"


class RedactPushSecrets(logging.Filter):
    """Masks the device secret of push URLs in log records (an access log names the path)."""

    _SECRET = re.compile(re.escape(PUSH_PREFIX) + r"/[^\s/?\"]+")

    def filter(self, record: logging.LogRecord) -> bool:
        """Rewrite the record's arguments without the secret; never drops a record."""
        if isinstance(record.args, tuple):
            record.args = tuple(
                self._SECRET.sub(PUSH_PREFIX + "/***", arg) if isinstance(arg, str) else arg
                for arg in record.args
            )
        return True


def push_path(secret: str) -> str:
    """Return the path a Hikvision device posts its events to."""
    return f"{PUSH_PREFIX}/{secret}"


class CameraRegistry(Protocol):
    """The store's camera registry and pictures, as the routes need them."""

    def audited(self, entry: AuditEntry) -> AbstractAsyncContextManager[CameraRegistry]:
        """Run calls and the action's audit row in one transaction."""
        ...

    async def add_camera(self, registration: CameraRegistration) -> CameraDevice:
        """Register a device; ConflictError if its name, secret or prefix is taken."""
        ...

    async def list_cameras(self) -> list[CameraDevice]:
        """Return every camera, NVR and Frigate instance."""
        ...

    async def remove_camera(self, kind: DeviceKind, name: str) -> None:
        """Unregister a device; NotFoundError if there is none."""
        ...

    async def snapshots_of_alarm(self, alarm_id: int) -> list[SnapshotInfo]:
        """Return the pictures of an alarm's signals, without their bytes."""
        ...

    async def get_snapshot(self, signal_id: int) -> Snapshot:
        """Return a signal's picture; NotFoundError if it has none."""
        ...


class PushReceiver(Protocol):
    """Stores a device's push; raises the errors ``api.errors`` maps to 401/413/415/400."""

    async def receive(
        self, secret: str, content_type: str, body: AsyncIterator[bytes], *, peer: str | None
    ) -> SignalRecord | None:
        """Store one push and return after the commit."""
        ...


@dataclass(frozen=True, slots=True, kw_only=True)
class CameraServices:
    """What the camera routes need, injected by the composition root."""

    registry: CameraRegistry
    push: PushReceiver
    alarm_types: Collection[int]


def _cameras(services: Services) -> CameraServices:
    return services.cameras


Cameras = Annotated[CameraServices, Depends(_cameras)]
EquipmentReader = Annotated[Principal, allowed(Permission.READ_EQUIPMENT)]
EquipmentManager = Annotated[Principal, allowed(Permission.MANAGE_EQUIPMENT)]
ImageReader = Annotated[Principal, allowed(Permission.READ_IMAGES)]


class DeviceIn(BaseModel):
    """A camera, NVR or Frigate instance to register."""

    model_config = ConfigDict(extra="forbid")

    kind: DeviceKind
    name: str = Field(min_length=1, max_length=200)
    site: str | None = Field(default=None, min_length=1, max_length=200)
    zone: str | None = Field(default=None, min_length=1, max_length=200)
    url: str | None = Field(default=None, pattern=r"^https?://", max_length=500)
    username: str | None = Field(default=None, max_length=200)
    password: str | None = Field(default=None, max_length=200)
    pull: bool = False
    topic_prefix: str | None = Field(default=None, pattern=r"^[A-Za-z0-9_-]+$", max_length=100)
    heartbeat_seconds: float | None = Field(default=None, gt=0, le=86_400)
    overrides: dict[str, object] | None = None


class DeviceOut(BaseModel):
    """A registered camera, NVR or Frigate instance; secrets and passwords never show."""

    id: int
    kind: DeviceKind
    name: str
    site: str | None
    zone: str | None
    url: str | None
    username: str | None
    has_password: bool
    has_secret: bool
    pull: bool
    topic_prefix: str | None
    heartbeat_seconds: float | None
    enabled: bool
    last_seen_at: datetime | None
    link_lost_at: datetime | None
    overrides: dict[str, object] | None

    @classmethod
    def of(cls, camera: CameraDevice) -> DeviceOut:
        """Build from a core value."""
        device = camera.device
        interval = device.supervision_interval
        return cls(
            id=device.id,
            kind=device.kind,
            name=device.name,
            site=device.site,
            zone=device.zone,
            url=camera.url,
            username=camera.username,
            has_password=camera.has_password,
            has_secret=camera.has_secret,
            pull=camera.pull,
            topic_prefix=camera.topic_prefix,
            heartbeat_seconds=None if interval is None else interval.total_seconds(),
            enabled=device.enabled,
            last_seen_at=device.last_seen_at,
            link_lost_at=device.link_lost_at,
            overrides=None if device.overrides is None else device.overrides.as_document(),
        )


class DeviceCreated(DeviceOut):
    """A device just registered: a Hikvision device's push secret and URL, shown this once."""

    secret: str | None
    push_url: str | None


class DeviceList(BaseModel):
    """Registered cameras, NVRs and Frigate instances."""

    items: list[DeviceOut]


class SnapshotOut(BaseModel):
    """A picture stored with one of an alarm's signals, and where to fetch it."""

    signal_id: int
    content_type: str
    size: int
    sha256: str
    received_at: datetime
    url: str


class SnapshotList(BaseModel):
    """The pictures of an alarm's signals, oldest first."""

    items: list[SnapshotOut]


def registration_of(body: DeviceIn, *, alarm_types: Collection[int]) -> CameraRegistration:
    """Return the registration a request asks for, with a fresh secret for Hikvision.

    Raises:
        HTTPException: 422 naming the field that is wrong.
    """
    try:
        overrides = (
            None
            if body.overrides is None
            else parse_overrides(body.overrides, known_types=alarm_types)
        )
    except ValueError as err:
        raise HTTPException(422, f"overrides: {err}") from err
    if body.pull and (body.kind is not DeviceKind.HIKVISION or body.url is None):
        raise HTTPException(422, "pull: only for hikvision devices with a url")
    return CameraRegistration(
        kind=body.kind,
        name=body.name,
        site=body.site,
        zone=body.zone,
        secret=secrets.token_urlsafe(24) if body.kind is DeviceKind.HIKVISION else None,
        url=body.url,
        username=body.username,
        password=body.password,
        pull=body.pull,
        topic_prefix=(
            (body.topic_prefix or "frigate") if body.kind is DeviceKind.FRIGATE else None
        ),
        heartbeat=None
        if body.heartbeat_seconds is None
        else timedelta(seconds=body.heartbeat_seconds),
        overrides=overrides,
    )


def _basic_password(authorization: str | None) -> str | None:
    scheme, _, encoded = (authorization or "").partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None
    return decoded.partition(":")[2] or None


def cameras_router() -> APIRouter:
    """Return the router of the push endpoint, the camera registry and the pictures."""
    router = APIRouter()

    async def store_push(request: Request, cameras: CameraServices, secret: str) -> JSONResponse:
        record = await cameras.push.receive(
            secret,
            request.headers.get("content-type", ""),
            request.stream(),
            peer=request.client.host if request.client else None,
        )
        return JSONResponse(
            {"status": "stored", "signal_id": None if record is None else record.id}
        )

    @router.post(
        PUSH_PREFIX + "/{secret}",
        summary="A Hikvision camera or NVR posts an event (its secret in the path)",
    )
    async def hikvision_push(secret: str, request: Request, cameras: Cameras) -> JSONResponse:
        return await store_push(request, cameras, secret)

    @router.post(
        PUSH_PREFIX,
        summary="A Hikvision camera or NVR posts an event (its secret as the Basic password)",
    )
    async def hikvision_push_basic(request: Request, cameras: Cameras) -> JSONResponse:
        secret = _basic_password(request.headers.get("authorization"))
        if secret is None:
            raise HTTPException(
                401, "device secret missing", headers={"WWW-Authenticate": 'Basic realm="cameras"'}
            )
        return await store_push(request, cameras, secret)

    @router.get("/api/devices", summary="List cameras, NVRs and Frigate instances")
    async def list_devices(
        request: Request, principal: EquipmentReader, cameras: Cameras
    ) -> DeviceList:
        async with audited_in(cameras.registry, request, principal, "device.list") as registry:
            found = await registry.list_cameras()
        return DeviceList(items=[DeviceOut.of(c) for c in found])

    @router.post(
        "/api/devices",
        status_code=201,
        summary="Register a camera, NVR or Frigate instance (a Hikvision secret shows once)",
    )
    async def add_device(
        body: DeviceIn, request: Request, principal: EquipmentManager, cameras: Cameras
    ) -> DeviceCreated:
        if body.kind not in {DeviceKind.HIKVISION, DeviceKind.ONVIF, DeviceKind.FRIGATE}:
            raise HTTPException(422, "kind: expected hikvision, onvif or frigate")
        registration = registration_of(body, alarm_types=cameras.alarm_types)
        target = f"device:{body.kind}:{body.name}"
        async with audited_in(
            cameras.registry, request, principal, "device.add", target
        ) as registry:
            camera = await registry.add_camera(registration)
        logger.info("%s device %s registered by %s", body.kind, body.name, principal.user)
        secret = registration.secret
        return DeviceCreated(
            **DeviceOut.of(camera).model_dump(),
            secret=secret,
            push_url=(
                None if secret is None else str(request.base_url).rstrip("/") + push_path(secret)
            ),
        )

    @router.delete(
        "/api/devices/{kind}/{name}",
        status_code=204,
        summary="Unregister a camera (its signals, pictures and alarms stay)",
    )
    async def remove_device(
        kind: DeviceKind, name: str, request: Request, principal: EquipmentManager, cameras: Cameras
    ) -> None:
        target = f"device:{kind}:{name}"
        async with audited_in(
            cameras.registry, request, principal, "device.remove", target
        ) as registry:
            await registry.remove_camera(kind, name)
        logger.info("%s device %s removed by %s", kind, name, principal.user)

    @router.get("/api/alarms/{alarm_id}/snapshots", summary="The pictures of an alarm's signals")
    async def alarm_snapshots(
        alarm_id: AlarmId, request: Request, principal: ImageReader, cameras: Cameras
    ) -> SnapshotList:
        target = f"alarm:{alarm_id}"
        async with audited_in(
            cameras.registry, request, principal, "image.list", target
        ) as registry:
            found = await registry.snapshots_of_alarm(alarm_id)
        return SnapshotList(
            items=[
                SnapshotOut(
                    signal_id=s.signal_id,
                    content_type=s.content_type,
                    size=s.size,
                    sha256=s.sha256,
                    received_at=s.received_at,
                    url=f"/api/signals/{s.signal_id}/snapshot",
                )
                for s in found
            ]
        )

    @router.get(
        "/api/signals/{signal_id}/snapshot",
        summary="The picture stored with a signal",
        response_class=Response,
        responses={200: {"content": {"image/jpeg": {}}}},
    )
    async def signal_snapshot(
        signal_id: SignalId, request: Request, principal: ImageReader, cameras: Cameras
    ) -> Response:
        target = f"signal:{signal_id}"
        async with audited_in(
            cameras.registry, request, principal, "image.read", target
        ) as registry:
            snapshot = await registry.get_snapshot(signal_id)
        return Response(
            content=snapshot.data,
            media_type=snapshot.content_type,
            headers={"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"},
        )

    return router

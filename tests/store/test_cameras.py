"""The camera registry and the pictures kept with signals, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncEngine

from support.clock import FakeClock
from watchfloor.core.alarm_types import CodeSystem, SourceCode
from watchfloor.core.cameras import CameraRegistration
from watchfloor.core.devices import DeviceKind
from watchfloor.core.errors import ConflictError, NotFoundError, StoreUnavailableError
from watchfloor.core.mapping_overrides import parse_overrides
from watchfloor.core.signals import Signal, SignalSource, Snapshot
from watchfloor.store import GroupCommitWriter
from watchfloor.store.cameras import SqlCameraStore
from watchfloor.store.tables import camera_devices, signals

JPEG = Snapshot(content_type="image/jpeg", data=b"\xff\xd8picture\xff\xd9")
SECRET = "the-secret-in-the-url"


@pytest.fixture
def cameras(engine: AsyncEngine, clock: FakeClock) -> SqlCameraStore:
    return SqlCameraStore(engine, clock)


def _signal(clock: FakeClock, *snapshots: Snapshot) -> Signal:
    return Signal(
        source=SignalSource.HIKVISION,
        received_at=clock.now(),
        device="gate",
        code=SourceCode(system=CodeSystem.HIKVISION, code="linedetection"),
        zone="1",
        raw="<EventNotificationAlert/>",
        snapshots=snapshots,
    )


async def test_registration_keeps_the_secret_hashed(
    cameras: SqlCameraStore, engine: AsyncEngine
) -> None:
    overrides = parse_overrides({"rules": [{"code": "vmd", "type": 702}]}, known_types=None)
    camera = await cameras.add_camera(
        CameraRegistration(
            kind=DeviceKind.HIKVISION,
            name="gate",
            site="Depot",
            zone="dock",
            secret=SECRET,
            heartbeat=timedelta(seconds=60),
            overrides=overrides,
        )
    )
    assert (camera.device.site, camera.device.zone, camera.has_secret) == ("Depot", "dock", True)
    assert camera.device.overrides == overrides
    assert camera.device.supervision_interval == timedelta(seconds=60)
    found = await cameras.find_by_secret(SECRET)
    assert found is not None
    assert found.name == "gate"
    assert await cameras.find_by_secret("guess") is None
    async with engine.connect() as connection:
        stored = (await connection.execute(select(camera_devices))).all()
    assert SECRET not in repr(stored)
    with pytest.raises(ConflictError):
        await cameras.add_camera(
            CameraRegistration(kind=DeviceKind.HIKVISION, name="gate", site="Depot")
        )


async def test_frigate_by_prefix_and_pull_targets(cameras: SqlCameraStore) -> None:
    await cameras.add_camera(
        CameraRegistration(
            kind=DeviceKind.FRIGATE,
            name="nvr",
            site="Depot",
            url="http://frigate:5000",
            topic_prefix="frigate",
        )
    )
    await cameras.add_camera(
        CameraRegistration(
            kind=DeviceKind.HIKVISION,
            name="yard",
            site=None,
            url="http://10.0.0.5",
            username="admin",
            password="pw",
            pull=True,
        )
    )
    nvr = await cameras.find_by_topic_prefix("frigate")
    assert nvr is not None
    assert nvr.name == "nvr"
    assert await cameras.frigate_url("nvr") == "http://frigate:5000"
    (target,) = await cameras.pull_targets()
    assert (target.device.name, target.url, target.password) == ("yard", "http://10.0.0.5", "pw")
    with pytest.raises(ConflictError):
        await cameras.add_camera(
            CameraRegistration(kind=DeviceKind.FRIGATE, name="b", site=None, topic_prefix="frigate")
        )
    with pytest.raises(ValueError, match="not a camera kind"):
        await cameras.add_camera(CameraRegistration(kind=DeviceKind.DC09, name="x", site=None))


async def test_pictures_are_committed_with_their_signal(
    cameras: SqlCameraStore, writer: GroupCommitWriter, clock: FakeClock
) -> None:
    await cameras.add_camera(
        CameraRegistration(kind=DeviceKind.HIKVISION, name="gate", site="Depot", secret=SECRET)
    )
    second = Snapshot(content_type="image/jpeg", data=b"\xff\xd8second\xff\xd9")
    (record,) = await writer.submit([_signal(clock, JPEG, second)])
    assert record is not None
    assert record.alarm_id is not None

    listed = await cameras.snapshots_of_alarm(record.alarm_id)
    assert [(s.signal_id, s.size) for s in listed] == [
        (record.id, len(JPEG.data)),
        (record.id, len(second.data)),
    ]
    assert await cameras.get_snapshot(record.id) == JPEG
    with pytest.raises(NotFoundError):
        await cameras.get_snapshot(record.id + 1)

    await cameras.remove_camera(DeviceKind.HIKVISION, "gate")
    assert await cameras.get_snapshot(record.id) == JPEG
    with pytest.raises(NotFoundError):
        await cameras.remove_camera(DeviceKind.HIKVISION, "gate")


async def test_a_picture_that_cannot_be_stored_takes_its_signal_with_it(
    writer: GroupCommitWriter, engine: AsyncEngine, clock: FakeClock
) -> None:
    # A real fault in the middle of the batch: the pictures' table is gone.
    async with engine.begin() as connection:
        await connection.execute(text("DROP TABLE signal_snapshots"))

    with pytest.raises(StoreUnavailableError):
        await writer.submit([_signal(clock, JPEG)])

    async with engine.connect() as connection:
        assert await connection.scalar(select(func.count()).select_from(signals)) == 0
    # A signal without pictures still goes through: one bad unit does not stop the writer.
    (record,) = await writer.submit([_signal(clock)])
    assert record is not None

"""The ONVIF receiver against a local SOAP responder replaying recorded camera replies.

Signals go through the real intake into a real SQLite store; time comes from a FakeClock, and
the receiver's backoff sleeps are recorded instead of slept.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Row, insert

from support.clock import FakeClock
from support.onvif_responder import DATA, OnvifResponder, open_onvif_responder
from watchfloor.app import Platform, open_platform
from watchfloor.config import Settings
from watchfloor.core.cameras import CameraRegistration
from watchfloor.core.devices import DeviceKind
from watchfloor.receivers.onvif import OnvifCamera, OnvifReceiver, OnvifTiming
from watchfloor.store.tables import devices
from watchfloor.taxonomy import __file__ as taxonomy_package

DEVICE = "gate-cam"
LINK_LOST = 620  # a camera gone silent: "camera or video system offline"
UNCLASSIFIED = 990

#: The mappings the shipped taxonomy is to carry for ONVIF topics (issue 5).
ONVIF_MAPPINGS = {
    "RuleEngine/CellMotionDetector/Motion": 700,
    "VideoSource/MotionAlarm": 700,
    "RuleEngine/LineDetector/Crossed": 701,
    "RuleEngine/FieldDetector/ObjectsInside": 702,
    "VideoSource/GlobalSceneChange/ImagingService": 711,
    "Device/Trigger/DigitalInput": 870,
    "VideoSource/ImageTooBlurry/ImagingService": 711,
    "VideoSource/ImageTooDark/ImagingService": 711,
    "VideoSource/ImageTooBright/ImagingService": 711,
    "VideoSource/SignalLoss": 710,
}


@pytest.fixture
def onvif_settings(settings: Settings, tmp_path: Path) -> Settings:
    """Settings whose taxonomy is the shipped one with the ONVIF topics mapped."""
    shipped = (Path(taxonomy_package).parent / "taxonomy.toml").read_text()
    shipped = re.sub(r"(?ms)^\[onvif\]\n.*?(?=^\[|\Z)", "", shipped)
    mapped = "\n".join(f'"{topic}" = {code}' for topic, code in ONVIF_MAPPINGS.items())
    path = tmp_path / "taxonomy.toml"
    path.write_text(f"{shipped}\n[onvif]\n{mapped}\n")
    return Settings(
        data_dir=settings.data_dir,
        dc09=settings.dc09,
        bootstrap_token=settings.bootstrap_token,
        taxonomy_file=path,
    )


class RecordedSleep:
    """Stands in for asyncio.sleep: records each backoff and only yields to the loop."""

    def __init__(self) -> None:
        self.delays: list[float] = []
        self._changed = asyncio.Condition()

    async def __call__(self, seconds: float) -> None:
        async with self._changed:
            self.delays.append(seconds)
            self._changed.notify_all()
        await asyncio.sleep(0)

    async def wait_for(self, count: int) -> None:
        """Wait (bounded) until the receiver has backed off ``count`` times in all."""
        async with asyncio.timeout(30), self._changed:
            await self._changed.wait_for(lambda: len(self.delays) >= count)


async def _register_camera(platform: Platform, clock: FakeClock, interval: float) -> None:
    async with platform.engine.begin() as connection:
        await connection.execute(
            insert(devices).values(
                kind="onvif",
                name=DEVICE,
                created_at=clock.now(),
                supervision_interval_seconds=interval,
                supervision_since=clock.now(),
            )
        )


@asynccontextmanager
async def _running(
    responder: OnvifResponder,
    platform: Platform,
    clock: FakeClock,
    sleep: Callable[[float], Awaitable[None]],
    timing: OnvifTiming | None = None,
) -> AsyncIterator[OnvifReceiver]:
    host, port = responder.base.removeprefix("http://").split(":")
    receiver = OnvifReceiver(
        camera=OnvifCamera(
            device=DEVICE, host=host, port=int(port), username="admin", password="secret"
        ),
        sink=platform.writer,
        clock=clock,
        timing=timing
        or OnvifTiming(heartbeat=timedelta(seconds=2), backoff_initial=1, backoff_max=8),
        sleep=sleep,
    )
    task = asyncio.create_task(receiver.serve())
    try:
        yield receiver
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task


def _recorded(name: str) -> bytes:
    return (DATA / name).read_bytes()


async def test_recorded_events_reach_the_store_with_their_alarm_types(
    onvif_settings: Settings, clock: FakeClock
) -> None:
    replies = [
        "cell_motion_hikvision.xml",
        "line_crossed_core_spec.xml",
        "field_detector_hikvision.xml",
        "digital_input_hikvision.xml",
        "image_quality_axis.xml",
        "motion_alarm_dahua.xml",
    ]
    async with (
        open_platform(onvif_settings, clock=clock) as platform,
        open_onvif_responder(clock) as responder,
    ):
        await _register_camera(platform, clock, interval=60)
        responder.queue(*(_recorded(name) for name in replies))
        async with _running(responder, platform, clock, RecordedSleep()):
            # A pull is sent only after the previous reply was committed.
            await responder.wait_for("PullMessages", len(replies) + 1)
        records = await platform.repository.list_signals(
            device=DEVICE, alarm_id=None, limit=100, after=None
        )
        alarms = await platform.repository.list_alarms(state=None, limit=100, after=None)
        device = await _device(platform)
    got = [
        (r.signal.code.code, r.signal.zone, r.signal.restore, r.type_code)
        for r in reversed(records)
    ]
    assert got == [
        ("RuleEngine/CellMotionDetector/Motion", "MyMotionDetectorRule", False, 700),
        ("RuleEngine/CellMotionDetector/Motion", "MyMotionDetectorRule", True, 700),
        ("RuleEngine/LineDetector/Crossed", "MyImportantFence1", False, 701),
        ("RuleEngine/LineDetector/Crossed", "MyImportantFence2", False, 701),
        ("RuleEngine/FieldDetector/ObjectsInside", "MyFieldDetector1", False, 702),
        ("RuleEngine/FieldDetector/ObjectsInside", "MyFieldDetector1", False, 702),
        ("Device/Trigger/DigitalInput", "AlarmIn_1", False, 870),
        ("Device/Trigger/DigitalInput", "AlarmIn_1", True, 870),
        ("VideoSource/ImageTooBlurry/ImagingService", "VideoSource_1", False, 711),
        ("VideoSource/ImageTooDark/ImagingService", "VideoSource_1", False, 711),
        ("VideoSource/GlobalSceneChange/ImagingService", "VideoSource_1", False, 711),
        ("VideoSource/ImageTooBlurry/ImagingService", "VideoSource_1", True, 711),
        ("VideoSource/MotionAlarm", "VideoSource_1", False, 700),
    ]
    assert all(r.signal.source.value == "onvif" and r.signal.peer for r in records)
    assert all("<wsnt:NotificationMessage>" in r.signal.raw for r in records)
    assert {a.type_code for a in alarms} == {700, 701, 702, 711}  # 870 is logged, not raised
    assert device.last_seen_at == clock.now()  # the pulls were link tests


async def test_subscription_is_renewed_before_it_terminates(
    onvif_settings: Settings, clock: FakeClock
) -> None:
    async with (
        open_platform(onvif_settings, clock=clock) as platform,
        open_onvif_responder(clock, lifetime=timedelta(seconds=60)) as responder,
        _running(responder, platform, clock, RecordedSleep()),
    ):
        await responder.wait_for("PullMessages", 1)
        clock.advance(40)
        pulls = responder.count("PullMessages")
        responder.wake()
        await responder.wait_for("PullMessages", pulls + 1)
        assert responder.count("Renew") == 0  # 40 s of 60: not yet
        clock.advance(9)  # 49 s: past 80 % of the lifetime, before its end
        responder.wake()
        await responder.wait_for("Renew", 1)
        await responder.wait_for("PullMessages", pulls + 2)
        assert responder.renewed_at[0] - responder.subscribed_at[0] == 49
        assert responder.count("CreatePullPointSubscription") == 1
        # The renewal's own times start the next lifetime: 48 s after the renewal.
        clock.advance(47)
        responder.wake()
        await responder.wait_for("PullMessages", pulls + 3)
        assert responder.count("Renew") == 1
        clock.advance(2)
        responder.wake()
        await responder.wait_for("Renew", 2)


async def test_reconnects_with_capped_backoff_after_the_camera_drops(
    onvif_settings: Settings, clock: FakeClock
) -> None:
    sleep = RecordedSleep()
    async with (
        open_platform(onvif_settings, clock=clock) as platform,
        open_onvif_responder(clock) as responder,
        _running(responder, platform, clock, sleep) as receiver,
    ):
        await responder.wait_for("PullMessages", 1)
        responder.down = True
        responder.reboot()
        responder.wake()
        # Every attempt fails while the camera is down; the delays double up to the cap.
        await sleep.wait_for(6)
        assert sleep.delays[:6] == [1, 2, 4, 8, 8, 8]
        responder.down = False
        responder.queue(_recorded("tamper_hikvision.xml"))
        await responder.wait_for("CreatePullPointSubscription", 2)
        pulls = responder.count("PullMessages")
        await responder.wait_for("PullMessages", pulls + 2)
        assert receiver.counters["subscriptions"] == 2
        records = await platform.repository.list_signals(
            device=DEVICE, alarm_id=None, limit=10, after=None
        )
    assert [(r.signal.code.code, r.signal.restore) for r in reversed(records)] == [
        ("RuleEngine/TamperDetector/Tamper", False),
        ("RuleEngine/TamperDetector/Tamper", True),
    ]


@pytest.mark.parametrize(
    "reply",
    [
        b"this is not XML at all",
        b"<?xml version='1.0'?><!DOCTYPE x [<!ENTITY a 'aaaa'>]><x>&a;</x>",
        (DATA / "soap" / "renew.xml").read_bytes().replace(b"{", b"").replace(b"}", b""),
        b"",
    ],
    ids=["garbage", "entities", "wrong-reply", "empty-body"],
)
async def test_garbage_replies_are_rejected_and_the_receiver_carries_on(
    onvif_settings: Settings, clock: FakeClock, reply: bytes
) -> None:
    async with (
        open_platform(onvif_settings, clock=clock) as platform,
        open_onvif_responder(clock) as responder,
        _running(responder, platform, clock, RecordedSleep()) as receiver,
    ):
        responder.queue(reply, _recorded("line_crossed_core_spec.xml"))
        await responder.wait_for("CreatePullPointSubscription", 2)
        pulls = responder.count("PullMessages")
        await responder.wait_for("PullMessages", pulls + 2)
        assert receiver.counters["failures"] == 1
        assert receiver.counters["rejected_replies"] == 1
        records = await platform.repository.list_signals(
            device=DEVICE, alarm_id=None, limit=10, after=None
        )
    assert [r.signal.zone for r in reversed(records)] == ["MyImportantFence1", "MyImportantFence2"]


async def test_malformed_messages_are_rejected_one_by_one(
    onvif_settings: Settings, clock: FakeClock
) -> None:
    async with (
        open_platform(onvif_settings, clock=clock) as platform,
        open_onvif_responder(clock) as responder,
        _running(responder, platform, clock, RecordedSleep()) as receiver,
    ):
        responder.queue(_recorded("malformed_messages.xml"))
        await responder.wait_for("PullMessages", 2)
        assert receiver.counters["rejected_messages"] == 2
        assert receiver.counters["failures"] == 0
        records = await platform.repository.list_signals(
            device=DEVICE, alarm_id=None, limit=10, after=None
        )
    assert [r.signal.code.code for r in records] == ["RuleEngine/LineDetector/Crossed"]


async def test_a_silent_camera_raises_link_lost_and_its_return_restores(
    onvif_settings: Settings, clock: FakeClock
) -> None:
    async with (
        open_platform(onvif_settings, clock=clock) as platform,
        open_onvif_responder(clock) as responder,
    ):
        await _register_camera(platform, clock, interval=2)
        sleep = RecordedSleep()
        async with _running(responder, platform, clock, sleep):
            await responder.wait_for("PullMessages", 2)
            assert await platform.supervision.check() == 0
            responder.down = True
            responder.wake()
            await sleep.wait_for(1)  # the pull after the last good one failed
            clock.advance(2 + 30 + 1)  # interval + default grace, and a second
            assert await platform.supervision.check() == 1
            alarms = await platform.repository.list_alarms(state=None, limit=5, after=None)
            assert [a.type_code for a in alarms] == [LINK_LOST]
            responder.down = False
            await responder.wait_for("CreatePullPointSubscription", 2)
            pulls = responder.count("PullMessages")
            await responder.wait_for("PullMessages", pulls + 2)
        detail = await platform.repository.get_alarm(alarms[0].id)
        device = await _device(platform)
    assert [t.kind for t in detail.timeline] == ["created", "restored"]
    assert device.link_lost_at is None


async def _device(platform: Platform) -> Row[Any]:
    async with platform.engine.connect() as connection:
        return (await connection.execute(devices.select().where(devices.c.name == DEVICE))).one()


async def test_the_platform_pulls_every_registered_onvif_camera(
    onvif_settings: Settings, clock: FakeClock
) -> None:
    async with open_onvif_responder(clock) as responder:
        async with open_platform(onvif_settings, clock=clock) as first:
            await first.cameras.add_camera(
                CameraRegistration(
                    kind=DeviceKind.ONVIF,
                    name=DEVICE,
                    site="Gate",
                    url=responder.base,
                    username="admin",
                    password="secret",
                    heartbeat=timedelta(seconds=60),
                )
            )
        responder.queue(_recorded("line_crossed_core_spec.xml"))
        # The composition root starts a puller for each ONVIF camera registered.
        async with open_platform(onvif_settings, clock=clock) as platform:
            await responder.wait_for("PullMessages", 2)
            records = await platform.repository.list_signals(
                device=DEVICE, alarm_id=None, limit=10, after=None
            )
    assert [r.type_code for r in records] == [701, 701]

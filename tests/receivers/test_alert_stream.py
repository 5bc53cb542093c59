"""The alertStream puller against a local HTTP server with digest auth replaying the corpus."""

from __future__ import annotations

import asyncio
import hashlib
import re
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import httpx
import pytest

from support.clock import FakeClock
from support.http_stub import Request, StubServer, open_stub_server, response
from watchfloor.app import Platform, open_platform
from watchfloor.config import Settings
from watchfloor.core.cameras import CameraRegistration
from watchfloor.core.devices import DeviceKind
from watchfloor.receivers.hikvision import ALERT_STREAM_PATH, AlertStreamPuller, Backoff

DATA = Path(__file__).parents[1] / "data" / "hikvision" / "completed"
USER, PASSWORD, REALM, NONCE = "admin", "camera-pass", "DS-2CD2T85", "abc123nonce"
STREAM = (DATA / "alertStream_heartbeat_and_fielddetection_pyhik62.txt").read_bytes() + (
    DATA / "alertStream_fielddetection_url_pictures_nodered105.txt"
).read_bytes()
WAIT = 10.0


def _md5(text: str) -> str:
    return hashlib.md5(text.encode()).hexdigest()  # noqa: S324 - HTTP digest is MD5 (RFC 7616)


def _digest_ok(request: Request) -> bool:
    """Check the request's digest response as the device would (RFC 7616, qop=auth)."""
    header = request.headers.get("authorization", "")
    if not header.startswith("Digest "):
        return False
    fields = dict(re.findall(r'(\w+)="?([^",]*)"?', header[7:]))
    ha1 = _md5(f"{USER}:{REALM}:{PASSWORD}")
    ha2 = _md5(f"{request.method}:{fields.get('uri', '')}")
    expected = _md5(f"{ha1}:{NONCE}:{fields.get('nc')}:{fields.get('cnonce')}:auth:{ha2}")
    return fields.get("username") == USER and fields.get("response") == expected


class Camera:
    """A device stub: refuses the first ``failures`` connections, then streams ``parts``."""

    def __init__(self, *, failures: int = 0, stay_open: bool = False) -> None:
        self.failures = failures
        self.stay_open = stay_open
        self.release = asyncio.Event()
        self.streams = 0

    async def handle(self, request: Request, writer: asyncio.StreamWriter) -> None:
        if request.path != ALERT_STREAM_PATH:
            writer.write(response("404 Not Found", b""))
            return
        if not _digest_ok(request):
            challenge = f'Digest realm="{REALM}", nonce="{NONCE}", qop="auth"'
            writer.write(
                b"HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: "
                + challenge.encode()
                + b"\r\nContent-Length: 0\r\n\r\n"
            )
            return
        if self.failures > 0:
            self.failures -= 1
            writer.write(response("503 Service Unavailable", b"busy"))
            return
        self.streams += 1
        writer.write(
            b"HTTP/1.1 200 OK\r\nMIME-Version: 1.0\r\nConnection: close\r\n"
            b"Content-Type: multipart/mixed; boundary=boundary\r\n\r\n" + STREAM
        )
        await writer.drain()
        if self.stay_open:
            await self.release.wait()
        writer.close()
        raise ConnectionError("stream over")  # ends the stub's keep-alive loop


@pytest.fixture
async def clocked(settings: Settings) -> AsyncIterator[tuple[Platform, FakeClock]]:
    clock = FakeClock()
    async with open_platform(settings, clock=clock) as platform:
        yield platform, clock


async def _pull(
    platform: Platform, clock: FakeClock, stub: StubServer
) -> tuple[AlertStreamPuller, list[float]]:
    await platform.cameras.add_camera(
        CameraRegistration(
            kind=DeviceKind.HIKVISION,
            name="yard",
            site="Depot",
            url=stub.base_url,
            username=USER,
            password=PASSWORD,
            pull=True,
            heartbeat=timedelta(seconds=10),
        )
    )
    (target,) = await platform.cameras.pull_targets()
    sleeps: list[float] = []

    async def sleep(seconds: float) -> None:
        sleeps.append(seconds)

    async with httpx.AsyncClient() as client:
        puller = AlertStreamPuller(
            target, sink=platform.writer, clock=clock, client=client, sleep=sleep
        )
        async with asyncio.timeout(WAIT):
            await puller.serve(attempts=1)
    return puller, sleeps


async def test_the_stream_is_pulled_with_digest_auth_and_stored(
    clocked: tuple[Platform, FakeClock],
) -> None:
    platform, clock = clocked
    camera = Camera()
    async with open_stub_server(camera.handle) as stub:
        puller, sleeps = await _pull(platform, clock, stub)

    assert puller.counters["events"] == 3  # heartbeat, field detection, field detection (URL)
    assert camera.streams == 1
    signals = await platform.repository.list_signals(
        device="yard", alarm_id=None, limit=10, after=None
    )
    assert [(s.type_code, s.signal.code.code) for s in signals] == [
        (702, "fielddetection"),
        (702, "fielddetection"),
    ]
    assert signals[0].signal.ext == ("Vhttp://192.168.0.45:80/picture",)
    assert signals[0].signal.raw.startswith("<EventNotificationAlert")
    (yard,) = await platform.cameras.list_cameras()
    assert yard.device.last_seen_at == clock.now()
    assert sleeps == [1.0]


async def test_failed_connections_back_off_exponentially_and_reset(
    clocked: tuple[Platform, FakeClock],
) -> None:
    platform, clock = clocked
    camera = Camera(failures=2)
    async with open_stub_server(camera.handle) as stub:
        await platform.cameras.add_camera(
            CameraRegistration(
                kind=DeviceKind.HIKVISION,
                name="yard",
                site="Depot",
                url=stub.base_url,
                username=USER,
                password=PASSWORD,
                pull=True,
            )
        )
        (target,) = await platform.cameras.pull_targets()
        sleeps: list[float] = []

        async def sleep(seconds: float) -> None:
            sleeps.append(seconds)

        async with httpx.AsyncClient() as client:
            puller = AlertStreamPuller(
                target,
                sink=platform.writer,
                clock=clock,
                client=client,
                sleep=sleep,
                backoff=Backoff(initial=1.0, cap=3.0),
            )
            async with asyncio.timeout(WAIT):
                await puller.serve(attempts=4)

    assert puller.counters["failed"] == 2
    # 1, 2 after the failures; after the working stream the delay starts again from 1.
    assert sleeps == [1.0, 2.0, 1.0, 1.0]
    assert camera.streams == 2


def test_backoff_is_capped() -> None:
    backoff = Backoff(initial=1.0, cap=5.0)
    assert [backoff.next_delay() for _ in range(5)] == [1.0, 2.0, 4.0, 5.0, 5.0]


async def test_silence_beyond_the_heartbeat_reconnects_and_supervision_raises_link_loss(
    clocked: tuple[Platform, FakeClock],
) -> None:
    platform, clock = clocked
    camera = Camera(stay_open=True)
    async with open_stub_server(camera.handle) as stub:
        await platform.cameras.add_camera(
            CameraRegistration(
                kind=DeviceKind.HIKVISION,
                name="yard",
                site="Depot",
                url=stub.base_url,
                username=USER,
                password=PASSWORD,
                pull=True,
                heartbeat=timedelta(seconds=30),
            )
        )
        (target,) = await platform.cameras.pull_targets()
        # The puller's own silence limit: a fraction of a second instead of the heartbeat.
        quick = type(target)(
            device=target.device,
            url=target.url,
            username=target.username,
            password=target.password,
            heartbeat=timedelta(seconds=0.2),
        )

        async def sleep(seconds: float) -> None:
            return None

        async with httpx.AsyncClient() as client:
            puller = AlertStreamPuller(
                quick,
                sink=platform.writer,
                clock=clock,
                client=client,
                sleep=sleep,
                grace=timedelta(0),
            )
            try:
                async with asyncio.timeout(WAIT):
                    await puller.serve(attempts=1)
            finally:
                camera.release.set()

    assert puller.counters["silent"] == 1
    assert puller.counters["events"] == 3
    # The device's heartbeat (30 s) + grace (30 s) pass without a word: link lost.
    clock.advance(61)
    assert await platform.supervision.check() == 1
    alarms = await platform.repository.list_alarms(state=None, limit=10, after=None, device="yard")
    # Link lost, and field detection on channels 1 and 6 (two zones).
    # A camera gone silent is "camera or video system offline".
    assert sorted(alarm.type_code for alarm in alarms) == [620, 702, 702]

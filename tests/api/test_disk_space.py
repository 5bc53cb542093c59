"""A filling data disk: an alarm first, then intake stops while the console reads and acts."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path

import httpx
import pytest

from conftest import TOKEN
from support.clock import FakeClock
from support.panel import TcpPanel, open_tcp_panel, reply_token, sia_frame
from watchfloor.app import Platform, open_platform
from watchfloor.config import Settings
from watchfloor.core.cameras import CameraRegistration
from watchfloor.core.devices import DeviceKind
from watchfloor.receivers.disk_space import RESERVE_FILE

ADMIN = {"Authorization": f"Bearer {TOKEN}"}
MIB = 1024 * 1024
LOW = 100 * MIB
RESERVE = 4 * MIB
SECRET = "s3cret-of-the-gate-camera"
ALERT = b"""<?xml version="1.0" encoding="UTF-8"?>
<EventNotificationAlert version="2.0" xmlns="http://www.hikvision.com/ver20/XMLSchema">
<ipAddress>10.0.0.5</ipAddress><channelID>1</channelID>
<dateTime>2026-01-05T10:00:00+01:00</dateTime><activePostCount>1</activePostCount>
<eventType>linedetection</eventType><eventState>active</eventState>
<eventDescription>linedetection alarm</eventDescription></EventNotificationAlert>"""


class FakeDisk:
    """The free space the watch measures, as the test sets it."""

    def __init__(self, free: int) -> None:
        self.free = free
        self.measured: list[Path] = []

    def __call__(self, path: Path) -> int:
        self.measured.append(path)
        return self.free


@pytest.fixture
def disk() -> FakeDisk:
    return FakeDisk(10 * 1024 * MIB)


@pytest.fixture
async def platform(settings: Settings, clock: FakeClock, disk: FakeDisk) -> AsyncIterator[Platform]:
    watched = replace(settings, disk_low_bytes=LOW, disk_reserve_bytes=RESERVE)
    async with open_platform(watched, clock=clock, free_bytes=disk) as running:
        await running.repository.add_account(account="1234", site="Depot", key=None)
        await running.cameras.add_camera(
            CameraRegistration(kind=DeviceKind.HIKVISION, name="gate", site="Depot", secret=SECRET)
        )
        yield running


@pytest.fixture
async def client(platform: Platform) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=platform.api)
    async with httpx.AsyncClient(transport=transport, base_url="http://watchfloor") as http:
        yield http


async def _check(platform: Platform, disk: FakeDisk, free: int) -> None:
    assert platform.disk_space is not None
    disk.free = free
    await platform.disk_space.check()


async def _disk_alarm(client: httpx.AsyncClient) -> dict[str, object]:
    alarms = (await client.get("/api/alarms", headers=ADMIN)).json()["items"]
    (alarm,) = [a for a in alarms if a["type_code"] == 560]
    detail = await client.get(f"/api/alarms/{alarm['id']}", headers=ADMIN)
    return dict(detail.json())


def _metric(text: str, name: str) -> float:
    (line,) = [line for line in text.splitlines() if line.startswith(name + " ")]
    return float(line.split()[1])


async def _no_reply(panel: TcpPanel, frame: bytes) -> bytes:
    await panel.send(frame)
    # Half-close: the receiver finishes the frame, then sees EOF and closes; what it sent
    # before closing is all there is to read.
    panel.writer.write_eof()
    async with asyncio.timeout(10):
        return await panel.reader.read()


async def test_low_space_raises_an_equipment_fault_alarm_and_its_restore(
    platform: Platform, client: httpx.AsyncClient, disk: FakeDisk, settings: Settings
) -> None:
    assert (await client.get("/healthz")).json() == {"status": "ok"}
    await _check(platform, disk, 60 * MIB)

    alarm = await _disk_alarm(client)
    assert (alarm["type_name"], alarm["origin"], alarm["priority"]) == (
        "Receiver disk space low",
        "equipment",
        2,
    )
    assert platform.taxonomy.get(560).basis.value == "equipment fault"
    signals = alarm["signals"]
    assert isinstance(signals, list)
    assert signals[0]["raw"].startswith("disk space low: 60.0 MiB free on the data disk")
    health = await client.get("/healthz")
    assert health.status_code == 200
    assert health.json()["reason"] == "disk_low"
    metrics = (await client.get("/metrics", headers=ADMIN)).text
    assert _metric(metrics, "watchfloor_disk_free_bytes") == 60 * MIB
    assert _metric(metrics, "watchfloor_disk_low") == 1
    assert _metric(metrics, "watchfloor_disk_intake_stopped") == 0
    assert disk.measured[-1] == settings.data_dir

    await _check(platform, disk, 59 * MIB)  # still low: reported once
    await _check(platform, disk, 105 * MIB)  # above the threshold, not by a tenth: still low
    assert len((await _disk_alarm(client))["signals"]) == 1  # type: ignore[arg-type]
    await _check(platform, disk, 200 * MIB)
    alarm = await _disk_alarm(client)
    signals = alarm["signals"]
    assert isinstance(signals, list)
    assert [s["raw"].split(":")[0] for s in signals] == ["disk space low", "disk space restored"]
    assert (await client.get("/healthz")).json() == {"status": "ok"}
    assert _metric((await client.get("/metrics", headers=ADMIN)).text, "watchfloor_disk_low") == 0


async def test_below_the_reserve_intake_stops_while_the_console_reads_and_acts(
    platform: Platform, client: httpx.AsyncClient, disk: FakeDisk
) -> None:
    host, port = platform.dc09_address
    async with open_tcp_panel(host, port) as panel:
        assert reply_token(await panel.exchange(sia_frame("1234", 1, "#1234|Nri1/BA05"))) == "ACK"
    [burglary] = (await client.get("/api/alarms", headers=ADMIN)).json()["items"]

    await _check(platform, disk, 3 * MIB)

    async with open_tcp_panel(host, port) as panel:
        assert await _no_reply(panel, sia_frame("1234", 2, "#1234|Nri1/FA06")) == b""
    pushed = await client.post(
        f"/ingest/hikvision/{SECRET}", content=ALERT, headers={"Content-Type": "application/xml"}
    )
    assert pushed.status_code == 503
    health = await client.get("/healthz")
    assert health.status_code == 503
    assert health.json()["reason"] == "disk_reserve"
    assert "intake stopped" in health.json()["detail"]
    # The operators still see and handle the queue, audited as ever.
    listed = await client.get("/api/alarms", headers=ADMIN)
    assert listed.status_code == 200
    acknowledged = await client.post(f"/api/alarms/{burglary['id']}/acknowledge", headers=ADMIN)
    assert acknowledged.status_code == 200, acknowledged.text
    alarm = await _disk_alarm(client)
    assert alarm["signals"][0]["raw"].startswith("disk space low, intake stopped")  # type: ignore[index]
    audited = [r.entry.action for r in await platform.audit_log.search(limit=20)]
    assert "alarm.acknowledge" in audited
    metrics = (await client.get("/metrics", headers=ADMIN)).text
    assert _metric(metrics, "watchfloor_disk_intake_stopped") == 1
    assert _metric(metrics, "watchfloor_disk_refused_total") == 2

    await _check(platform, disk, 50 * MIB)  # space freed: intake resumes, still low
    async with open_tcp_panel(host, port) as panel:  # the panel's retry
        assert reply_token(await panel.exchange(sia_frame("1234", 2, "#1234|Nri1/FA06"))) == "ACK"
    assert (await client.get("/healthz")).json()["reason"] == "disk_low"
    signals = (await _disk_alarm(client))["signals"]
    assert isinstance(signals, list)
    assert signals[-1]["raw"].startswith("intake resumed, disk space still low")


async def test_the_reserve_file_is_released_when_full_and_made_again(
    platform: Platform, client: httpx.AsyncClient, disk: FakeDisk, settings: Settings
) -> None:
    reserve = settings.data_dir / RESERVE_FILE
    assert reserve.stat().st_size == RESERVE
    assert reserve.stat().st_blocks * 512 >= RESERVE  # allocated, not sparse
    assert (
        _metric((await client.get("/metrics", headers=ADMIN)).text, "watchfloor_disk_reserve_held")
        == 1
    )

    await _check(platform, disk, RESERVE // 8)  # nearly full: the reserve gives its space
    assert not reserve.exists()
    assert (await client.get("/api/alarms", headers=ADMIN)).status_code == 200
    await _check(platform, disk, RESERVE + RESERVE // 2)  # above the reserve, file not back
    assert (await client.get("/healthz")).status_code == 503
    assert (
        _metric((await client.get("/metrics", headers=ADMIN)).text, "watchfloor_disk_reserve_held")
        == 0
    )

    await _check(platform, disk, 2 * RESERVE)  # room for the file and the reserve besides
    assert reserve.stat().st_size == RESERVE
    assert (await client.get("/healthz")).json()["reason"] == "disk_low"


async def test_the_reserve_file_goes_at_a_clean_stop(
    settings: Settings, clock: FakeClock, disk: FakeDisk
) -> None:
    watched = replace(settings, disk_low_bytes=LOW, disk_reserve_bytes=RESERVE)
    async with open_platform(watched, clock=clock, free_bytes=disk):
        assert (settings.data_dir / RESERVE_FILE).exists()
    assert not (settings.data_dir / RESERVE_FILE).exists()


async def test_a_store_report_that_fails_is_retried_at_the_next_check(
    platform: Platform, client: httpx.AsyncClient, disk: FakeDisk
) -> None:
    assert platform.disk_space is not None
    async with platform.engine.begin() as connection:  # the store refuses the next commit
        await connection.exec_driver_sql(
            "CREATE TRIGGER refuse BEFORE INSERT ON signals BEGIN SELECT RAISE(ABORT, 'full'); END"
        )
    await _check(platform, disk, 60 * MIB)
    assert platform.disk_space.counters["report_failed"] == 1
    async with platform.engine.begin() as connection:
        await connection.exec_driver_sql("DROP TRIGGER refuse")
    await _check(platform, disk, 60 * MIB)
    assert (await _disk_alarm(client))["signal_count"] == 1

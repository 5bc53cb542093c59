"""A real 12 MB filesystem filling up: the alarm, intake stopping, the reserve, recovery.

The data dir is on a tmpfs mounted for the test, which needs root; elsewhere it is skipped.
Free space is measured for real (``shutil.disk_usage``); checks are run by the test.
"""

from __future__ import annotations

import asyncio
import errno
import os
import shutil
import subprocess
from collections.abc import AsyncIterator, Iterator
from dataclasses import replace
from pathlib import Path

import httpx
import pytest

from conftest import TOKEN
from support.panel import TcpPanel, open_tcp_panel, reply_token, sia_frame
from watchfloor.app import Platform, open_platform
from watchfloor.config import Settings
from watchfloor.receivers.disk_space import RESERVE_FILE

ADMIN = {"Authorization": f"Bearer {TOKEN}"}
MIB = 1024 * 1024
RESERVE = 2 * MIB


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 12 MB tmpfs, unmounted afterwards."""
    mount_point = tmp_path / "small"
    mount_point.mkdir()
    mount, umount = shutil.which("mount"), shutil.which("umount")
    if os.geteuid() != 0 or mount is None or umount is None:
        pytest.skip("mounting a 12 MB tmpfs needs root and mount(8)")
    mounted = subprocess.run(  # noqa: S603 - fixed arguments, our own temporary directory
        [mount, "-t", "tmpfs", "-o", "size=12m,mode=0700", "tmpfs", str(mount_point)],
        capture_output=True,
        check=False,
    )
    if mounted.returncode != 0:
        pytest.skip(f"mount is not permitted here: {mounted.stderr.decode().strip()}")
    try:
        yield mount_point
    finally:
        subprocess.run([umount, "--lazy", str(mount_point)], check=True)  # noqa: S603 - as above


@pytest.fixture
async def platform(settings: Settings, small_disk: Path) -> AsyncIterator[Platform]:
    on_small_disk = replace(
        settings,
        data_dir=small_disk / "var",
        disk_low_bytes=5 * MIB,
        disk_reserve_bytes=RESERVE,
    )
    async with open_platform(on_small_disk) as running:
        await running.repository.add_account(account="1234", site="Depot", key=None)
        yield running


def _fill_to(filler: Path, free: int) -> None:
    """Grow the filler file until ``free`` bytes are left (or the disk is full)."""
    with filler.open("ab") as file:
        while (gap := shutil.disk_usage(filler.parent).free - free) > 0:
            try:
                file.write(b"\0" * min(gap, MIB))
                file.flush()
            except OSError as err:
                if err.errno != errno.ENOSPC:
                    raise
                return


async def _no_reply(panel: TcpPanel, frame: bytes) -> bytes:
    await panel.send(frame)
    panel.writer.write_eof()
    async with asyncio.timeout(10):
        return await panel.reader.read()


async def test_a_filling_disk_warns_then_stops_intake_and_keeps_the_console_working(
    platform: Platform, small_disk: Path
) -> None:
    watch = platform.disk_space
    assert watch is not None
    reserve = small_disk / "var" / RESERVE_FILE
    filler = small_disk / "filler"
    host, port = platform.dc09_address
    transport = httpx.ASGITransport(app=platform.api)
    async with httpx.AsyncClient(transport=transport, base_url="http://watchfloor") as client:
        assert reserve.stat().st_size == RESERVE
        async with open_tcp_panel(host, port) as panel:
            ack = await panel.exchange(sia_frame("1234", 1, "#1234|Nri1/BA05"))
            assert reply_token(ack) == "ACK"

        _fill_to(filler, 3 * MIB)
        assert (await watch.check()).level.value == "low"
        assert (await client.get("/healthz")).json()["reason"] == "disk_low"

        _fill_to(filler, RESERVE - MIB // 2)
        assert not (await watch.check()).intake_open
        async with open_tcp_panel(host, port) as panel:
            assert await _no_reply(panel, sia_frame("1234", 2, "#1234|Nri1/FA06")) == b""
        listed = await client.get("/api/alarms", headers=ADMIN)
        assert listed.status_code == 200
        types = {alarm["type_code"]: alarm["id"] for alarm in listed.json()["items"]}
        assert set(types) == {300, 560}  # the burglary and the disk alarm, no fire yet

        _fill_to(filler, 0)  # something else takes the rest: the reserve gives its space
        await watch.check()
        assert not reserve.exists()
        for _ in range(20):  # reading and acting still work, and are still audited
            assert (await client.get(f"/api/alarms/{types[300]}", headers=ADMIN)).is_success
        acted = await client.post(f"/api/alarms/{types[300]}/acknowledge", headers=ADMIN)
        assert acted.status_code == 200, acted.text
        assert (await client.get("/healthz")).status_code == 503

        filler.unlink()
        space = await watch.check()
        assert space.intake_open
        assert reserve.stat().st_size == RESERVE
        async with open_tcp_panel(host, port) as panel:  # the panel's retry is stored now
            ack = await panel.exchange(sia_frame("1234", 2, "#1234|Nri1/FA06"))
            assert reply_token(ack) == "ACK"
        assert (await client.get("/healthz")).status_code == 200

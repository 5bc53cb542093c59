"""Crash safety: every frame the server ACKed survives SIGKILL and a restart."""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path

import pytest

from support.panel import open_tcp_panel, reply_token, sia_frame
from support.server import ServerProcess, run_server

pytestmark = pytest.mark.slow

PANELS = 8
FRAMES_PER_PANEL = 400


async def _stream_until_killed(server: ServerProcess, acked: set[tuple[str, str]]) -> None:
    """Panels stream frames (stop-and-wait); the server is killed once some are ACKed."""
    enough = asyncio.Event()

    async def panel(index: int) -> None:
        account = f"{0xA00 + index:X}"
        with contextlib.suppress(ConnectionError, OSError, TimeoutError):
            async with open_tcp_panel("127.0.0.1", server.dc09_port) as connection:
                for seq in range(1, FRAMES_PER_PANEL + 1):
                    reply = await connection.exchange(sia_frame(account, seq))
                    if reply_token(reply) == "ACK":
                        acked.add((account, f"{seq:04d}"))
                    if len(acked) >= PANELS * 20:
                        enough.set()

    async def killer() -> None:
        await enough.wait()
        server.kill()

    async with asyncio.timeout(120):
        await asyncio.gather(*(panel(i) for i in range(PANELS)), killer())


def test_every_acked_frame_survives_sigkill(tmp_path: Path) -> None:
    data_dir = tmp_path / "var"
    acked: set[tuple[str, str]] = set()
    with run_server(data_dir) as server:
        with server.client() as client:
            for index in range(PANELS):
                account = f"{0xA00 + index:X}"
                assert client.post("/api/accounts", json={"account": account}).status_code == 201
        asyncio.run(_stream_until_killed(server, acked))
        assert server.process.returncode == -9
    assert len(acked) >= PANELS * 20
    assert len(acked) < PANELS * FRAMES_PER_PANEL, "the kill came after the stream ended"

    with run_server(data_dir) as server, server.client() as client:
        stored: set[tuple[str, str]] = set()
        for index in range(PANELS):
            account = f"{0xA00 + index:X}"
            after: int | None = None
            while True:
                params: dict[str, str | int] = {"device": account, "limit": 1000}
                if after is not None:
                    params["after"] = after
                items = client.get("/api/signals", params=params).json()["items"]
                stored.update((s["account"], s["seq"]) for s in items)
                if len(items) < 1000:
                    break
                after = items[-1]["id"]
    missing = acked - stored
    assert not missing, f"{len(missing)} ACKed frames lost, e.g. {sorted(missing)[:5]}"

"""The whole platform on uvicorn in a thread of this process, on a clock the test moves."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import uvicorn

from support.clock import FakeClock
from support.server import free_port
from watchfloor.app import open_platform
from watchfloor.config import Settings

__all__ = ["serve_in_thread"]


@contextmanager
def serve_in_thread(settings: Settings, clock: FakeClock, *, timeout: float = 30) -> Iterator[str]:
    """Serve the platform with ``clock`` on a free port; yield its base URL.

    Unlike ``run_server`` (a real process on the system clock), time here is the test's:
    session timeouts and rate-limit windows pass when the test advances ``clock``.
    """
    port = free_port()
    started = threading.Event()
    failure: list[BaseException] = []
    holder: list[uvicorn.Server] = []

    async def run() -> None:
        async with open_platform(settings, clock=clock) as platform:
            config = uvicorn.Config(
                platform.api, host="127.0.0.1", port=port, log_config=None, lifespan="off"
            )
            server = uvicorn.Server(config)
            holder.append(server)
            serving = asyncio.create_task(server.serve())
            while not server.started and not serving.done():  # noqa: ASYNC110 - uvicorn has no event
                await asyncio.sleep(0.01)
            started.set()
            await serving

    def main() -> None:
        try:
            asyncio.run(run())
        except BaseException as err:  # noqa: BLE001 - handed to the test's thread
            failure.append(err)
        finally:
            started.set()

    thread = threading.Thread(target=main, name="platform", daemon=True)
    thread.start()
    started.wait(timeout)
    try:
        if failure or not holder or not holder[0].started:
            raise RuntimeError(f"the platform did not start: {failure}")
        yield f"http://127.0.0.1:{port}"
    finally:
        if holder:
            holder[0].should_exit = True
        thread.join(timeout)

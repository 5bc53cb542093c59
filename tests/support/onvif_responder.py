"""A local ONVIF camera: a SOAP responder on 127.0.0.1 that answers from recorded replies.

It speaks just enough HTTP/1.1 (keep-alive, Content-Length) for onvif-zeep-async: device
discovery (GetServices), CreatePullPointSubscription, PullMessages (the queued replies, then
an empty one after the requested Timeout or a ``wake``), Renew and Unsubscribe. ``down``
makes it drop every connection; ``reboot`` forgets the subscriptions, as a camera that
restarted does.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from pathlib import Path

from defusedxml.ElementTree import fromstring

from support.clock import FakeClock

__all__ = ["DATA", "OnvifResponder", "open_onvif_responder"]

DATA = Path(__file__).parent.parent / "data" / "onvif"
_SOAP = DATA / "soap"
_BODY = "{http://www.w3.org/2003/05/soap-envelope}Body"
_TIMEOUT = re.compile(rb"PT(\d+)S")
_INDEX = re.compile(r"Idx=(\d+)")


class OnvifResponder:
    """The camera; tests queue PullMessages replies and read ``operations``."""

    def __init__(self, clock: FakeClock, *, lifetime: timedelta) -> None:
        self._clock = clock
        self._lifetime = lifetime
        self.base = ""
        self.operations: list[str] = []
        self.renewed_at: list[float] = []
        self.subscribed_at: list[float] = []
        self.down = False
        self._replies: list[bytes] = []
        self._subscriptions: set[str] = set()
        self._next_index = 0
        self._changed = asyncio.Condition()
        self._wake = asyncio.Event()

    def queue(self, *replies: bytes) -> None:
        """Serve these bodies, in order, to the next PullMessages requests."""
        self._replies.extend(replies)
        self.wake()

    def wake(self) -> None:
        """Answer the waiting PullMessages requests now (empty, or with queued replies)."""
        self._wake.set()

    def reboot(self) -> None:
        """Forget every subscription; pulls on them get a SOAP fault from now on."""
        self._subscriptions.clear()

    def count(self, operation: str) -> int:
        return self.operations.count(operation)

    async def wait_for(self, operation: str, count: int) -> None:
        """Wait (bounded) until ``operation`` has been requested ``count`` times."""
        async with asyncio.timeout(30), self._changed:
            await self._changed.wait_for(lambda: self.count(operation) >= count)

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await self._read_head(reader)
                if head is None:
                    return
                request_line = head.split(b"\r\n", 1)[0].decode()
                length = int(re.search(rb"(?i)content-length:\s*(\d+)", head)[1])  # type: ignore[index]
                body = await reader.readexactly(length)
                if self.down:
                    writer.transport.abort()
                    return
                status, reply = await self._answer(request_line, body)
                writer.write(
                    f"HTTP/1.1 {status}\r\nContent-Type: application/soap+xml; charset=utf-8\r\n"
                    f"Content-Length: {len(reply)}\r\n\r\n".encode()
                    + reply
                )
                await writer.drain()
        finally:
            writer.close()

    @staticmethod
    async def _read_head(reader: asyncio.StreamReader) -> bytes | None:
        try:
            return await reader.readuntil(b"\r\n\r\n")
        except (asyncio.IncompleteReadError, ConnectionError):
            return None

    async def _answer(self, request_line: str, body: bytes) -> tuple[str, bytes]:
        operation = fromstring(body).find(_BODY)[0].tag.rsplit("}", 1)[-1]  # type: ignore[index]
        async with self._changed:
            self.operations.append(operation)
            self._changed.notify_all()
        index = _INDEX.search(request_line)
        subscription = index[1] if index else None
        if operation in ("PullMessages", "Renew", "Unsubscribe") and (
            subscription not in self._subscriptions
        ):
            return "500 Internal Server Error", (
                _SOAP / "fault_unknown_subscription.xml"
            ).read_bytes()
        if operation == "PullMessages":
            return "200 OK", await self._pull(body)
        if operation == "CreatePullPointSubscription":
            self._next_index += 1
            self._subscriptions.add(str(self._next_index))
            self.subscribed_at.append(self._clock.monotonic())
            return "200 OK", self._fill("create_pull_point_subscription.xml")
        if operation == "Renew":
            self.renewed_at.append(self._clock.monotonic())
            return "200 OK", self._fill("renew.xml")
        if operation == "Unsubscribe":
            self._subscriptions.discard(subscription or "")
            return "200 OK", self._fill("unsubscribe.xml")
        return "200 OK", self._fill("get_services.xml")

    async def _pull(self, body: bytes) -> bytes:
        if not self._replies:
            timeout = _TIMEOUT.search(body)
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(int(timeout[1]) if timeout else 1):
                    await self._wake.wait()
            self._wake.clear()
        if self._replies:
            return self._replies.pop(0)
        return (DATA / "empty.xml").read_bytes()

    def _fill(self, name: str) -> bytes:
        now = self._clock.now()
        text = (_SOAP / name).read_text()
        for key, value in {
            "{base}": self.base,
            "{index}": str(self._next_index),
            "{current_time}": now.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "{termination_time}": (now + self._lifetime).strftime("%Y-%m-%dT%H:%M:%SZ"),
        }.items():
            text = text.replace(key, value)
        return text.encode()


@asynccontextmanager
async def open_onvif_responder(
    clock: FakeClock, *, lifetime: timedelta = timedelta(seconds=60)
) -> AsyncIterator[OnvifResponder]:
    """Start a responder on 127.0.0.1, port 0; ``base`` is its URL."""
    responder = OnvifResponder(clock, lifetime=lifetime)
    server = await asyncio.start_server(responder.handle, "127.0.0.1", 0)
    host, port = server.sockets[0].getsockname()[:2]
    responder.base = f"http://{host}:{port}"
    try:
        yield responder
    finally:
        server.close()
        responder.down = True
        responder.wake()
        await server.wait_closed()

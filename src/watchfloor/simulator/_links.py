"""A simulated panel's link to the receiver: one TCP connection or one UDP socket."""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from typing import Protocol

from watchfloor.codecs.dc09 import FrameSplitter
from watchfloor.codecs.errors import FramingError

__all__ = ["CLOSE_TIMEOUT", "PanelLink", "TcpLink", "UdpLink"]

CLOSE_TIMEOUT = 1.0
"""Seconds a TCP close may wait for unsent bytes before the connection is aborted."""

_MAX_REPLY = 4096
_READ_SIZE = 4096
# Replies queued for a UDP panel that is not reading: one at a time is expected, so a
# flood beyond this is dropped rather than held.
_UDP_BACKLOG = 64


class PanelLink(Protocol):
    """How a panel reaches the receiver. The caller bounds every call with a timeout.

    ``send`` and ``receive`` raise ``OSError`` (``ConnectionError`` included) when the link
    fails; the next ``send`` then opens it again.
    """

    connects: int
    """How many times the link was opened."""

    async def send(self, frame: bytes) -> None:
        """Send one frame, opening the link first if needed."""

    async def receive(self) -> bytes:
        """Return the next reply frame, without LF and CR."""

    async def close(self) -> None:
        """Close the link; a later ``send`` opens it again."""


class TcpLink:
    """One TCP connection, opened on first use and again after the receiver closes it."""

    def __init__(self, host: str, port: int) -> None:
        self._host = host
        self._port = port
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._splitter = FrameSplitter(max_frame_size=_MAX_REPLY)
        self._replies: deque[bytes] = deque()
        self.connects = 0

    async def send(self, frame: bytes) -> None:
        """Send one frame on the connection, reconnecting if the receiver closed it."""
        if self._reader is not None and self._reader.at_eof():
            # The receiver closed an idle connection: a panel reconnects before it sends.
            await self.close()
        if self._writer is None:
            self._reader, self._writer = await asyncio.open_connection(self._host, self._port)
            self._splitter = FrameSplitter(max_frame_size=_MAX_REPLY)
            self._replies.clear()
            self.connects += 1
        try:
            self._writer.write(frame)
            await self._writer.drain()
        except OSError:
            await self.close()
            raise

    async def receive(self) -> bytes:
        """Return the next reply frame on the connection.

        Raises:
            ConnectionError: the connection is closed (by the receiver or after a failure).
        """
        while not self._replies:
            if self._reader is None:
                raise ConnectionError("not connected")
            try:
                chunk = await self._reader.read(_READ_SIZE)
            except OSError:
                await self.close()
                raise
            if not chunk:
                await self.close()
                raise ConnectionError("receiver closed the connection")
            try:
                self._replies.extend(self._splitter.feed(chunk))
            except FramingError as err:
                # An oversize reply is dropped; the good frames of the same read still count.
                self._replies.extend(err.frames)
        return self._replies.popleft()

    async def close(self) -> None:
        """Close the connection (idempotent)."""
        writer, self._reader, self._writer = self._writer, None, None
        if writer is None:
            return
        writer.close()
        try:
            # Closing waits for unsent bytes; a receiver that stopped reading would hold it.
            async with asyncio.timeout(CLOSE_TIMEOUT):
                await writer.wait_closed()
        except TimeoutError:
            writer.transport.abort()
        except OSError:
            pass


class _Datagrams(asyncio.DatagramProtocol):
    def __init__(self, queue: asyncio.Queue[bytes | OSError]) -> None:
        self._queue = queue

    def datagram_received(self, data: bytes, addr: tuple[str | object, ...]) -> None:
        with contextlib.suppress(asyncio.QueueFull):
            self._queue.put_nowait(data)

    def error_received(self, exc: Exception) -> None:
        # A connected UDP socket learns of "port unreachable" here (ICMP).
        with contextlib.suppress(asyncio.QueueFull):
            self._queue.put_nowait(exc if isinstance(exc, OSError) else OSError(str(exc)))


class UdpLink:
    """One connected UDP socket: each frame is a datagram, each reply a datagram."""

    def __init__(self, host: str, port: int) -> None:
        self._host = host
        self._port = port
        self._transport: asyncio.DatagramTransport | None = None
        self._queue: asyncio.Queue[bytes | OSError] = asyncio.Queue(maxsize=_UDP_BACKLOG)
        self.connects = 0

    async def send(self, frame: bytes) -> None:
        """Send one frame as one datagram, opening the socket first if needed."""
        if self._transport is None:
            loop = asyncio.get_running_loop()
            self._transport, _ = await loop.create_datagram_endpoint(
                lambda: _Datagrams(self._queue), remote_addr=(self._host, self._port)
            )
            self.connects += 1
        self._transport.sendto(frame)

    async def receive(self) -> bytes:
        """Return the next reply datagram's frame.

        Raises:
            OSError: the network reported the datagram undeliverable (nothing listens).
        """
        item = await self._queue.get()
        if isinstance(item, OSError):
            raise item
        # DC-09 over UDP: one datagram is one frame, with or without its LF and CR.
        return item.strip(b"\r\n")

    async def close(self) -> None:
        """Close the socket (idempotent); replies still queued are dropped."""
        transport, self._transport = self._transport, None
        if transport is not None:
            transport.close()
        while not self._queue.empty():
            self._queue.get_nowait()

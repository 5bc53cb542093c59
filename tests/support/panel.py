"""A DC-09 panel over real loopback sockets, built from the codec's own encode functions."""

from __future__ import annotations

import asyncio
import contextlib
import re
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from watchfloor.codecs.dc09 import FrameSplitter, encode_frame

__all__ = ["TcpPanel", "open_tcp_panel", "reply_token", "sia_frame", "udp_exchange"]

#: Generous: a loaded CI machine must not fail a test that is only waiting for a reply.
REPLY_TIMEOUT = 10.0
_TOKEN = re.compile(rb'"(\*?[A-Z-]+)"')


def sia_frame(account: str, seq: int, data: str | None = None, **kwargs: object) -> bytes:
    """A SIA DCS burglary frame from ``account`` with sequence number ``seq``."""
    body = data if data is not None else f"#{account}|Nri1/BA05"
    return encode_frame(token="SIA-DCS", seq=f"{seq:04d}", account=account, data=body, **kwargs)  # type: ignore[arg-type]


class TcpPanel:
    """One panel connection: send frames, read the receiver's replies frame by frame."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        self._splitter = FrameSplitter(max_frame_size=4096)
        self._replies: list[bytes] = []

    async def send(self, data: bytes) -> None:
        self.writer.write(data)
        await self.writer.drain()

    async def reply(self) -> bytes:
        """The next reply frame (without LF/CR)."""
        async with asyncio.timeout(REPLY_TIMEOUT):
            while not self._replies:
                chunk = await self.reader.read(4096)
                if not chunk:
                    raise ConnectionError("receiver closed the connection")
                self._replies.extend(self._splitter.feed(chunk))
        return self._replies.pop(0)

    async def exchange(self, frame: bytes) -> bytes:
        await self.send(frame)
        return await self.reply()

    async def closed_by_peer(self) -> bool:
        async with asyncio.timeout(REPLY_TIMEOUT):
            return await self.reader.read(1) == b""


@asynccontextmanager
async def open_tcp_panel(host: str, port: int) -> AsyncIterator[TcpPanel]:
    reader, writer = await asyncio.open_connection(host, port)
    try:
        yield TcpPanel(reader, writer)
    finally:
        writer.close()
        with contextlib.suppress(ConnectionError, OSError):
            await writer.wait_closed()


def reply_token(reply: bytes) -> str:
    """The token of a reply frame: ACK, *ACK, NAK or DUH."""
    match = _TOKEN.search(reply)
    if match is None:
        raise AssertionError(f"not a DC-09 reply: {reply!r}")
    return match.group(1).decode()


async def udp_exchange(host: str, port: int, frame: bytes) -> bytes:
    """Send one datagram and return the reply datagram (LF/CR stripped)."""
    loop = asyncio.get_running_loop()
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.setblocking(False)
    try:
        sock.connect((host, port))
        await loop.sock_sendall(sock, frame)
        async with asyncio.timeout(REPLY_TIMEOUT):
            data = await loop.sock_recv(sock, 4096)
    finally:
        sock.close()
    return data.strip(b"\n\r")

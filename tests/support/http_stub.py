"""A tiny HTTP/1.1 server on a loopback port, answering from a route table, for device stubs."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

__all__ = ["Request", "StubServer", "open_stub_server"]


@dataclass(frozen=True)
class Request:
    """What the stub received: method, path and headers (names lower-case)."""

    method: str
    path: str
    headers: dict[str, str]


#: A handler writes the whole response itself (status line, headers, body, or a stream).
Handler = Callable[[Request, asyncio.StreamWriter], Awaitable[None]]


@dataclass
class StubServer:
    """A running stub: its base URL and every request it has received, in order."""

    base_url: str
    requests: list[Request] = field(default_factory=list)


def response(status: str, body: bytes, content_type: str = "text/plain") -> bytes:
    """Return a complete HTTP/1.1 response that closes the connection."""
    head = (
        f"HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\n"
        f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
    )
    return head.encode() + body


@asynccontextmanager
async def open_stub_server(handler: Handler) -> AsyncIterator[StubServer]:
    """Serve ``handler`` on 127.0.0.1 (port 0) for the duration of the block."""
    stub = StubServer(base_url="")

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                lines = head.decode("latin-1").split("\r\n")
                method, path, _ = lines[0].split(" ", 2)
                headers = {}
                for line in lines[1:]:
                    name, sep, value = line.partition(":")
                    if sep:
                        headers[name.strip().lower()] = value.strip()
                request = Request(method=method, path=path, headers=headers)
                stub.requests.append(request)
                await handler(request, writer)
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()
            with contextlib.suppress(ConnectionError, OSError):
                await writer.wait_closed()

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    stub.base_url = f"http://127.0.0.1:{port}"
    try:
        yield stub
    finally:
        server.close()
        await server.wait_closed()

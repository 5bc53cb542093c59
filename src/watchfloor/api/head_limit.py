"""The HTTP server's limit on a request's head (request line and headers): 431 beyond it.

The application only sees a request once its head is complete, and the HTTP parser buffers
the head until then: without a bound, a 50 MiB header is read into memory and answered.
``head_limited_protocol`` returns uvicorn's httptools protocol with a bound on the head:

- while a head is incomplete, the bytes received for it are counted, so a huge head is
  refused after at most one read past the limit (memory stays bounded);
- once it is complete, its exact size (request line and header fields) is checked, so a head
  over the limit that arrived in a single read is refused too.

A refused request gets ``431 Request Header Fields Too Large`` with a JSON body like the
application's errors, and the connection is half-closed: what the client still sends is read
and dropped for a few seconds (closing with unread data would reset the connection and could
destroy the answer before the client reads it).
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from typing import Any, ClassVar

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

__all__ = ["head_limited_protocol"]

logger = logging.getLogger(__name__)

#: Seconds a refused connection keeps reading (and dropping) before it is closed.
_LINGER_SECONDS = 5.0
#: Seconds between two log lines about refused heads.
_LOG_INTERVAL = 60.0
# The bytes a header field adds to the head besides its name and value: ": " and CRLF.
_FIELD_OVERHEAD = 4


class _HeadLimitedProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol, refusing request heads above ``max_head_bytes``."""

    max_head_bytes: ClassVar[int] = 64 * 1024
    _last_logged: ClassVar[float | None] = None
    _refused_since_log: ClassVar[int] = 0

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._in_head = False
        self._received = 0  # bytes read since the head began
        self._head_size = 0  # bytes of the head parsed so far
        self._refused = False

    def data_received(self, data: bytes) -> None:
        """Feed the parser, refusing the request once its head is too large."""
        if self._refused:
            return
        super().data_received(data)
        if self._in_head and not self._refused:
            self._received += len(data)
            if self._received > self.max_head_bytes:
                self._refuse()

    def on_message_begin(self) -> None:
        """Start counting a new request's head."""
        super().on_message_begin()
        self._in_head = True
        self._received = 0
        self._head_size = len(b"GET  HTTP/1.1\r\n\r\n")

    def on_url(self, url: bytes) -> None:
        """Count the request target into the head."""
        if self._refused:
            return
        self._head_size += len(url)
        super().on_url(url)

    def on_header(self, name: bytes, value: bytes) -> None:
        """Count a header field into the head."""
        if self._refused:
            return
        self._head_size += len(name) + len(value) + _FIELD_OVERHEAD
        super().on_header(name, value)

    def on_headers_complete(self) -> None:
        """Hand a head within the limit to the application; refuse a larger one."""
        self._in_head = False
        if self._refused:
            return
        if self._head_size > self.max_head_bytes:
            self._refuse()
            return
        super().on_headers_complete()

    def on_body(self, body: bytes) -> None:
        """Pass the body on, unless the request was refused."""
        if not self._refused:
            super().on_body(body)

    def on_message_complete(self) -> None:
        """End the request, unless it was refused."""
        if not self._refused:
            super().on_message_complete()

    def handle_websocket_upgrade(self) -> None:
        """Upgrade to a WebSocket, unless the request was refused."""
        if not self._refused:
            super().handle_websocket_upgrade()

    def _refuse(self) -> None:
        self._refused = True
        self._in_head = False
        body = json.dumps(
            {
                "error": "header_too_large",
                "detail": f"the request line and headers exceed {self.max_head_bytes} bytes",
            }
        ).encode()
        self.transport.write(
            b"HTTP/1.1 431 Request Header Fields Too Large\r\n"
            b"content-type: application/json\r\n"
            b"content-length: " + str(len(body)).encode() + b"\r\n"
            b"connection: close\r\n\r\n" + body
        )
        if self.transport.can_write_eof():
            self.transport.write_eof()
        asyncio.get_running_loop().call_later(_LINGER_SECONDS, self.transport.close)
        self._log_refusal()

    def _log_refusal(self) -> None:
        cls = _HeadLimitedProtocol
        now = time.monotonic()
        if cls._last_logged is not None and now - cls._last_logged < _LOG_INTERVAL:
            cls._refused_since_log += 1
            return
        logger.warning(
            "HTTP request from %s refused with 431: its head exceeds %d bytes"
            " (%d more refused since the last such line)",
            self.client[0] if self.client else "-",
            self.max_head_bytes,
            cls._refused_since_log,
        )
        cls._last_logged = now
        cls._refused_since_log = 0


def head_limited_protocol(max_head_bytes: int) -> type[asyncio.Protocol]:
    """Return the HTTP protocol class for uvicorn's ``http`` option, with this head limit."""
    return type("HeadLimitedProtocol", (_HeadLimitedProtocol,), {"max_head_bytes": max_head_bytes})

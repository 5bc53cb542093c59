"""MIME multipart bodies (RFC 2046 §5.1) cut into parts, whole or incrementally from a stream.

Theory of operation: a delimiter is a line ``--boundary`` (the close delimiter adds ``--``).
Cameras send CRLF or bare LF line ends, and some declare a boundary that already starts with
``--``: both are accepted. A part's headers end at the first empty line; its body ends where
the next delimiter or, when that has not arrived yet, where its ``Content-Length`` says. Text before the first
delimiter is the preamble and is ignored, as RFC 2046 says. The splitter keeps at most
``max_part`` bytes of an unfinished part, so a stream that never delimits cannot grow memory.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from email.message import Message

from watchfloor.codecs.errors import FormatError, FramingError

__all__ = ["MultipartSplitter", "Part", "boundary_of", "media_type_of"]

# A part with no headers starts with its empty line.
_HEADER_END = re.compile(rb"(?:\A|\r?\n)\r?\n")
_LINE_END = re.compile(rb"\r?\n")


@dataclass(frozen=True, slots=True, kw_only=True)
class Part:
    """One part of a multipart body: its headers (names lower-cased) and its body."""

    headers: tuple[tuple[str, str], ...]
    body: bytes

    def header(self, name: str) -> str | None:
        """Return the first value of a header (by lower-case name), if present."""
        return next((value for key, value in self.headers if key == name), None)

    @property
    def content_type(self) -> str:
        """The part's media type, lower-case, without parameters ('' when absent)."""
        return media_type_of(self.header("content-type") or "")


def media_type_of(content_type: str) -> str:
    """Return the media type of a Content-Type value, lower-case, without parameters."""
    return content_type.split(";", 1)[0].strip().lower()


def boundary_of(content_type: str) -> str:
    """Return the boundary parameter of a multipart Content-Type value.

    Raises:
        FormatError: the value names no boundary.
    """
    message = Message()
    message["content-type"] = content_type
    boundary = message.get_param("boundary")
    if not isinstance(boundary, str) or not boundary.strip():
        raise FormatError(f"multipart content type without a boundary: {content_type[:100]!r}")
    return boundary.strip()


class MultipartSplitter:
    """Cut a multipart body, fed in chunks of any size, into its parts.

    ``feed`` returns the parts completed by the chunk; ``closed`` tells whether the close
    delimiter was seen (a whole body without it is truncated). One splitter per body or
    stream; it keeps no other state.
    """

    __slots__ = ("_buffer", "_closed", "_delimiters", "_in_part", "_max_part")

    def __init__(self, boundary: str, *, max_part: int = 10 * 1024 * 1024) -> None:
        raw = boundary.encode("latin-1", "replace")
        delimiters = [b"--" + raw]
        if raw.startswith(b"--"):
            delimiters.append(raw)
        self._delimiters = tuple(delimiters)
        self._max_part = max_part
        self._buffer = bytearray()
        self._in_part = False
        self._closed = False

    @property
    def closed(self) -> bool:
        """Whether the close delimiter (``--boundary--``) has been seen."""
        return self._closed

    def feed(self, data: bytes) -> list[Part]:
        """Add bytes; return the parts they complete, in order.

        Raises:
            FramingError: an unfinished part grew beyond ``max_part`` bytes.
        """
        if self._closed:
            return []
        self._buffer += data
        parts: list[Part] = []
        # ``_next_part`` returns None once it needs more bytes or has met the close delimiter.
        while (part := self._next_part()) is not None:
            parts.append(part)
        if len(self._buffer) > self._max_part:
            self._buffer.clear()
            raise FramingError(f"a multipart part exceeds {self._max_part} bytes")
        return parts

    def _next_part(self) -> Part | None:
        if not self._in_part:
            found = self._find_delimiter(0)
            if found is None:
                # Keep the tail: a delimiter may be split across chunks.
                del self._buffer[: max(0, len(self._buffer) - 256)]
                return None
            _, end, closing = found
            del self._buffer[:end]
            if closing:
                self._closed = True
                return None
            self._in_part = True
        header_end = _HEADER_END.search(self._buffer)
        if header_end is None:
            return None
        headers = _parse_headers(bytes(self._buffer[: header_end.start()]))
        body_start = header_end.end()
        found = self._find_delimiter(body_start)
        length = _content_length(headers)
        if found is not None:
            body = bytes(self._buffer[body_start : found[0]])
            # The line end before a delimiter belongs to the delimiter (RFC 2046 §5.1.1).
            body = body.removesuffix(b"\n").removesuffix(b"\r")
            del self._buffer[: found[0]]
        elif length is not None and len(self._buffer) - body_start >= length:
            # A live stream sends the next delimiter only with the next event: the length
            # lets the part out now. The delimiter wins when both are there, because some
            # devices send lengths that do not match their bodies.
            body = bytes(self._buffer[body_start : body_start + length])
            del self._buffer[: body_start + length]
        else:
            return None
        self._in_part = False
        return Part(headers=headers, body=body)

    def _find_delimiter(self, offset: int) -> tuple[int, int, bool] | None:
        """Return (start, end past its line, closing) of the first whole delimiter line.

        Only delimiters at or after ``offset`` count.
        """
        best: tuple[int, int, bool] | None = None
        for delimiter in self._delimiters:
            position = offset
            while (index := self._buffer.find(delimiter, position)) >= 0:
                position = index + 1
                at_line_start = index == 0 or self._buffer[index - 1 : index] == b"\n"
                if not at_line_start:
                    continue
                after = index + len(delimiter)
                if self._buffer[after : after + 2] == b"--":
                    candidate = (index, after + 2, True)
                else:
                    line_end = _LINE_END.search(self._buffer, after)
                    if line_end is None:
                        break  # the delimiter line is not complete yet
                    if self._buffer[after : line_end.start()].strip():
                        continue  # a longer boundary that merely starts with ours
                    candidate = (index, line_end.end(), False)
                if best is None or candidate[0] < best[0]:
                    best = candidate
                break
        return best


def _parse_headers(block: bytes) -> tuple[tuple[str, str], ...]:
    headers: list[tuple[str, str]] = []
    for line in _LINE_END.split(block):
        name, sep, value = line.decode("latin-1").partition(":")
        if sep and name.strip():
            headers.append((name.strip().lower(), value.strip()))
    return tuple(headers)


def _content_length(headers: tuple[tuple[str, str], ...]) -> int | None:
    value = next((v for k, v in headers if k == "content-length"), None)
    if value is None or not value.isdigit():
        return None
    return int(value)

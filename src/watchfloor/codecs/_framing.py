"""DC-09 stream framing (LF ... CR) and the CRC-16/ARC that protects each frame."""

from __future__ import annotations

from watchfloor.codecs.errors import FramingError

__all__ = ["FrameSplitter", "crc16_arc"]


def _crc_table() -> tuple[int, ...]:
    table = []
    for byte in range(256):
        crc = byte
        for _ in range(8):
            crc = (crc >> 1) ^ 0xA001 if crc & 1 else crc >> 1
        table.append(crc)
    return tuple(table)


_CRC_TABLE = _crc_table()


def crc16_arc(data: bytes) -> int:
    """Return the CRC-16/ARC of ``data`` (poly 0x8005 reflected, init 0, no final xor).

    DC-09 (corpus README) computes it over the bytes from the first '"' to the byte before CR.
    """
    crc = 0
    for byte in data:
        crc = (crc >> 8) ^ _CRC_TABLE[(crc ^ byte) & 0xFF]
    return crc


class FrameSplitter:
    """Cut one connection's byte stream into frames delimited by LF ... CR (DC-09 framing).

    Several frames in one read and one frame over several reads both work. Bytes outside
    LF ... CR are dropped (and counted in ``dropped``); an LF inside a frame starts a new frame
    (the partial one was truncated). Empty frames are skipped. Keep one splitter per
    connection; it holds no other state.
    """

    __slots__ = ("_buffer", "_dropped", "_in_frame", "_max_frame_size")

    def __init__(self, *, max_frame_size: int = 1024) -> None:
        if max_frame_size < 1:
            raise ValueError("max_frame_size must be positive")
        self._max_frame_size = max_frame_size
        self._buffer = bytearray()
        self._in_frame = False
        self._dropped = 0

    @property
    def pending(self) -> int:
        """Bytes of an incomplete frame held for the next ``feed``."""
        return len(self._buffer)

    @property
    def dropped(self) -> int:
        """Bytes discarded so far: outside any frame, truncated or oversize frames."""
        return self._dropped

    def feed(self, data: bytes) -> list[bytes]:
        """Add bytes read from the connection and return the frames they complete.

        Args:
            data: the next bytes of the stream, cut anywhere.

        Returns:
            The complete frames, in order, each without its LF and CR.

        Raises:
            FramingError: a frame grew past ``max_frame_size``; it is discarded, the splitter
                stays usable, and the good frames of the same ``data`` are in ``err.frames``.
        """
        frames: list[bytes] = []
        oversize = 0
        pos, end = 0, len(data)
        while pos < end:
            if not self._in_frame:
                lf = data.find(b"\n", pos)
                if lf < 0:
                    self._dropped += end - pos
                    break
                self._dropped += lf - pos
                self._in_frame = True
                pos = lf + 1
                continue
            cr = data.find(b"\r", pos)
            lf = data.find(b"\n", pos)
            if lf >= 0 and (cr < 0 or lf < cr):
                # A new LF before CR: the partial frame was truncated; resynchronise here.
                self._dropped += len(self._buffer) + lf - pos
                self._buffer.clear()
                pos = lf + 1
                continue
            stop = end if cr < 0 else cr
            self._buffer += data[pos:stop]
            pos = stop + 1
            if len(self._buffer) > self._max_frame_size:
                oversize += 1
                self._dropped += len(self._buffer)
                self._buffer.clear()
                self._in_frame = False
            elif cr >= 0:
                if self._buffer:
                    frames.append(bytes(self._buffer))
                self._buffer.clear()
                self._in_frame = False
        if oversize:
            raise FramingError(
                f"{oversize} frame(s) longer than {self._max_frame_size} bytes discarded",
                frames=tuple(frames),
            )
        return frames

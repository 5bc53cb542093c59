"""The codec error hierarchy: every decode failure says what the sender is owed."""

from __future__ import annotations

from enum import StrEnum
from typing import TYPE_CHECKING, ClassVar

if TYPE_CHECKING:  # the frame type only annotates ``DecodeError.frame``; no runtime cycle
    from watchfloor.codecs.dc09 import Dc09Frame

__all__ = [
    "ChecksumError",
    "DecodeError",
    "DecryptionError",
    "FormatError",
    "FramingError",
    "Reply",
    "TimestampError",
    "UnsupportedMessageError",
]


class Reply(StrEnum):
    """What a receiver owes the sender of input that failed to decode."""

    NONE = "none"
    NAK = "nak"
    DUH = "duh"


class DecodeError(Exception):
    """Input that cannot be decoded; the root of every codec error.

    Attributes:
        reply: what the receiver should send back (a class constant of each subclass).
        frame: the DC-09 frame, when the failure happened after its header was read, so that
            a DUH can echo its sequence number, receiver, prefix and account.
    """

    reply: ClassVar[Reply] = Reply.DUH

    def __init__(self, message: str, *, frame: Dc09Frame | None = None) -> None:
        super().__init__(message)
        self.frame = frame


class FramingError(DecodeError):
    """The byte stream holds an oversize frame or garbage; nothing can be answered.

    Attributes:
        frames: complete frames found in the same chunk of input before and after the
            oversize one, so that no good frame is lost with the bad one.
    """

    reply: ClassVar[Reply] = Reply.NONE

    def __init__(self, message: str, *, frames: tuple[bytes, ...] = ()) -> None:
        super().__init__(message)
        self.frames = frames


class ChecksumError(DecodeError):
    """Bad CRC or length field: no reply, the panel retransmits (DC-09 App. C.2.3.5)."""

    reply: ClassVar[Reply] = Reply.NONE


class FormatError(DecodeError):
    """The checksum is right but the header or body is malformed: DUH."""

    reply: ClassVar[Reply] = Reply.DUH


class UnsupportedMessageError(DecodeError):
    """A well-formed message this receiver does not support (e.g. an unknown token): DUH."""

    reply: ClassVar[Reply] = Reply.DUH


class DecryptionError(DecodeError):
    """An encrypted message that cannot be decrypted (bad ciphertext, wrong or no key): DUH."""

    reply: ClassVar[Reply] = Reply.DUH


class TimestampError(DecodeError):
    """An encrypted message with a missing, unparseable or out-of-window timestamp: NAK."""

    reply: ClassVar[Reply] = Reply.NAK

"""SIA DC-09 transport: stream framing, CRC, header, AES and the ACK/NAK/DUH replies."""

# Theory of operation. A DC-09 message on the wire is
#
#   LF crc4 0LLL "[*]TOKEN" seq4 [Rrcvr] [Lpref] [#acct] [data] [ext]... [_timestamp] CR
#
# (SIA DC-09 as the corpus README states it; the standard's text is not public). A receiver
# runs, per connection: FrameSplitter.feed -> decode_frame -> (if encrypted: decrypt_frame,
# check_timestamp) -> the body codec chosen by the token (contact_id / sia_dcs) -> store ->
# encode_ack. Every failure is a DecodeError whose ``reply`` says what the sender is owed:
# nothing (bad CRC or length: the panel retransmits), DUH (the message cannot be processed)
# or NAK (an encrypted message outside the replay window). Nothing here reads a clock: ``now``
# is always passed in, so the same bytes and the same ``now`` always give the same result.

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from datetime import UTC, datetime

from watchfloor.codecs import _aes
from watchfloor.codecs._framing import FrameSplitter, crc16_arc
from watchfloor.codecs.accounts import ACCOUNT_PATTERN
from watchfloor.codecs.errors import (
    ChecksumError,
    DecryptionError,
    FormatError,
    TimestampError,
    UnsupportedMessageError,
)

__all__ = [
    "EARLIEST_SKEW",
    "LATEST_SKEW",
    "REPLY_TOKENS",
    "TOKENS",
    "Dc09Frame",
    "FrameSplitter",
    "check_timestamp",
    "crc16_arc",
    "decode_frame",
    "decode_reply",
    "decrypt_frame",
    "encode_ack",
    "encode_duh",
    "encode_frame",
    "encode_nak",
    "timestamp_skew",
]

TOKENS = frozenset({"SIA-DCS", "ADM-CID", "NULL"})
"""Message tokens a receiver accepts (each may be preceded by ``*`` when encrypted)."""

REPLY_TOKENS = frozenset({"ACK", "NAK", "DUH"})
"""Tokens of the receiver's replies, which ``decode_reply`` reads."""

EARLIEST_SKEW = -40.0
"""Oldest accepted timestamp of an encrypted message, in seconds relative to ``now``."""

LATEST_SKEW = 20.0
"""Newest accepted timestamp of an encrypted message, in seconds relative to ``now``."""

# Some panels omit the '|' after the pad on messages without data (Hikvision NULL; pysiaalarm's
# encrypted ACK): for these tokens all of the plaintext before ']' may be pad (corpus README).
_PIPELESS_TOKENS = frozenset({"NULL"}) | REPLY_TOKENS

_HEX = re.compile(r"[0-9A-Fa-f]*", re.ASCII)
_HEX8 = re.compile(rb"[0-9A-Fa-f]{8}")
# DC-09 header, corpus README: seq 4 digits, Rrcvr and Lpref 1-6 hex, #acct 3-16 hex digits.
# R, L and #acct are optional: panels omit R (most), L (dc09_spt) or put the account only in
# the data block; an 'L' without digits is malformed.
_SEQ_R = r"(?P<seq>[0-9]{4})(?:R(?P<receiver>[0-9A-Fa-f]{1,6}))?"
_HEADER = re.compile(
    r'"(?P<star>\*?)(?P<token>[A-Za-z0-9-]{1,16})"'
    + _SEQ_R
    + rf"(?:L(?P<prefix>[0-9A-Fa-f]{{1,6}}))?(?:#(?P<account>{ACCOUNT_PATTERN}))?",
    re.ASCII,
)
# A NAK carries "A0" instead of "#acct"; 'A' is also a hex digit, so the prefix is matched
# lazily to leave "A0" to the account.
_REPLY_HEADER = re.compile(
    r'"(?P<star>\*?)(?P<token>[A-Z]{3})"'
    + _SEQ_R
    + r"(?:L(?P<prefix>[0-9A-Fa-f]{1,6}?))?(?:[#A](?P<account>[0-9A-Fa-f]{1,16}))?",
    re.ASCII,
)
# After the data block's ']': extended blocks [X...][Y...]..., then an optional _timestamp.
_TAIL = re.compile(r"((?:\[[^\[\]]*\])*)(?:_(.*))?", re.DOTALL)
_EXT_BLOCK = re.compile(r"\[([^\[\]]*)\]")
# DC-09 timestamp, corpus README: _HH:MM:SS,MM-DD-YYYY in UTC.
_TIMESTAMP = re.compile(r"([0-9]{2}):([0-9]{2}):([0-9]{2}),([0-9]{2})-([0-9]{2})-([0-9]{4})")
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_SEQ = re.compile(r"[0-9]{4}")
_RECEIVER = re.compile(r"[0-9A-Fa-f]{1,6}")
_ACCOUNT = re.compile(ACCOUNT_PATTERN)
_MAX_LENGTH = 0xFFF  # the length field is '0' + 3 hex digits


@dataclass(frozen=True, slots=True, kw_only=True)
class Dc09Frame:
    """One decoded DC-09 message (or reply), with every header field as sent.

    ``data`` is the text between the first '[' and its ']' (e.g. ``#1234|Nri1/BA05``); for an
    encrypted frame before ``decrypt_frame`` it is the hex ciphertext and ``ext``,
    ``timestamp`` and ``timestamp_text`` are empty. ``timestamp`` is None when the frame has
    no timestamp or one that does not parse; ``timestamp_text`` keeps what was sent.
    ``pad`` is the decrypted pad (None until decrypted).
    """

    crc: str
    length: str
    token: str
    encrypted: bool
    seq: str
    receiver: str | None
    prefix: str | None
    account: str | None
    data: str
    ext: tuple[str, ...] = ()
    timestamp: datetime | None = None
    timestamp_text: str | None = None
    decrypted: bool = False
    pad: bytes | None = None


def _text(raw: bytes) -> str:
    # DC-09 text is ASCII; accept UTF-8 and fall back to Latin-1 so no byte is ever rejected.
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("latin-1")


def _parse_timestamp(text: str | None) -> datetime | None:
    match = _TIMESTAMP.fullmatch(text or "")
    if match is None:
        return None
    hour, minute, second, month, day, year = (int(group) for group in match.groups())
    try:
        return datetime(year, month, day, hour, minute, second, tzinfo=UTC)
    except ValueError:
        return None


def _format_timestamp(moment: datetime) -> str:
    utc = _aware(moment, "timestamp").astimezone(UTC)
    return (
        f"{utc.hour:02d}:{utc.minute:02d}:{utc.second:02d},"
        f"{utc.month:02d}-{utc.day:02d}-{utc.year:04d}"
    )


def _aware(moment: datetime, name: str) -> datetime:
    if moment.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware")
    return moment


def _decode(frame: bytes, tokens: frozenset[str], header: re.Pattern[str]) -> Dc09Frame:
    body = frame[1:] if frame.startswith(b"\n") else frame
    body = body[:-1] if body.endswith(b"\r") else body
    if _HEX8.match(body) is None:
        raise FormatError("frame does not start with 8 hex digits of CRC and length")
    quote = body.find(b'"')
    if quote < 0:
        raise FormatError("no '\"' starts the message")
    span = body[quote:]
    crc_text, length_text = body[:4].decode("ascii"), body[4:8].decode("ascii")
    # DC-09 (corpus README): CRC and length cover the bytes from the first '"' to the byte
    # before CR. Either failing means damaged bytes: no reply (DC-09-2007 App. C.2.3.5).
    computed = crc16_arc(span)
    if int(crc_text, 16) != computed:
        raise ChecksumError(f"CRC mismatch: frame says {crc_text}, computed {computed:04X}")
    if int(length_text, 16) != len(span):
        raise ChecksumError(f"length mismatch: frame says {length_text}, counted {len(span):04X}")
    if quote != 8:
        raise FormatError("unexpected bytes between the length field and the token")
    text = _text(span)
    bracket = text.find("[")
    if bracket < 0:
        raise FormatError("no '[' opens the data block")
    match = header.fullmatch(text, 0, bracket)
    if match is None:
        raise FormatError(f"header does not parse: {text[:bracket]!r}")
    decoded = Dc09Frame(
        crc=crc_text,
        length=length_text,
        token=match["token"],
        encrypted=bool(match["star"]),
        seq=match["seq"],
        receiver=match["receiver"],
        prefix=match["prefix"],
        account=match["account"],
        data="",
    )
    rest = text[bracket + 1 :]
    if decoded.encrypted:
        # DC-09 encryption (corpus README): everything after '[' is the hex ciphertext.
        decoded = replace(decoded, data=rest)
    else:
        close = rest.find("]")
        if close < 0:
            raise FormatError("no ']' closes the data block", frame=decoded)
        tail = _TAIL.fullmatch(rest, close + 1)
        if tail is None:
            raise FormatError("unexpected text after the data block", frame=decoded)
        decoded = replace(
            decoded,
            data=rest[:close],
            ext=tuple(_EXT_BLOCK.findall(tail[1])),
            timestamp=_parse_timestamp(tail[2]),
            timestamp_text=tail[2],
        )
    if decoded.token not in tokens:
        raise UnsupportedMessageError(f"unsupported token {decoded.token!r}", frame=decoded)
    return decoded


def decode_frame(frame: bytes) -> Dc09Frame:
    """Decode one message frame from a panel (transmitter).

    Args:
        frame: the bytes between LF and CR, as ``FrameSplitter.feed`` returns them; a leading
            LF and a trailing CR are accepted too.

    Returns:
        The frame. An encrypted frame still holds its ciphertext: see ``decrypt_frame``.

    Raises:
        FormatError: no 8-hex-digit CRC/length prefix, or (after a good CRC) a header or data
            block that does not parse; reply DUH.
        ChecksumError: CRC or length mismatch; no reply.
        UnsupportedMessageError: a well-formed frame with a token outside ``TOKENS``; DUH.
    """
    return _decode(frame, TOKENS, _HEADER)


def decode_reply(frame: bytes) -> Dc09Frame:
    """Decode a receiver's ACK, NAK or DUH (for panel simulators and tests).

    A NAK's ``A0`` account field reads as account ``"0"`` (so a reply whose L prefix ends in
    ``A`` + hex digits and has no account is ambiguous; ours always echo the message's). An
    encrypted ACK (``*ACK``) is decrypted with ``decrypt_frame`` like a message.

    Raises:
        DecodeError: as ``decode_frame``; tokens other than ``REPLY_TOKENS`` are unsupported.
    """
    return _decode(frame, REPLY_TOKENS, _REPLY_HEADER)


def decrypt_frame(frame: Dc09Frame, key: bytes) -> Dc09Frame:
    """Decrypt an encrypted frame's data block with the account's AES key.

    The plaintext is ``pad | data ] ext... _timestamp`` (DC-09, corpus README; AES-CBC, IV of 16 zero
    bytes). The pad is any bytes without '|', '[' or ']', 0x80-0xFF included; NULL messages
    and replies may omit the '|' after it.

    Args:
        frame: an encrypted frame from ``decode_frame`` (or ``decode_reply``).
        key: 16, 24 or 32 key bytes (see ``codecs.accounts.parse_key``).

    Returns:
        The frame with ``data``, ``ext``, ``timestamp``, ``timestamp_text`` and ``pad`` filled
        in and ``decrypted`` set.

    Raises:
        DecryptionError: the block is not hex or not whole AES blocks, or the plaintext does
            not have the shape above (almost always a wrong key); reply DUH.
        ValueError: the frame is not encrypted or already decrypted, or the key has a wrong
            size (caller errors, not peer errors).
    """
    if not frame.encrypted or frame.decrypted:
        raise ValueError("decrypt_frame needs an encrypted frame that is not yet decrypted")
    _aes.check_key(key)
    if _HEX.fullmatch(frame.data) is None:
        raise DecryptionError("encrypted block is not hex", frame=frame)
    if not frame.data or len(frame.data) % (2 * _aes.BLOCK):
        raise DecryptionError("encrypted block is not a whole number of AES blocks", frame=frame)
    plain = _aes.decrypt(key, bytes.fromhex(frame.data))
    close = plain.find(b"]")
    if close < 0:
        raise DecryptionError("no ']' in the plaintext (wrong key?)", frame=frame)
    bar = plain.find(b"|", 0, close)
    if bar >= 0:
        pad, rest = plain[:bar], plain[bar + 1 :]
    elif frame.token in _PIPELESS_TOKENS:
        pad, rest = plain[:close], plain[close:]
    else:
        raise DecryptionError("no '|' after the pad (wrong key?)", frame=frame)
    text = _text(rest)
    # Real plaintext is printable; random bytes from a wrong key almost never are.
    if _CONTROL.search(text):
        raise DecryptionError("control characters in the plaintext (wrong key?)", frame=frame)
    close = text.index("]")
    tail = _TAIL.fullmatch(text, close + 1)
    if tail is None:
        raise DecryptionError(
            "unexpected text after ']' in the plaintext (wrong key?)", frame=frame
        )
    return replace(
        frame,
        data=text[:close],
        ext=tuple(_EXT_BLOCK.findall(tail[1])),
        timestamp=_parse_timestamp(tail[2]),
        timestamp_text=tail[2],
        decrypted=True,
        pad=pad,
    )


def timestamp_skew(frame: Dc09Frame, now: datetime) -> float | None:
    """Return how far the frame's timestamp is ahead of ``now``, in seconds.

    Receivers record it per device: panels that send local time show a steady skew.

    Returns:
        ``frame.timestamp - now`` in seconds, or None when the frame has no valid timestamp.

    Raises:
        ValueError: ``now`` is naive.
    """
    _aware(now, "now")
    if frame.timestamp is None:
        return None
    return (frame.timestamp - now).total_seconds()


def check_timestamp(frame: Dc09Frame, now: datetime) -> None:
    """Enforce the replay window on an encrypted message.

    DC-09-2013 and DESIGN.md: an encrypted message must carry a timestamp within +20 s / -40 s of the
    receiver's clock, else it gets a NAK carrying the receiver's time. Unencrypted messages
    pass whatever their timestamp (panels that send local time must not be NAKed; record
    ``timestamp_skew`` instead).

    Raises:
        TimestampError: encrypted, and the timestamp is missing, unparseable or outside the
            window; reply NAK.
        ValueError: an encrypted frame that was not decrypted, or a naive ``now``.
    """
    if not frame.encrypted:
        return
    if not frame.decrypted:
        raise ValueError("decrypt the frame before checking its timestamp")
    skew = timestamp_skew(frame, now)
    if skew is None:
        problem = "no" if frame.timestamp_text is None else "an unparseable"
        raise TimestampError(f"encrypted message with {problem} timestamp", frame=frame)
    if not EARLIEST_SKEW <= skew <= LATEST_SKEW:
        raise TimestampError(
            f"timestamp {frame.timestamp_text} is {skew:+.0f} s from the receiver's clock"
            f" (allowed {LATEST_SKEW:+.0f}/{EARLIEST_SKEW:+.0f} s)",
            frame=frame,
        )


def _routing(seq: str, receiver: str | None, prefix: str | None, account: str | None) -> str:
    if _SEQ.fullmatch(seq) is None:
        raise ValueError(f"sequence number must be 4 digits, got {seq!r}")
    for name, value in (("receiver", receiver), ("prefix", prefix)):
        if value is not None and _RECEIVER.fullmatch(value) is None:
            raise ValueError(f"{name} must be 1-6 hex digits, got {value!r}")
    if account is not None and _ACCOUNT.fullmatch(account) is None:
        raise ValueError(f"account must be 3-16 hex digits, got {account!r}")
    # Echo exactly the fields the message had: never "None", never an invented R or L.
    return (
        seq
        + ("" if receiver is None else f"R{receiver}")
        + ("" if prefix is None else f"L{prefix}")
        + ("" if account is None else f"#{account}")
    )


def _wrap(body: bytes) -> bytes:
    if len(body) > _MAX_LENGTH:
        raise ValueError(f"message of {len(body)} bytes exceeds the 0LLL length field")
    return b"\n%04X%04X%s\r" % (crc16_arc(body), len(body), body)


def _encrypted_block(key: bytes, clear: str, pad: bytes | None) -> bytes:
    body = b"|" + clear.encode("utf-8")
    plain = _aes.make_pad(_aes.BLOCK - len(body) % _aes.BLOCK, pad) + body
    return _aes.encrypt(key, plain).hex().upper().encode("ascii")


def _check_text(name: str, value: str, forbidden: str) -> None:
    if _CONTROL.search(value) or any(char in forbidden for char in value):
        raise ValueError(f"{name} may not contain control characters or any of {forbidden!r}")


def encode_frame(
    *,
    token: str,
    seq: str,
    account: str,
    data: str,
    receiver: str | None = None,
    prefix: str | None = "0",
    ext: tuple[str, ...] = (),
    timestamp: datetime | None = None,
    key: bytes | None = None,
    pad: bytes | None = None,
) -> bytes:
    """Build a message frame as a panel sends it, LF and CR included.

    Args:
        token: one of ``TOKENS``.
        seq: 4 digits.
        account: 3-16 hex digits.
        data: the data block's text, e.g. ``#1234|Nri1/BA05`` (no ']').
        receiver: 1-6 hex digits, or None to omit the R field.
        prefix: 1-6 hex digits, or None to omit the L field.
        ext: extended blocks without brackets, e.g. ``("X006E07.7777777",)``.
        timestamp: an aware datetime, sent in UTC; mandatory with ``key``.
        key: AES key bytes: encrypt the message (token prefixed by ``*``).
        pad: pad bytes, cycled to the needed length (no '|', '[', ']'); random when None.

    Returns:
        The frame, ready to write to the socket.

    Raises:
        ValueError: a field out of its range, or ``key`` without ``timestamp``.
    """
    if token not in TOKENS:
        raise ValueError(f"token must be one of {sorted(TOKENS)}, got {token!r}")
    routing = _routing(seq, receiver, prefix, account)
    _check_text("data", data, "]")
    for block in ext:
        _check_text("an extended block", block, "[]")
    clear = data + "]" + "".join(f"[{block}]" for block in ext)
    if timestamp is not None:
        clear += f"_{_format_timestamp(timestamp)}"
    if key is None:
        return _wrap(f'"{token}"{routing}[{clear}'.encode())
    if timestamp is None:
        raise ValueError("an encrypted message must carry a timestamp (DC-09-2013)")
    return _wrap(f'"*{token}"{routing}['.encode() + _encrypted_block(key, clear, pad))


def encode_ack(
    frame: Dc09Frame,
    *,
    now: datetime,
    key: bytes | None = None,
    pad: bytes | None = None,
) -> bytes:
    """Build the ACK for a message, to send once the message is stored.

    ``"ACK"seq[Rrcvr][Lpref][#acct][]`` echoes exactly the fields the message had. An
    encrypted message gets ``"*ACK"...[`` + hex(AES(pad|]_timestamp)) (DESIGN.md), with
    ``now`` as the timestamp; the hex runs to CR like a panel's encrypted block.

    Args:
        frame: the decoded message.
        now: the receiver's clock (aware); used only for an encrypted ACK.
        key: the account's key; required when ``frame.encrypted``.
        pad: pad bytes, cycled to the needed length; random when None.

    Raises:
        ValueError: an encrypted frame without ``key``, or frame fields out of range.
    """
    routing = _routing(frame.seq, frame.receiver, frame.prefix, frame.account)
    if not frame.encrypted:
        return _wrap(f'"ACK"{routing}[]'.encode("ascii"))
    if key is None:
        raise ValueError("an encrypted message needs an encrypted ACK: pass the account's key")
    clear = f"]_{_format_timestamp(now)}"
    return _wrap(f'"*ACK"{routing}['.encode("ascii") + _encrypted_block(key, clear, pad))


def encode_nak(*, now: datetime) -> bytes:
    """Build the NAK ``"NAK"0000R0L0A0[]_<now>`` (DESIGN.md).

    Sent, unencrypted, for an encrypted message outside the replay window; the panel may set
    its clock from the timestamp.

    Raises:
        ValueError: ``now`` is naive.
    """
    return _wrap(f'"NAK"0000R0L0A0[]_{_format_timestamp(now)}'.encode("ascii"))


def encode_duh(frame: Dc09Frame | None) -> bytes:
    """Build a DUH ("message not understood"), echoing the frame's header when known.

    Args:
        frame: the frame whose header was read (``DecodeError.frame``), or None when not even
            the header could be read; then ``"DUH"0000R0L0A0[]`` is sent.

    Raises:
        ValueError: frame fields out of range.
    """
    if frame is None:
        return _wrap(b'"DUH"0000R0L0A0[]')
    routing = _routing(frame.seq, frame.receiver, frame.prefix, frame.account)
    return _wrap(f'"DUH"{routing}[]'.encode("ascii"))

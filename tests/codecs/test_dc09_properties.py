"""Property tests of the DC-09 codec: round trips, fuzzing, corruption and stream framing."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from datetime import UTC, datetime

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from watchfloor.codecs import (
    Dc09Frame,
    DecodeError,
    FrameSplitter,
    FramingError,
    check_timestamp,
    crc16_arc,
    decode_frame,
    decrypt_frame,
)
from watchfloor.codecs import encode_frame as encode

HEX = "0123456789ABCDEF"
CRYPTO = settings(deadline=None, max_examples=150)
FUZZ = settings(deadline=None, max_examples=300, suppress_health_check=[HealthCheck.too_slow])

_TEXT_CHARS = st.characters(max_codepoint=0x2FF, exclude_categories=("Cc", "Cs"))


@dataclass(frozen=True)
class Message:
    token: str
    seq: str
    account: str
    data: str
    receiver: str | None
    prefix: str | None
    ext: tuple[str, ...]
    timestamp: datetime | None
    key: bytes | None
    pad: bytes | None

    def encode(self) -> bytes:
        return encode(
            token=self.token,
            seq=self.seq,
            account=self.account,
            data=self.data,
            receiver=self.receiver,
            prefix=self.prefix,
            ext=self.ext,
            timestamp=self.timestamp,
            key=self.key,
            pad=self.pad,
        )


_TIMESTAMPS = st.datetimes(
    # hypothesis takes naive bounds and attaches the zone itself
    min_value=datetime(2000, 1, 1, tzinfo=UTC).replace(tzinfo=None),
    max_value=datetime(2099, 12, 31, tzinfo=UTC).replace(tzinfo=None),
    timezones=st.just(UTC),
).map(lambda moment: moment.replace(microsecond=0))
_KEYS = st.sampled_from([16, 24, 32]).flatmap(lambda size: st.binary(min_size=size, max_size=size))
_PADS = st.none() | st.binary(min_size=1, max_size=4).filter(
    lambda pad: not any(byte in b"|[]\r\n" for byte in pad)
)


@st.composite
def messages(draw: st.DrawFn, *, encrypted: bool | None = None) -> Message:
    key = None
    if encrypted or (encrypted is None and draw(st.booleans())):
        key = draw(_KEYS)
    timestamp = draw(_TIMESTAMPS if key else st.none() | _TIMESTAMPS)
    return Message(
        token=draw(st.sampled_from(["SIA-DCS", "ADM-CID", "NULL"])),
        seq=f"{draw(st.integers(0, 9999)):04d}",
        account=draw(st.text(HEX, min_size=3, max_size=16)),
        data=draw(st.text(_TEXT_CHARS.filter(lambda char: char != "]"), max_size=40)),
        receiver=draw(st.none() | st.text(HEX, min_size=1, max_size=6)),
        prefix=draw(st.none() | st.text(HEX, min_size=1, max_size=6)),
        ext=tuple(
            draw(
                st.lists(
                    st.text(_TEXT_CHARS.filter(lambda char: char not in "[]"), max_size=12),
                    max_size=3,
                )
            )
        ),
        timestamp=timestamp,
        key=key,
        pad=draw(_PADS),
    )


def _assert_header(frame: Dc09Frame, message: Message) -> None:
    assert frame.token == message.token
    assert frame.seq == message.seq
    assert frame.account == message.account
    assert frame.receiver == message.receiver
    assert frame.prefix == message.prefix
    assert frame.encrypted is (message.key is not None)


@CRYPTO
@given(messages())
def test_encode_decode_round_trip(message: Message) -> None:
    raw = message.encode()
    assert raw.startswith(b"\n")
    assert raw.endswith(b"\r")
    assert FrameSplitter().feed(raw) == [raw[1:-1]]
    frame = decode_frame(raw[1:-1])
    _assert_header(frame, message)
    if message.key is not None:
        assert not frame.decrypted
        frame = decrypt_frame(frame, message.key)
        assert frame.decrypted
        assert frame.pad is not None
        if message.pad is not None:
            assert frame.pad == (message.pad * 16)[: len(frame.pad)]
        assert message.timestamp is not None
        check_timestamp(frame, message.timestamp)
    assert frame.data == message.data
    assert frame.ext == message.ext
    assert frame.timestamp == message.timestamp


@FUZZ
@given(st.binary(max_size=200))
def test_arbitrary_bytes_decode_or_raise_decode_error(raw: bytes) -> None:
    with contextlib.suppress(DecodeError):
        decode_frame(raw)


_SPAN_ALPHABET = st.sampled_from(
    [b'"', b"*", b"SIA-DCS", b"ADM-CID", b"NULL", b"0", b"1", b"A", b"R", b"L", b"#", b"[",
     b"]", b"|", b"_", b"12:34:56,01-15-2025", b"\xff", b"\xc3\xa9", b"\r", b"\n", b"Nri1/BA05"]
)  # fmt: skip


@FUZZ
@given(st.lists(_SPAN_ALPHABET, max_size=30).map(b"".join))
def test_bytes_with_valid_crc_decode_or_raise_decode_error(tail: bytes) -> None:
    span = b'"' + tail
    with contextlib.suppress(DecodeError):
        decode_frame(b"%04X%04X%s" % (crc16_arc(span), len(span), span))


def _encrypt(key: bytes, plaintext: bytes) -> str:
    encryptor = Cipher(algorithms.AES(key), modes.CBC(bytes(16))).encryptor()
    return (encryptor.update(plaintext) + encryptor.finalize()).hex()


_PLAIN_PARTS = st.sampled_from(
    [b"|", b"]", b"[", b"_", b"0", b"#1234", b"NRP", b"X1", b"12:34:56,01-15-2025", b"\x01",
     b"\xff", b"\xc3\xa9"]
)  # fmt: skip


@CRYPTO
@given(
    st.sampled_from(["SIA-DCS", "NULL", "ACK"]),
    _KEYS,
    st.lists(_PLAIN_PARTS, max_size=20).map(b"".join) | st.binary(max_size=64),
    st.text(max_size=70) | st.text(HEX, max_size=70),
)
def test_decrypt_arbitrary_ciphertext_or_plaintext_raises_only_decode_error(
    token: str, key: bytes, plaintext: bytes, text: str
) -> None:
    padded = plaintext + b"0" * (-len(plaintext) % 16)
    for data in (_encrypt(key, padded), text):
        frame = Dc09Frame(
            crc="0000",
            length="0000",
            token=token,
            encrypted=True,
            seq="0000",
            receiver=None,
            prefix=None,
            account=None,
            data=data,
        )
        with contextlib.suppress(DecodeError):
            decrypt_frame(frame, key)


@CRYPTO
@given(messages(encrypted=True), _KEYS)
def test_wrong_key_never_yields_an_acceptable_message(message: Message, wrong: bytes) -> None:
    assume(wrong != message.key)
    frame = decode_frame(message.encode())
    try:
        plain = decrypt_frame(frame, wrong)
        assert message.timestamp is not None
        check_timestamp(plain, message.timestamp)
    except DecodeError:
        return
    raise AssertionError("a wrong key produced a message inside the replay window")


@settings(deadline=None, max_examples=100)
@given(messages(), st.integers(min_value=0), st.integers(min_value=0, max_value=255))
def test_every_single_byte_change_is_detected(message: Message, index: int, value: int) -> None:
    body = message.encode()[1:-1]
    index %= len(body)
    assume(body[index] != value)
    mutated = body[:index] + bytes([value]) + body[index + 1 :]
    try:
        decode_frame(mutated)
    except DecodeError:
        return
    # Only a change of case in the CRC/length hex digits keeps the frame valid: the same
    # values, read case-insensitively (corpus README: accept lower-case hex).
    assert index < 8
    assert mutated.lower() == body.lower()


@settings(max_examples=60)
@given(
    st.lists(messages(encrypted=False), min_size=1, max_size=4),
    st.lists(st.binary(max_size=8).map(lambda junk: junk.replace(b"\n", b"")), min_size=6),
    st.lists(st.integers(min_value=0), max_size=10),
)
def test_splitter_output_does_not_depend_on_how_the_stream_is_cut(
    batch: list[Message], junk: list[bytes], cuts: list[int]
) -> None:
    frames = [message.encode() for message in batch]
    stream = b"".join(junk[i] + frame for i, frame in enumerate(frames)) + junk[-1]
    points = sorted({cut % (len(stream) + 1) for cut in cuts})
    chunks = [stream[a:b] for a, b in zip([0, *points], [*points, len(stream)], strict=True)]
    splitter = FrameSplitter()
    out = [frame for chunk in chunks for frame in splitter.feed(chunk)]
    assert out == [frame[1:-1] for frame in frames]


@settings(max_examples=150)
@given(
    st.integers(min_value=20, max_value=200),
    st.integers(min_value=1, max_value=300),
    st.lists(st.integers(min_value=0), max_size=6),
)
def test_oversize_frames_raise_and_the_splitter_recovers(
    limit: int, excess: int, cuts: list[int]
) -> None:
    good = encode(token="NULL", seq="0000", account="1234", data="")
    assume(len(good) - 2 <= limit)
    stream = b"\n" + b"A" * (limit + excess) + b"\r" + good
    points = sorted({cut % (len(stream) + 1) for cut in cuts})
    chunks = [stream[a:b] for a, b in zip([0, *points], [*points, len(stream)], strict=True)]
    splitter = FrameSplitter(max_frame_size=limit)
    out: list[bytes] = []
    errors = 0
    for chunk in chunks:
        try:
            out += splitter.feed(chunk)
        except FramingError as err:
            errors += 1
            out += err.frames
    assert errors == 1
    assert out == [good[1:-1]]
    assert splitter.pending == 0


@FUZZ
@given(st.lists(st.binary(max_size=64), max_size=8), st.integers(min_value=1, max_value=64))
def test_splitter_on_arbitrary_bytes_raises_only_framing_error(
    chunks: list[bytes], limit: int
) -> None:
    splitter = FrameSplitter(max_frame_size=limit)
    for chunk in chunks:
        try:
            frames = splitter.feed(chunk)
        except FramingError as err:
            frames = list(err.frames)
        assert all(0 < len(frame) <= limit for frame in frames)
        assert all(b"\n" not in frame and b"\r" not in frame for frame in frames)
        assert splitter.pending <= limit

"""Fuzzing the DC-09 receiver path: ``handle_frame`` directly, then a real listener over loopback.

``handle_frame`` fed arbitrary bytes or mutated valid frames (plain and encrypted, the lookup
knowing the key) must return a reply that ``decode_reply`` reads (ACK, NAK or DUH) or None,
and never raise. Over a socket, a stream mixing garbage, oversize runs and valid frames on one
connection must not break the listener: every valid frame the splitter can frame before the
first oversize run is ACKed in order, every reply is a well-formed frame, and a new connection
is ACKed afterwards. Every wait is bounded; the longer campaigns are ``scripts/fuzz_dc09.py``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

import pytest
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from hypothesis import HealthCheck, event, given, note, settings
from hypothesis import strategies as st

from support.clock import FakeClock
from support.panel import open_tcp_panel, reply_token, sia_frame
from watchfloor.app import Platform
from watchfloor.codecs.dc09 import (
    FrameSplitter,
    crc16_arc,
    decode_reply,
    decrypt_frame,
    encode_frame,
)
from watchfloor.core.signals import LinkTest, Signal, SignalRecord
from watchfloor.receivers.dc09 import AccountView, Dc09Receiver, Dc09Settings

KEY = b"0123456789ABCDEF0123456789ABCDEF"
KEYED_ACCOUNT = "5EC"
NOW = datetime(2026, 1, 15, 3, 0, tzinfo=UTC)
ACCOUNT = "F022"  # the socket test's panel


class _NullSink:
    """Accepts everything without storing it: these tests are about the bytes."""

    async def submit(self, items: Sequence[Signal | LinkTest]) -> Sequence[SignalRecord | None]:
        return [None] * len(items)


async def _lookup(account: str) -> AccountView | None:
    if account == KEYED_ACCOUNT:
        return AccountView(key=KEY)
    if account == "D15":
        return AccountView(enabled=False)
    if account == "1234":
        return AccountView()
    return None  # unregistered: stored and raised (or, past the rate limit, not answered)


def _receiver() -> Dc09Receiver:
    return Dc09Receiver(
        sink=_NullSink(), lookup=_lookup, clock=FakeClock(NOW), settings=Dc09Settings()
    )


def _valid_frames() -> list[bytes]:
    plain = [
        encode_frame(token="SIA-DCS", seq="0001", account="1234", data="#1234|Nri1/BA05"),
        encode_frame(token="ADM-CID", seq="0002", account="1234", data="#1234|1130 01 005"),
        encode_frame(token="NULL", seq="0000", account="1234", data="", receiver="12"),
        encode_frame(token="SIA-DCS", seq="0003", account="D15", data="#D15|NBA1"),
    ]
    encrypted = [
        encode_frame(token=token, seq="0004", account=KEYED_ACCOUNT, data=data, timestamp=NOW,
                     key=KEY, pad=b"p")
        for token, data in [("SIA-DCS", "#5EC|Nri1/BA05"), ("ADM-CID", "#5EC|3401 01 012"),
                            ("NULL", "")]
    ]  # fmt: skip
    return [frame[1:-1] for frame in plain + encrypted]


VALID = _valid_frames()


def _edit(draw: st.DrawFn, data: bytes) -> bytes:
    """A few byte edits, insertions, deletions or a cut."""
    out = bytearray(data)
    for _ in range(draw(st.integers(1, 4))):
        op = draw(st.sampled_from(["set", "insert", "delete", "truncate"]))
        index = draw(st.integers(0, max(len(out) - 1, 0)))
        if op == "set" and out:
            out[index] = draw(st.integers(0, 255))
        elif op == "insert":
            out[index:index] = draw(st.binary(min_size=1, max_size=8) | _TOKENS)
        elif op == "delete":
            del out[index : index + draw(st.integers(1, 8))]
        else:
            del out[index:]
    return bytes(out)


def _with_checksum(frame: bytes) -> bytes:
    """Rewrite CRC and length over everything from the first '"', so edits get past them."""
    quote = frame.find(b'"')
    span = frame[quote:] if quote >= 0 else frame
    return b"%04X%04X%s" % (crc16_arc(span), len(span) & 0xFFFF, span)


_TOKENS = st.sampled_from(
    [b'"', b"*", b"[", b"]", b"|", b"#", b"_", b"R", b"L", b"^", b"/", b"NULL", b"ADM-CID",
     b"\xc3\xa9", b"\x00", b"\x7f"]
)  # fmt: skip
_PLAINTEXTS = [
    b"pppp|#5EC|Nri1/BA05]_03:00:00,01-15-2026",
    b"pp|#5EC|1130 01 005][X006E07.77]_03:00:00,01-15-2026",
    b"ppppppppppp]_03:00:00,01-15-2026",
]


@st.composite
def mutated_frames(draw: st.DrawFn) -> bytes:
    """A valid frame with a few edits, its checksum rewritten half the time so that the edits
    reach the header and body parsers; or an encrypted frame around an edited plaintext."""
    if draw(st.integers(0, 3)) == 0:
        plain = _edit(draw, draw(st.sampled_from(_PLAINTEXTS)))
        plain += b"0" * (-len(plain) % 16)
        token = draw(st.sampled_from([b"SIA-DCS", b"ADM-CID", b"NULL"]))
        cipher = Cipher(algorithms.AES(KEY), modes.CBC(bytes(16))).encryptor()
        block = (cipher.update(plain) + cipher.finalize()).hex().upper().encode()
        return _with_checksum(b'"*%s"0009L0#%s[%s' % (token, KEYED_ACCOUNT.encode(), block))
    frame = _edit(draw, draw(st.sampled_from(VALID)))
    return _with_checksum(frame) if draw(st.booleans()) else frame


def _assert_well_formed(reply: bytes | None) -> None:
    if reply is None:
        return
    assert reply.startswith(b"\n")
    assert reply.endswith(b"\r")
    decoded = decode_reply(reply[1:-1])
    assert decoded.token in {"ACK", "NAK", "DUH"}
    if decoded.encrypted:
        assert decoded.token == "ACK"
        assert decrypt_frame(decoded, KEY).timestamp is not None


FUZZ = settings(deadline=None, max_examples=300)


@FUZZ
@given(st.binary(max_size=300))
async def test_handle_frame_on_arbitrary_bytes_replies_well_formed_or_not_at_all(
    data: bytes,
) -> None:
    _assert_well_formed(await _receiver().handle_frame(data, "fuzz"))


@FUZZ
@given(mutated_frames())
async def test_handle_frame_on_mutated_frames_replies_well_formed_or_not_at_all(
    data: bytes,
) -> None:
    note(f"frame: {data!r}")
    reply = await _receiver().handle_frame(data, "fuzz")
    event("no reply" if reply is None else reply_token(reply))
    _assert_well_formed(reply)


async def test_every_unmutated_frame_is_acked() -> None:
    # The mutation tests are only meaningful if the frames they start from are good.
    receiver = _receiver()
    replies = [await receiver.handle_frame(frame, "fuzz") for frame in VALID]
    tokens = [None if reply is None else reply_token(reply) for reply in replies]
    assert tokens == ["ACK", "ACK", "ACK", "DUH", "*ACK", "*ACK", "*ACK"]


# --- Over real sockets ---------------------------------------------------------------------

MAX_FRAME = 4096  # Settings.dc09_max_frame's default, which the platform fixture uses
EXAMPLE_TIMEOUT = 20.0
MAX_READS = 10_000  # each read returns at least one byte or EOF
_JUNK_PARTS = st.sampled_from(
    [b"\n", b"\r", b"\r\n", b"\n\r", b"\n0000", b'"SIA-DCS"', b"[]", b"\x00", b"\xff\xfe",
     b'\nF78E0039"SIA-DCS"0020L0#1234[', b"\nZZZZ\r", b"\n00000000\r"]
)  # fmt: skip
_JUNK = st.lists(_JUNK_PARTS | st.binary(max_size=48), max_size=6).map(b"".join)


@dataclass(frozen=True)
class Item:
    """One piece of the stream; an oversize run is kept as its size (a small repr)."""

    kind: str  # "junk", "frame" or "oversize"
    data: bytes
    seq: str = ""
    size: int = 0

    @property
    def wire(self) -> bytes:
        return b"\n" + self.data * self.size if self.kind == "oversize" else self.data


@st.composite
def streams(draw: st.DrawFn) -> list[Item]:
    items: list[Item] = []
    for index in range(draw(st.integers(1, 8))):
        kind = draw(st.sampled_from(["junk", "junk", "frame", "frame", "oversize"]))
        if kind == "junk":
            items.append(Item("junk", draw(_JUNK)))
        elif kind == "frame":
            seq = f"{index + 1:04d}"
            items.append(Item("frame", sia_frame(ACCOUNT, index + 1, f"#{ACCOUNT}|Nri1/BA05"), seq))
        else:
            size = draw(st.integers(MAX_FRAME + 1, 3 * MAX_FRAME))
            filler = draw(st.sampled_from([b"A", b"0", b"\xff", b'"']))
            items.append(Item("oversize", filler, size=size))
    return items


def _chunks(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({cut % (len(data) + 1) for cut in cuts})
    return [data[a:b] for a, b in zip([0, *points], [*points, len(data)], strict=True) if b > a]


class _Replies:
    """The receiver's replies on one connection, read frame by frame."""

    def __init__(self, reader: asyncio.StreamReader) -> None:
        self._reader = reader
        self._splitter = FrameSplitter(max_frame_size=MAX_FRAME)
        self.frames: list[bytes] = []
        self.closed = False

    async def read_more(self) -> None:
        try:
            chunk = await self._reader.read(65536)
        except ConnectionError:
            chunk = b""
        if not chunk:
            self.closed = True
        self.frames.extend(self._splitter.feed(chunk))

    async def read_until(self, done: Callable[[], bool]) -> None:
        """Read replies until ``done()`` or EOF; bounded by reads as well as by time."""
        for _ in range(MAX_READS):
            if self.closed or done():
                return
            await self.read_more()
        raise AssertionError(f"no EOF after {MAX_READS} reads")

    def acked(self) -> list[str]:
        seqs = []
        for frame in self.frames:
            reply = decode_reply(frame)  # every reply must be well formed
            assert reply.token in {"ACK", "DUH"}, frame
            if reply.token == "ACK":
                assert reply.account == ACCOUNT
                seqs.append(reply.seq)
        return seqs


async def _send(writer: asyncio.StreamWriter, chunks: list[bytes]) -> bool:
    """Send the chunks; False once the receiver has closed the connection."""
    try:
        for chunk in chunks:
            writer.write(chunk)
            await writer.drain()
    except ConnectionError:
        return False
    return True


@dataclass(frozen=True)
class Listener:
    """The platform's DC-09 listener (a fixture with a short repr for Hypothesis's reports)."""

    host: str
    port: int
    receiver: Dc09Receiver = field(repr=False)


@pytest.fixture
async def listener(platform: Platform) -> Listener:
    # Registered, so that the receiver's budget for unregistered traffic never silences it.
    await platform.repository.add_account(account=ACCOUNT, site="Fuzz Lane 1", key=None)
    host, port = platform.dc09_address
    return Listener(host, port, platform.receiver)


@settings(
    deadline=None,
    max_examples=100,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(streams(), st.lists(st.integers(min_value=0), max_size=12))
async def test_junk_oversize_and_frames_on_one_connection_never_break_the_listener(
    listener: Listener, caplog: pytest.LogCaptureFixture, items: list[Item], cuts: list[int]
) -> None:
    caplog.clear()
    caplog.set_level(logging.ERROR)
    host, port = listener.host, listener.port
    first_oversize = next((i for i, item in enumerate(items) if item.kind == "oversize"), None)
    before = items if first_oversize is None else items[:first_oversize]
    after = [] if first_oversize is None else items[first_oversize:]
    expected = [item.seq for item in before if item.kind == "frame"]
    later = [item.seq for item in after if item.kind == "frame"]
    limit_closes = listener.receiver.counters["limit_max_frame"]
    async with asyncio.timeout(EXAMPLE_TIMEOUT):
        reader, writer = await asyncio.open_connection(host, port)
        replies = _Replies(reader)
        try:
            # Everything before the first oversize run: each valid frame is ACKed, in order.
            # Its replies are read before the run is sent, because the receiver closes the
            # connection on the run and unread data would turn that close into a reset.
            open_ = await _send(writer, _chunks(b"".join(i.wire for i in before), cuts))
            assert open_
            await replies.read_until(lambda: len(replies.acked()) >= len(expected))
            assert replies.acked() == expected
            # The receiver closes the connection on an oversize run it sees at the end of a
            # read; one followed by an LF in the same read is dropped as a truncated frame
            # and the connection carries on. So after the first run, the frames that follow
            # are answered in order up to wherever the receiver stopped.
            if await _send(writer, _chunks(b"".join(i.wire for i in after), cuts)):
                with contextlib.suppress(ConnectionError):
                    writer.write_eof()
            await replies.read_until(lambda: False)
            acked = replies.acked()
            assert acked[: len(expected)] == expected
            assert acked[len(expected) :] == later[: len(acked) - len(expected)]
            closed_by_limit = listener.receiver.counters["limit_max_frame"] > limit_closes
            event(f"{len(acked)}/{len(expected) + len(later)} frames ACKed")
            event(f"closed on an oversize run: {closed_by_limit}")
        finally:
            writer.close()
            await asyncio.gather(writer.wait_closed(), return_exceptions=True)
        async with open_tcp_panel(host, port) as panel:
            assert reply_token(await panel.exchange(sia_frame(ACCOUNT, 9999))) == "ACK"
    assert listener.receiver.open_connections <= 1  # at most the one being torn down
    errors = [r for r in caplog.records if r.name in {"asyncio", "watchfloor.receivers.dc09"}]
    assert [r.getMessage() for r in errors if r.levelno >= logging.ERROR] == []

"""Every corpus frame through the receiver and the real store, with the clock frozen where the
frame's timestamp matters: the reply a panel gets is what DESIGN.md's DC-09 behaviour says."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest

from support.clock import FakeClock
from support.panel import reply_token
from watchfloor.app import Platform
from watchfloor.codecs.accounts import parse_key
from watchfloor.codecs.dc09 import FrameSplitter, decode_reply, decrypt_frame
from watchfloor.receivers.dc09 import AccountView, Dc09Receiver, Dc09Settings

VECTORS_PATH = Path(__file__).parent.parent / "data" / "dc09" / "vectors.jsonl"
# Later than every timestamp in the corpus.
REAL_WORLD_NOW = datetime(2026, 12, 31, 12, 0, 0, tzinfo=UTC)

#: Where the receiver's reply departs from the corpus' `expected.response`, and why.
DEPARTURES = {
    # DESIGN.md: an unknown code is stored and raised as "unclassified signal", never DUHed
    # (answering DUH loses the event: a known receiver bug the corpus README lists).
    "gen-sia-unknown-code": "ACK",
    # DESIGN.md: unencrypted messages are never NAKed for their timestamp (panels that send
    # local time, or a broken clock); the skew is recorded instead.
    "gen-bad-ts-format": "ACK",
}


@dataclass(frozen=True)
class Vector:
    id: str
    raw: bytes
    key: bytes | None
    timestamp: datetime | None
    response: str | list[str] | None


def _load() -> list[Vector]:
    vectors = []
    for line in VECTORS_PATH.read_text(encoding="utf-8").splitlines():
        item = json.loads(line)
        expected = item["expected"]
        if not isinstance(expected.get("response", ""), str | list | type(None)):
            continue
        if expected.get("response") == "wait for more bytes (no response)":
            continue  # a partial frame: the splitter's job, tested with the codecs
        key = None
        if item["key"] is not None:
            key = parse_key(item["key"], ascii=item["key_format"] == "ascii")
        stamp = expected.get("timestamp_utc") if item["depends_on_timestamp"] else None
        # "<x0A>" in pys-dc04 is literal text (a DC-04 style prefix), not an escaped LF.
        raw = item["raw"].encode("utf-8")
        vectors.append(
            Vector(
                id=item["id"],
                raw=raw,
                key=key,
                timestamp=datetime.fromisoformat(stamp) if stamp else None,
                response=DEPARTURES.get(item["id"], expected.get("response")),
            )
        )
    return vectors


VECTORS = _load()


def _frames(raw: bytes) -> list[bytes]:
    frames = FrameSplitter(max_frame_size=4096).feed(raw)
    return frames or [raw.strip(b"\r\n")]


def _kind(reply: bytes | None, key: bytes | None) -> str | None:
    if reply is None:
        return None
    token = reply_token(reply)
    if token == "*ACK":
        assert key is not None
        decrypt_frame(decode_reply(reply.strip(b"\n\r")), key)  # the ACK decrypts with the key
        return "ACK"
    return token


@pytest.mark.parametrize("vector", VECTORS, ids=[v.id for v in VECTORS])
async def test_receiver_answers_each_corpus_frame(platform: Platform, vector: Vector) -> None:
    clock = FakeClock(vector.timestamp or REAL_WORLD_NOW)

    async def lookup(account: str) -> AccountView | None:
        return AccountView(key=vector.key) if vector.key is not None else None

    receiver = Dc09Receiver(
        sink=platform.writer, lookup=lookup, clock=clock, settings=Dc09Settings()
    )
    kinds = [
        _kind(await receiver.handle_frame(frame, "127.0.0.1:1"), vector.key)
        for frame in _frames(vector.raw)
    ]
    expected = vector.response
    if isinstance(expected, list) and len(kinds) == len(expected) > 1:
        assert kinds == expected  # several frames in one read: one reply each
    elif isinstance(expected, list):
        assert kinds[0] in expected
    else:
        assert kinds == [expected]
    if "ACK" in kinds:
        # Acknowledged means stored: signals of an ACKed event frame are in the store.
        assert receiver.counters["acked"] == kinds.count("ACK")


def test_every_corpus_frame_is_covered() -> None:
    assert len(VECTORS) >= 90

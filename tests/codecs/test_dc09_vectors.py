"""Every frame of the DC-09 test-vector corpus, through the codecs as a receiver runs them.

The corpus' `expected` is followed everywhere except in the DEPARTURES listed below, each of
which has its own named test saying why.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from watchfloor.codecs import (
    TOKENS,
    ChecksumError,
    ContactIdEvent,
    Dc09Frame,
    DecodeError,
    DecryptionError,
    FormatError,
    FrameSplitter,
    Reply,
    TimestampError,
    UnsupportedMessageError,
    check_timestamp,
    crc16_arc,
    decode_contact_id,
    decode_frame,
    decode_reply,
    decode_sia_dcs,
    decrypt_frame,
    encode_ack,
    encode_duh,
    encode_nak,
    parse_key,
    timestamp_skew,
)

VECTORS_PATH = Path(__file__).parent.parent / "data" / "dc09" / "vectors.jsonl"
# A receiver clock in the real world, later than every timestamp in the corpus.
REAL_WORLD_NOW = datetime(2026, 12, 31, 12, 0, 0, tzinfo=UTC)


@dataclass(frozen=True)
class Vector:
    id: str
    raw: bytes
    key: bytes | None
    depends_on_timestamp: bool
    expected: dict[str, Any]


def _load() -> list[Vector]:
    vectors = []
    for line in VECTORS_PATH.read_text(encoding="utf-8").splitlines():
        item = json.loads(line)
        key = None
        if item["key"] is not None:
            key = parse_key(item["key"], ascii=item["key_format"] == "ascii")
        vectors.append(
            Vector(
                id=item["id"],
                raw=item["raw"].encode("utf-8"),
                key=key,
                depends_on_timestamp=item["depends_on_timestamp"],
                expected=item["expected"],
            )
        )
    return vectors


VECTORS = _load()
BY_ID = {vector.id: vector for vector in VECTORS}

# Where we deliberately disagree with the corpus' `expected`; each has a named test below.
DEPARTURES = {
    "gen-sia-unknown-code": "unknown SIA codes are decoded and stored, never DUHed",
    "gen-bad-ts-format": "unencrypted messages are never NAKed for their timestamp",
    "gen-two-frames-one-read": "stream framing yields two valid frames (corpus parses one)",
    "gen-enc-not-hex": "bad ciphertext is a DecryptionError (same DUH), not a FormatError",
    "gen-enc-not-block-multiple": "bad ciphertext is a DecryptionError (same DUH)",
    "spt-sia": "'Nri1BA5' is ri=1 then BA zone 5, not ri='1BA5'",
    "pys-bug11": "'Nri1CL0^...^' is ri=1 then CL zone 0, not ri='1C'",
    "pys-op": "'OP001NM' is OP zone 001 then an NM event, not unparsed text",
}
SIA_DEPARTURES = {"spt-sia", "pys-bug11", "pys-op"}
ERROR_CLASSES: dict[str, type[DecodeError]] = {
    "crc": ChecksumError,
    "length": ChecksumError,
    "format": FormatError,
    "decrypt": DecryptionError,
}
ERROR_OVERRIDES: dict[str, type[DecodeError]] = {
    "gen-enc-not-hex": DecryptionError,
    "gen-enc-not-block-multiple": DecryptionError,
}


def _ids(vectors: list[Vector]) -> list[str]:
    return [vector.id for vector in vectors]


def _refix(raw: bytes) -> bytes:
    """The frame with a correct CRC and length, to check what its header says."""
    body = raw.removeprefix(b"\n").removesuffix(b"\r")
    span = body[body.index(b'"') :]
    return b"%04X%04X%s" % (crc16_arc(span), len(span), span)


def _decode(raw: bytes, key: bytes | None) -> Dc09Frame:
    frame = decode_frame(raw)
    if frame.encrypted and key is not None:
        frame = decrypt_frame(frame, key)
    return frame


def _assert_fields(frame: Dc09Frame, expected: dict[str, Any], *, check_crc: bool) -> None:
    if check_crc:
        assert (frame.crc, frame.length) == (expected["crc"], expected["length"])
    assert frame.token == expected["id"]
    assert frame.encrypted is expected["encrypted"]
    assert frame.seq == expected["seq"]
    assert frame.receiver == expected["receiver"]
    assert frame.prefix == expected["prefix"]
    assert frame.account == expected["account"]
    if frame.encrypted and not frame.decrypted:
        assert frame.ext == ()
        assert frame.timestamp is None
        return
    if "data" not in expected:
        return
    assert frame.data == expected["data"]
    assert frame.ext == tuple(expected["ext"])
    assert frame.timestamp_text == expected["timestamp"]
    if expected.get("timestamp_bad") or expected["timestamp"] is None:
        assert frame.timestamp is None
    else:
        assert frame.timestamp == datetime.fromisoformat(expected["timestamp_utc"])
    if frame.decrypted:
        assert frame.pad is not None
        assert frame.pad.hex() == expected["padding_hex"]


@pytest.mark.parametrize("vector", VECTORS, ids=_ids(VECTORS))
def test_vector_framing_matches_corpus(vector: Vector) -> None:
    expected = vector.expected
    error_class = ERROR_OVERRIDES.get(vector.id) or ERROR_CLASSES.get(expected.get("error") or "")
    if error_class is not None:
        with pytest.raises(error_class) as info:
            _decode(vector.raw, vector.key)
        assert info.value.reply is error_class.reply
        if expected["error"] == "crc":
            assert "CRC mismatch" in str(info.value)
        if expected["error"] == "length":
            assert "length mismatch" in str(info.value)
        if error_class is ChecksumError and "seq" in expected:
            header = vector.raw.removeprefix(b"\n")[:8].decode()
            assert header == expected["crc"] + expected["length"]
            if "data" in expected or expected["encrypted"]:
                _assert_fields(_decode(_refix(vector.raw), None), expected, check_crc=False)
            else:
                with pytest.raises(FormatError, match="no ']'"):
                    decode_frame(_refix(vector.raw))
        return
    if expected["id"] not in TOKENS:
        with pytest.raises(UnsupportedMessageError) as unsupported:
            decode_frame(vector.raw)
        assert unsupported.value.reply is Reply.DUH
        assert unsupported.value.frame is not None
        _assert_fields(unsupported.value.frame, expected, check_crc=True)
        return
    _assert_fields(_decode(vector.raw, vector.key), expected, check_crc=True)


def _frozen_now(vector: Vector) -> datetime:
    text = vector.expected.get("timestamp_utc")
    if not text or vector.expected.get("timestamp_bad"):
        return REAL_WORLD_NOW
    return datetime.fromisoformat(text)


def _respond(raw: bytes, key: bytes | None, now: datetime) -> str | None:
    """What a receiver answers, built and then read back with the codecs."""
    try:
        frame = decode_frame(raw)
        if frame.encrypted:
            if key is None:
                raise DecryptionError("no key for this account", frame=frame)
            frame = decrypt_frame(frame, key)
            check_timestamp(frame, now)
        if frame.token == "SIA-DCS":
            decode_sia_dcs(frame.data)
        elif frame.token == "ADM-CID":
            decode_contact_id(frame.data)
        reply = encode_ack(frame, now=now, key=key)
    except DecodeError as err:
        if err.reply is Reply.NONE:
            return None
        reply = encode_nak(now=now) if err.reply is Reply.NAK else encode_duh(err.frame)
    answer = decode_reply(reply)
    if answer.encrypted:
        assert key is not None
        answer = decrypt_frame(answer, key)
        assert answer.timestamp == now.replace(microsecond=0)
    return answer.token


def _receive(vector: Vector, now: datetime) -> list[str | None]:
    framed = vector.expected.get("framed")
    frames = FrameSplitter().feed(vector.raw) if framed else [vector.raw]
    return [_respond(frame, vector.key, now) for frame in frames]


@pytest.mark.parametrize("vector", VECTORS, ids=_ids(VECTORS))
def test_vector_reply_matches_corpus(vector: Vector) -> None:
    replies = _receive(vector, _frozen_now(vector))
    if vector.id in {"gen-sia-unknown-code", "gen-bad-ts-format", "gen-two-frames-one-read"}:
        return  # departures: see the named tests below
    response = vector.expected["response"]
    allowed = set(response) if isinstance(response, list) else {response}
    allowed = {item if item in {"ACK", "NAK", "DUH"} else None for item in allowed}
    assert len(replies) == 1
    assert replies[0] in allowed


TIMED = [vector for vector in VECTORS if vector.depends_on_timestamp]


@pytest.mark.parametrize("vector", TIMED, ids=_ids(TIMED))
def test_vector_reply_with_real_world_clock(vector: Vector) -> None:
    # Corpus `response_if_clock_is_now` says NAK for every timed frame; DESIGN.md limits the
    # replay window to encrypted messages (panels sending local time must not be NAKed).
    frozen = _receive(vector, _frozen_now(vector))
    real = _receive(vector, REAL_WORLD_NOW)
    encrypted = b'"*' in vector.raw
    if encrypted and frozen == ["ACK"]:
        assert real == ["NAK"]
    else:
        assert real == frozen


DECODABLE_TIMED = [
    vector
    for vector in TIMED
    if vector.expected.get("error") is None
    and vector.expected.get("id") in TOKENS
    and (vector.key is not None or not vector.expected["encrypted"])
    and vector.id != "gen-two-frames-one-read"
]


@pytest.mark.parametrize("vector", DECODABLE_TIMED, ids=_ids(DECODABLE_TIMED))
def test_vector_timestamp_window(vector: Vector) -> None:
    frame = _decode(vector.raw, vector.key)
    if frame.timestamp is not None:
        check_timestamp(frame, frame.timestamp)
        assert timestamp_skew(frame, frame.timestamp) == 0.0
    if frame.encrypted:
        with pytest.raises(TimestampError) as info:
            check_timestamp(frame, REAL_WORLD_NOW)
        assert info.value.reply is Reply.NAK
        assert info.value.frame == frame
    else:
        check_timestamp(frame, REAL_WORLD_NOW)


def _corpus_sia(items: list[dict[str, Any]]) -> list[tuple[str, str, dict[str, str], Any]]:
    in_force: dict[str, str] = {}
    events = []
    for item in items:
        in_force.update(item.get("modifiers", {}))
        if "code" in item:
            events.append((item["code"], item["param"], dict(in_force), item.get("text")))
    return events


SIA_VECTORS = [v for v in VECTORS if "sia" in v.expected and v.id not in SIA_DEPARTURES]
ADM_VECTORS = [vector for vector in VECTORS if "adm" in vector.expected]


@pytest.mark.parametrize("vector", SIA_VECTORS, ids=_ids(SIA_VECTORS))
def test_vector_sia_body_matches_corpus(vector: Vector) -> None:
    expected = vector.expected["sia"]
    message = decode_sia_dcs(vector.expected["data"])
    assert message.account == expected.get("account")
    assert message.new_event is expected["new_event"]
    events = [(e.code, e.zone, dict(e.modifiers), e.text) for e in message.events]
    assert events == _corpus_sia(expected["events"])


@pytest.mark.parametrize("vector", ADM_VECTORS, ids=_ids(ADM_VECTORS))
def test_vector_contact_id_body_matches_corpus(vector: Vector) -> None:
    expected = vector.expected["adm"]
    if expected["qualifier"] not in {"1", "3", "6"}:
        with pytest.raises(FormatError, match="qualifier"):
            decode_contact_id(vector.expected["data"])
        return
    assert decode_contact_id(vector.expected["data"]) == ContactIdEvent(**expected)


def test_every_departure_names_a_corpus_vector() -> None:
    assert set(DEPARTURES) <= set(BY_ID)
    assert set(ERROR_OVERRIDES) | SIA_DEPARTURES <= set(DEPARTURES)


# --- Departures from the corpus, one test each -------------------------------------------


def test_unknown_sia_code_is_decoded_and_acked_for_an_unclassified_alarm() -> None:
    # Corpus: DUH (pysiaalarm's behaviour). DESIGN.md: an event whose code has no mapping is
    # stored and raised as an "unclassified signal"; DUH would lose it.
    vector = BY_ID["gen-sia-unknown-code"]
    assert vector.expected["response"] == "DUH"
    frame = decode_frame(vector.raw)
    assert [event.code for event in decode_sia_dcs(frame.data).events] == ["ZX"]
    assert _receive(vector, _frozen_now(vector)) == ["ACK"]


def test_unencrypted_message_with_unparseable_timestamp_is_acked() -> None:
    # Corpus: NAK. DESIGN.md: unencrypted messages with a skewed timestamp are accepted and
    # the skew recorded; an unparseable one has no skew (None) and is accepted too.
    vector = BY_ID["gen-bad-ts-format"]
    assert vector.expected["response"] == "NAK"
    frame = decode_frame(vector.raw)
    assert frame.timestamp is None
    assert frame.timestamp_text == "25:61:61,13-32-2025"
    check_timestamp(frame, REAL_WORLD_NOW)
    assert timestamp_skew(frame, REAL_WORLD_NOW) is None
    assert _receive(vector, REAL_WORLD_NOW) == ["ACK"]


def test_two_frames_in_one_read_give_two_valid_frames() -> None:
    # Corpus: parsed as one frame (crc error) while expecting two ACKs; stream framing
    # (DESIGN.md) cuts the read into two frames, both valid.
    vector = BY_ID["gen-two-frames-one-read"]
    frames = FrameSplitter().feed(vector.raw)
    assert [decode_frame(frame).token for frame in frames] == ["SIA-DCS", "NULL"]
    assert _receive(vector, _frozen_now(vector)) == ["ACK", "ACK"]
    with pytest.raises(ChecksumError):
        decode_frame(vector.raw)


@pytest.mark.parametrize("vector_id", ["gen-enc-not-hex", "gen-enc-not-block-multiple"])
def test_bad_ciphertext_is_a_decryption_error_with_duh(vector_id: str) -> None:
    # Corpus: error "format". The header is well-formed; only the encrypted block is bad, so
    # decrypt_frame reports it as DecryptionError. The reply (DUH) is the same.
    vector = BY_ID[vector_id]
    assert vector.expected["error"] == "format"
    frame = decode_frame(vector.raw)
    assert vector.key is not None
    with pytest.raises(DecryptionError) as info:
        decrypt_frame(frame, vector.key)
    assert info.value.reply is Reply.DUH
    assert encode_duh(info.value.frame).endswith(b'"DUH"' + frame.seq.encode() + b"L0#1234[]\r")


def test_ri_without_slash_is_area_then_event() -> None:
    # Corpus (spt-sia): modifiers ri='1BA5' and no event. SIA modifier values are numbers, so
    # dc09_spt's 'Nri1BA5' is area 1 and event BA zone 5 - the burglary the panel sent.
    vector = BY_ID["spt-sia"]
    assert vector.expected["sia"]["events"] == [{"modifiers": {"ri": "1BA5"}}]
    message = decode_sia_dcs(vector.expected["data"])
    assert [(e.code, e.zone, dict(e.modifiers)) for e in message.events] == [
        ("BA", "5", {"ri": "1"})
    ]


def test_ri_without_slash_before_closing_with_text() -> None:
    # Corpus (pys-bug11): ri='1C' and 'L0^VX FRONTE ^' unparsed. pysiaalarm's own test
    # asserts code CL (Closing Report); area 1, CL zone 0 with its text is what was sent.
    vector = BY_ID["pys-bug11"]
    assert vector.expected["sia"]["events"][0]["modifiers"] == {"ri": "1C"}
    message = decode_sia_dcs(vector.expected["data"])
    assert [(e.code, e.zone, dict(e.modifiers), e.text) for e in message.events] == [
        ("CL", "0", {"ri": "1"}, "VX FRONTE ")
    ]


def test_letters_after_a_zone_start_a_new_event() -> None:
    # Corpus (pys-op): 'NM' after 'OP001' left unparsed. Elements need no '/' between them
    # (as 'ri1BA5' shows), so 'NM' is a second event; unknown codes are kept, never dropped.
    vector = BY_ID["pys-op"]
    assert vector.expected["sia"]["events"][1]["unparsed"] == "NM"
    message = decode_sia_dcs(vector.expected["data"])
    assert message.account == "006969"
    assert [(e.code, e.zone, dict(e.modifiers)) for e in message.events] == [
        ("OP", "001", {"ri": "04"}),
        ("NM", "", {"ri": "04"}),
    ]


def test_truncated_frame_waits_for_more_bytes() -> None:
    vector = BY_ID["gen-truncated"]
    splitter = FrameSplitter()
    assert splitter.feed(vector.raw) == []
    assert splitter.pending == len(vector.raw) - 1

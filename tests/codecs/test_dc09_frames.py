"""Golden values and edge cases of DC-09 framing, decryption, timestamps and replies."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone

import pytest
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from watchfloor.codecs import (
    ChecksumError,
    Dc09Frame,
    DecodeError,
    DecryptionError,
    FormatError,
    FrameSplitter,
    FramingError,
    Reply,
    TimestampError,
    UnsupportedMessageError,
    check_timestamp,
    crc16_arc,
    decode_frame,
    decode_reply,
    decrypt_frame,
    encode_ack,
    encode_duh,
    encode_frame,
    encode_nak,
    timestamp_skew,
)

KEY = b"0123456789ABCDEF"
NOW = datetime(2025, 1, 15, 12, 34, 56, tzinfo=UTC)


def _wrap(span: bytes) -> bytes:
    return b"%04X%04X%s" % (crc16_arc(span), len(span), span)


def _encrypted(token: bytes, body: bytes, pad: bytes = b"0", key: bytes = KEY) -> Dc09Frame:
    size = 16 - len(body) % 16
    plaintext = (pad * size)[:size] + body
    encryptor = Cipher(algorithms.AES(key), modes.CBC(bytes(16))).encryptor()
    cipher = (encryptor.update(plaintext) + encryptor.finalize()).hex().upper().encode()
    return decode_frame(_wrap(b'"*' + token + b'"0001L0#1234[' + cipher))


# --- CRC ---------------------------------------------------------------------------------


def test_crc16_arc_check_value() -> None:
    assert crc16_arc(b"123456789") == 0xBB3D


def test_crc16_arc_of_nothing_is_zero() -> None:
    assert crc16_arc(b"") == 0


# --- decode_frame ------------------------------------------------------------------------


def test_decode_accepts_frame_with_and_without_lf_cr() -> None:
    raw = encode_frame(token="NULL", seq="0000", account="1234", data="")
    assert decode_frame(raw) == decode_frame(raw[1:-1])


def test_decode_accepts_lower_case_crc_and_length() -> None:
    raw = encode_frame(token="SIA-DCS", seq="0001", account="ABC", data="#ABC|NRP")[1:-1]
    frame = decode_frame(raw[:8].lower() + raw[8:])
    assert frame.crc == raw[:4].decode().lower()


def test_decode_rejects_bad_crc() -> None:
    raw = bytearray(encode_frame(token="NULL", seq="0000", account="1234", data="")[1:-1])
    raw[-1] ^= 0x01
    with pytest.raises(ChecksumError, match="CRC mismatch") as info:
        decode_frame(bytes(raw))
    assert info.value.reply is Reply.NONE


def test_decode_rejects_length_read_as_decimal() -> None:
    # 0x27 = 39 bytes; a receiver reading the length as decimal would accept "0039".
    span = b'"NULL"0000L0#1234[]_12:34:56,01-15-2025'
    assert len(span) == 0x27
    with pytest.raises(ChecksumError, match="length mismatch"):
        decode_frame(b"%04X0039%s" % (crc16_arc(span), span))


def test_decode_rejects_header_that_is_not_hex() -> None:
    with pytest.raises(FormatError, match="8 hex digits"):
        decode_frame(b'+1230027"NULL"0000L0#1234[]')


def test_decode_rejects_frame_without_quote() -> None:
    with pytest.raises(FormatError, match="no '\"'"):
        decode_frame(b"12340027NULL0000L0#1234[]")


def test_decode_rejects_bytes_between_length_and_token() -> None:
    span = b'"NULL"0000L0#1234[]'
    raw = b"%04X%04X %s" % (crc16_arc(span), len(span), span)
    with pytest.raises(FormatError, match="between the length field"):
        decode_frame(raw)


def test_decode_rejects_missing_data_block() -> None:
    with pytest.raises(FormatError, match="no '\\['"):
        decode_frame(_wrap(b'"NULL"0000L0#1234'))


def test_decode_rejects_unclosed_data_block_and_keeps_header_for_duh() -> None:
    with pytest.raises(FormatError, match="no ']'") as info:
        decode_frame(_wrap(b'"SIA-DCS"0042R5L6#1234[#1234|NRP'))
    assert info.value.frame is not None
    assert encode_duh(info.value.frame)[9:] == b'"DUH"0042R5L6#1234[]\r'


def test_decode_rejects_text_after_the_blocks() -> None:
    with pytest.raises(FormatError, match="after the data block"):
        decode_frame(_wrap(b'"NULL"0000L0#1234[]junk'))


def test_decode_rejects_l_without_digits() -> None:
    with pytest.raises(FormatError, match="header does not parse"):
        decode_frame(_wrap(b'"NULL"0000L#1234[]'))


def test_decode_accepts_missing_r_l_and_account() -> None:
    frame = decode_frame(_wrap(b'"NULL"0000[]'))
    assert (frame.receiver, frame.prefix, frame.account) == (None, None, None)


def test_decode_reads_non_utf8_text_as_latin1() -> None:
    frame = decode_frame(_wrap(b'"SIA-DCS"0001L0#1234[#1234|NRP^caf\xe9^]'))
    assert frame.data == "#1234|NRP^café^"


def test_decode_reports_unknown_token_after_the_crc_with_its_header() -> None:
    with pytest.raises(UnsupportedMessageError) as info:
        decode_frame(_wrap(b'"*FOO"0007R1L2#ABC[00'))
    assert info.value.reply is Reply.DUH
    assert info.value.frame is not None
    assert info.value.frame.encrypted
    assert encode_duh(info.value.frame)[9:] == b'"DUH"0007R1L2#ABC[]\r'


def test_decode_frame_refuses_replies_and_decode_reply_refuses_messages() -> None:
    with pytest.raises(UnsupportedMessageError):
        decode_frame(_wrap(b'"DUH"0000R0L0#ABC[]'))
    with pytest.raises(UnsupportedMessageError):
        decode_reply(_wrap(b'"SIA"0001L0#1234[]'))


# --- decrypt_frame -----------------------------------------------------------------------


def test_decrypt_reads_pad_data_ext_and_timestamp() -> None:
    frame = _encrypted(b"SIA-DCS", b"|#1234|NRP][X1]_12:34:56,01-15-2025", b"\xaf\xfe")
    plain = decrypt_frame(frame, KEY)
    assert (plain.pad, plain.data, plain.ext, plain.timestamp) == (
        b"\xaf\xfe" * 6 + b"\xaf",
        "#1234|NRP",
        ("X1",),
        NOW,
    )
    assert plain.decrypted


def test_decrypt_allows_null_without_pipe() -> None:
    plain = decrypt_frame(_encrypted(b"NULL", b"]_12:34:56,01-15-2025"), KEY)
    assert (plain.pad, plain.data) == (b"0" * 11, "")


def test_decrypt_rejects_event_without_pipe() -> None:
    with pytest.raises(DecryptionError, match="no '\\|'"):
        decrypt_frame(_encrypted(b"SIA-DCS", b"NRP]_12:34:56,01-15-2025"), KEY)


def test_decrypt_rejects_control_characters() -> None:
    with pytest.raises(DecryptionError, match="control characters"):
        decrypt_frame(_encrypted(b"SIA-DCS", b"|NRP\x01]_12:34:56,01-15-2025"), KEY)


def test_decrypt_rejects_garbage_after_the_data() -> None:
    with pytest.raises(DecryptionError, match="after ']'"):
        decrypt_frame(_encrypted(b"SIA-DCS", b"|NRP]?12:34:56,01-15-2025"), KEY)


def test_decrypt_rejects_empty_ciphertext() -> None:
    frame = decode_frame(_wrap(b'"*NULL"0000L0#1234['))
    with pytest.raises(DecryptionError, match="whole number"):
        decrypt_frame(frame, KEY)


def test_decrypt_rejects_whitespace_that_bytes_fromhex_would_accept() -> None:
    frame = decode_frame(_wrap(b'"*NULL"0000L0#1234[' + b"00 " * 16))
    with pytest.raises(DecryptionError, match="not hex"):
        decrypt_frame(frame, KEY)


def test_decrypt_with_wrong_key_is_rejected() -> None:
    raw = encode_frame(token="SIA-DCS", seq="0001", account="1234", data="#1234|NRP", key=KEY,
                       timestamp=NOW, pad=b"0")  # fmt: skip
    with pytest.raises(DecryptionError):
        decrypt_frame(decode_frame(raw), b"FEDCBA9876543210")


def test_decrypt_refuses_caller_errors() -> None:
    plain = decode_frame(encode_frame(token="NULL", seq="0000", account="1234", data=""))
    with pytest.raises(ValueError, match="encrypted frame"):
        decrypt_frame(plain, KEY)
    frame = decode_frame(
        encode_frame(token="NULL", seq="0000", account="1234", data="", key=KEY, timestamp=NOW)
    )
    with pytest.raises(ValueError, match="16, 24 or 32 bytes"):
        decrypt_frame(frame, b"short")
    with pytest.raises(ValueError, match="not yet decrypted"):
        decrypt_frame(decrypt_frame(frame, KEY), KEY)


# --- timestamps --------------------------------------------------------------------------


def _timed(moment: datetime | None) -> Dc09Frame:
    raw = encode_frame(token="NULL", seq="0000", account="1234", data="", key=KEY,
                       timestamp=moment or NOW)  # fmt: skip
    frame = decrypt_frame(decode_frame(raw), KEY)
    return frame if moment else replace(frame, timestamp=None, timestamp_text=None)


@pytest.mark.parametrize("skew", [-40, -1, 0, 1, 20])
def test_check_timestamp_accepts_the_window(skew: int) -> None:
    check_timestamp(_timed(NOW + timedelta(seconds=skew)), NOW)


@pytest.mark.parametrize("skew", [-41, 21, 3600])
def test_check_timestamp_rejects_outside_the_window(skew: int) -> None:
    with pytest.raises(TimestampError, match="from the receiver's clock") as info:
        check_timestamp(_timed(NOW + timedelta(seconds=skew)), NOW)
    assert info.value.reply is Reply.NAK


def test_check_timestamp_rejects_missing_and_unparseable_timestamps() -> None:
    with pytest.raises(TimestampError, match="with no timestamp"):
        check_timestamp(_timed(None), NOW)
    bad = replace(_timed(None), timestamp_text="25:61:61,13-32-2025")
    with pytest.raises(TimestampError, match="unparseable"):
        check_timestamp(bad, NOW)


def test_check_timestamp_ignores_unencrypted_frames() -> None:
    frame = decode_frame(encode_frame(token="NULL", seq="0000", account="1234", data="",
                                      timestamp=NOW - timedelta(days=400)))  # fmt: skip
    check_timestamp(frame, NOW)
    assert timestamp_skew(frame, NOW) == -400 * 86400


def test_check_timestamp_refuses_caller_errors() -> None:
    raw = encode_frame(token="NULL", seq="0000", account="1234", data="", key=KEY, timestamp=NOW)
    with pytest.raises(ValueError, match="decrypt the frame"):
        check_timestamp(decode_frame(raw), NOW)
    with pytest.raises(ValueError, match="timezone-aware"):
        check_timestamp(decrypt_frame(decode_frame(raw), KEY), NOW.replace(tzinfo=None))


def test_timestamp_converts_other_zones_to_utc() -> None:
    local = NOW.astimezone(timezone(timedelta(hours=2)))
    raw = encode_frame(token="NULL", seq="0000", account="1234", data="", timestamp=local)
    assert raw.endswith(b"_12:34:56,01-15-2025\r")
    assert decode_frame(raw).timestamp == NOW


def test_invalid_calendar_date_is_kept_as_text() -> None:
    frame = decode_frame(_wrap(b'"NULL"0000L0#1234[]_12:00:00,02-30-2025'))
    assert (frame.timestamp, frame.timestamp_text) == (None, "12:00:00,02-30-2025")


# --- replies -----------------------------------------------------------------------------


def test_ack_without_r_field_has_no_r_and_no_none() -> None:
    frame = decode_frame(b'\nF5160027"ADM-CID"0005L0#1234[#1234|1130 01 005]\r')
    ack = encode_ack(frame, now=NOW)
    assert b"R" not in ack[9:]
    assert b"None" not in ack
    assert ack == b'\n%04X0012"ACK"0005L0#1234[]\r' % crc16_arc(b'"ACK"0005L0#1234[]')


def test_ack_echoes_r_l_and_account() -> None:
    frame = decode_frame(
        b'\n8C73003C"SIA-DCS"0001R12L3#1234[#1234|Nri1/BA05]_12:34:56,01-15-2025\r'
    )
    assert encode_ack(frame, now=NOW)[9:] == b'"ACK"0001R12L3#1234[]\r'


def test_ack_without_l_or_account_omits_them() -> None:
    frame = decode_frame(_wrap(b'"NULL"0000[]'))
    assert encode_ack(frame, now=NOW)[9:] == b'"ACK"0000[]\r'


def test_encrypted_ack_decrypts_with_the_key_and_carries_the_time() -> None:
    raw = encode_frame(token="SIA-DCS", seq="0010", account="1234", data="#1234|NRP",
                       receiver="1", prefix="1", key=KEY, timestamp=NOW)  # fmt: skip
    frame = decrypt_frame(decode_frame(raw), KEY)
    ack = encode_ack(frame, now=NOW + timedelta(seconds=1, microseconds=5), key=KEY)
    assert ack[9:].startswith(b'"*ACK"0010R1L1#1234[')
    answer = decrypt_frame(decode_reply(ack), KEY)
    assert (answer.token, answer.data, answer.seq) == ("ACK", "", "0010")
    assert answer.timestamp == NOW + timedelta(seconds=1)
    assert answer.pad is not None
    assert b"|" not in answer.pad


def test_encrypted_ack_with_fixed_pad_is_deterministic() -> None:
    raw = encode_frame(token="NULL", seq="0000", account="1234", data="", key=KEY, timestamp=NOW)
    frame = decrypt_frame(decode_frame(raw), KEY)
    first = encode_ack(frame, now=NOW, key=KEY, pad=b"xy")
    assert first == encode_ack(frame, now=NOW, key=KEY, pad=b"xy")
    # '|]_HH:MM:SS,MM-DD-YYYY' is 22 bytes: 10 bytes of pad make 32.
    assert decrypt_frame(decode_reply(first), KEY).pad == b"xyxyxyxyxy"


def test_encrypted_ack_needs_the_key() -> None:
    raw = encode_frame(token="NULL", seq="0000", account="1234", data="", key=KEY, timestamp=NOW)
    with pytest.raises(ValueError, match="encrypted ACK"):
        encode_ack(decode_frame(raw), now=NOW)


def test_nak_carries_the_receiver_time() -> None:
    nak = encode_nak(now=NOW)
    assert nak[9:] == b'"NAK"0000R0L0A0[]_12:34:56,01-15-2025\r'
    answer = decode_reply(nak)
    assert (answer.token, answer.account, answer.timestamp) == ("NAK", "0", NOW)


def test_nak_refuses_naive_time() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        encode_nak(now=NOW.replace(tzinfo=None))


def test_duh_without_frame_is_minimal() -> None:
    assert encode_duh(None)[9:] == b'"DUH"0000R0L0A0[]\r'
    assert decode_reply(encode_duh(None)).token == "DUH"


def test_replies_refuse_out_of_range_fields() -> None:
    frame = decode_frame(encode_frame(token="NULL", seq="0000", account="1234", data=""))
    with pytest.raises(ValueError, match="sequence"):
        encode_duh(replace(frame, seq="12345"))
    with pytest.raises(ValueError, match="receiver"):
        encode_ack(replace(frame, receiver="None"), now=NOW)
    with pytest.raises(ValueError, match="account"):
        encode_ack(replace(frame, account="12"), now=NOW)


# --- encode_frame ------------------------------------------------------------------------


def test_encode_frame_golden() -> None:
    raw = encode_frame(token="SIA-DCS", seq="0020", account="1234", data="#1234|Nri1/BA05",
                       timestamp=NOW)  # fmt: skip
    assert raw == b'\nF78E0039"SIA-DCS"0020L0#1234[#1234|Nri1/BA05]_12:34:56,01-15-2025\r'


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"token": "ACK"}, "token"),
        ({"seq": "12"}, "sequence"),
        ({"account": "12"}, "account"),
        ({"receiver": "1234567"}, "receiver"),
        ({"prefix": ""}, "prefix"),
        ({"data": "a]b"}, "data"),
        ({"data": "a\rb"}, "data"),
        ({"ext": ("X[1",)}, "extended block"),
        ({"key": KEY}, "must carry a timestamp"),
        ({"key": KEY, "timestamp": NOW, "pad": b"|"}, "pad"),
        ({"key": KEY, "timestamp": NOW, "pad": b""}, "pad"),
        ({"key": b"k" * 15, "timestamp": NOW}, "16, 24 or 32"),
        ({"timestamp": NOW.replace(tzinfo=None)}, "timezone-aware"),
        ({"data": "x" * 5000}, "exceeds"),
    ],
)
def test_encode_frame_refuses_bad_fields(changes: dict[str, object], message: str) -> None:
    fields: dict[str, object] = {"token": "NULL", "seq": "0000", "account": "1234", "data": ""}
    fields.update(changes)
    with pytest.raises(ValueError, match=message):
        encode_frame(**fields)  # type: ignore[arg-type]


# --- FrameSplitter -----------------------------------------------------------------------

NULL_FRAME = encode_frame(token="NULL", seq="0000", account="1234", data="")


def test_splitter_returns_frames_and_keeps_partial_ones() -> None:
    splitter = FrameSplitter()
    assert splitter.feed(NULL_FRAME + NULL_FRAME[:10]) == [NULL_FRAME[1:-1]]
    assert splitter.pending == 9
    assert splitter.feed(NULL_FRAME[10:]) == [NULL_FRAME[1:-1]]
    assert splitter.pending == 0


def test_splitter_drops_bytes_outside_frames_and_empty_frames() -> None:
    splitter = FrameSplitter()
    assert splitter.feed(b"junk\r" + NULL_FRAME + b"\n\rmore") == [NULL_FRAME[1:-1]]
    assert splitter.dropped == len(b"junk\r") + len(b"more")
    assert splitter.feed(b"") == []


def test_splitter_resynchronises_on_lf_inside_a_frame() -> None:
    splitter = FrameSplitter()
    assert splitter.feed(b"\ntruncated") == []
    assert splitter.feed(b"-still" + NULL_FRAME) == [NULL_FRAME[1:-1]]
    assert splitter.dropped == len(b"truncated-still")


def test_splitter_rejects_oversize_frame_and_recovers() -> None:
    splitter = FrameSplitter(max_frame_size=len(NULL_FRAME) - 2)
    assert splitter.feed(NULL_FRAME) == [NULL_FRAME[1:-1]]
    assert splitter.feed(b"\n" + b"A" * 20) == []
    with pytest.raises(FramingError, match="longer than") as info:
        splitter.feed(b"A" * 20 + b"B\r" + NULL_FRAME)
    assert info.value.reply is Reply.NONE
    assert info.value.frames == (NULL_FRAME[1:-1],)
    assert splitter.pending == 0
    assert splitter.feed(NULL_FRAME) == [NULL_FRAME[1:-1]]


def test_splitter_rejects_oversize_frame_completed_in_one_read() -> None:
    splitter = FrameSplitter(max_frame_size=4)
    with pytest.raises(FramingError) as info:
        splitter.feed(b"\n12345\r\n1234\r")
    assert info.value.frames == (b"1234",)


def test_splitter_refuses_nonpositive_limit() -> None:
    with pytest.raises(ValueError, match="positive"):
        FrameSplitter(max_frame_size=0)


# --- errors ------------------------------------------------------------------------------


def test_every_error_is_a_decode_error_with_its_reply() -> None:
    replies = {
        FramingError: Reply.NONE,
        ChecksumError: Reply.NONE,
        FormatError: Reply.DUH,
        UnsupportedMessageError: Reply.DUH,
        DecryptionError: Reply.DUH,
        TimestampError: Reply.NAK,
    }
    for error_class, reply in replies.items():
        error = error_class("what is wrong")
        assert isinstance(error, DecodeError)
        assert error.reply is reply
        assert str(error) == "what is wrong"
        assert error.frame is None
    assert FramingError("x").frames == ()

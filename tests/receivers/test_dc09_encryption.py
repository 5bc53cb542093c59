"""Encrypted DC-09 over real sockets: every key size and form, replay protection, key policy."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from support.panel import open_tcp_panel, reply_token, udp_exchange
from watchfloor.app import Platform
from watchfloor.codecs.accounts import parse_key
from watchfloor.codecs.dc09 import decode_reply, decrypt_frame, encode_frame

KEYS = [
    ("0123456789ABCDEF", True),
    ("0123456789ABCDEF01234567", True),
    ("0123456789ABCDEF0123456789ABCDEF", True),
    ("000102030405060708090A0B0C0D0E0F", False),
    ("000102030405060708090A0B0C0D0E0F1011121314151617", False),
    ("000102030405060708090A0B0C0D0E0F101112131415161718191A1B1C1D1E1F", False),
]


def _encrypted(
    account: str,
    seq: int,
    key: bytes,
    *,
    at: datetime | None = None,
    data: str | None = None,
    token: str = "SIA-DCS",
) -> bytes:
    return encode_frame(
        token=token,
        seq=f"{seq:04d}",
        account=account,
        data=f"#{account}|Nri1/BA05" if data is None else data,
        timestamp=at or datetime.now(UTC),
        key=key,
    )


@pytest.mark.parametrize(
    ("text", "ascii_form"),
    KEYS,
    ids=[f"{'ascii' if a else 'hex'}-{len(t) * (8 if a else 4)}" for t, a in KEYS],
)
async def test_encrypted_round_trip_over_tcp_and_udp(
    platform: Platform, text: str, ascii_form: bool
) -> None:
    key = parse_key(text, ascii=ascii_form)
    await platform.repository.add_account(account="1234", site="Vault", key=key)
    host, port = platform.dc09_address
    async with open_tcp_panel(host, port) as panel:
        tcp_reply = await panel.exchange(_encrypted("1234", 1, key))
        null_reply = await panel.exchange(_encrypted("1234", 0, key, data="", token="NULL"))
    udp_reply = await udp_exchange(host, port, _encrypted("1234", 2, key))
    for reply in (tcp_reply, null_reply, udp_reply):
        assert reply_token(reply) == "*ACK"
        ack = decrypt_frame(decode_reply(reply.strip(b"\n\r")), key)
        assert ack.timestamp is not None
    records = await platform.repository.list_signals(
        device="1234", alarm_id=None, limit=10, after=None
    )
    assert sorted(r.signal.seq or "" for r in records) == ["0001", "0002"]
    assert all(r.signal.code.code == "BA" for r in records)


@pytest.mark.parametrize(
    ("skew", "answer"), [(-41, "NAK"), (21, "NAK"), (-39, "*ACK"), (19, "*ACK")]
)
async def test_encrypted_timestamp_window_is_plus_20_minus_40_seconds(
    platform: Platform, skew: int, answer: str
) -> None:
    key = parse_key("0123456789ABCDEF", ascii=True)
    await platform.repository.add_account(account="1234", site=None, key=key)
    host, port = platform.dc09_address
    at = datetime.now(UTC) + timedelta(seconds=skew)
    async with open_tcp_panel(host, port) as panel:
        reply = await panel.exchange(_encrypted("1234", 3, key, at=at))
    assert reply_token(reply) == answer
    if answer == "NAK":
        assert b'"NAK"0000R0L0A0[]_' in reply  # with the receiver's time
        stored = await platform.repository.list_signals(
            device="1234", alarm_id=None, limit=5, after=None
        )
        assert stored == []


async def test_unencrypted_message_to_an_account_with_a_key_gets_duh(platform: Platform) -> None:
    await platform.repository.add_account(
        account="1234", site=None, key=parse_key("0123456789ABCDEF", ascii=True)
    )
    host, port = platform.dc09_address
    frame = encode_frame(token="SIA-DCS", seq="0004", account="1234", data="#1234|Nri1/BA05")
    async with open_tcp_panel(host, port) as panel:
        assert reply_token(await panel.exchange(frame)) == "DUH"


async def test_encrypted_message_from_an_account_without_key_gets_duh(
    platform: Platform, caplog: pytest.LogCaptureFixture
) -> None:
    key = parse_key("0123456789ABCDEF", ascii=True)
    host, port = platform.dc09_address
    async with open_tcp_panel(host, port) as panel:
        assert reply_token(await panel.exchange(_encrypted("9999", 5, key))) == "DUH"
    assert "0123456789ABCDEF" not in caplog.text


async def test_wrong_key_gets_duh_and_the_key_never_reaches_the_log(
    platform: Platform, caplog: pytest.LogCaptureFixture
) -> None:
    right = parse_key("0123456789ABCDEF", ascii=True)
    await platform.repository.add_account(account="1234", site=None, key=right)
    wrong = parse_key("FEDCBA9876543210", ascii=True)
    host, port = platform.dc09_address
    async with open_tcp_panel(host, port) as panel:
        assert reply_token(await panel.exchange(_encrypted("1234", 6, wrong))) == "DUH"
        # The connection is still good for the next, correct message.
        assert reply_token(await panel.exchange(_encrypted("1234", 7, right))) == "*ACK"
    for secret in ("0123456789ABCDEF", "FEDCBA9876543210", right.hex(), right.hex().upper()):
        assert secret not in caplog.text

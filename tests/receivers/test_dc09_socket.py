"""The DC-09 receiver over real loopback sockets, against the real store."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import replace

from support.clock import FakeClock
from support.panel import open_tcp_panel, reply_token, sia_frame, udp_exchange
from watchfloor.app import Platform, open_platform
from watchfloor.codecs.dc09 import crc16_arc, encode_frame
from watchfloor.config import Settings
from watchfloor.core.alarm_types import UNCLASSIFIED_SIGNAL, UNREGISTERED_TRANSMITTER
from watchfloor.core.errors import StoreUnavailableError
from watchfloor.core.signals import LinkTest, Signal, SignalRecord
from watchfloor.receivers.dc09 import (
    AccountView,
    Dc09Receiver,
    Dc09Settings,
    open_dc09_listeners,
)


async def _register(platform: Platform, account: str = "1234") -> None:
    """Registered accounts are not subject to the unregistered-traffic rate limit."""
    await platform.repository.add_account(account=account, site="Main Street 1", key=None)


async def test_ack_echoes_the_message_after_the_signal_is_committed(platform: Platform) -> None:
    await _register(platform)
    host, port = platform.dc09_address
    async with open_tcp_panel(host, port) as panel:
        reply = await panel.exchange(sia_frame("1234", 7, receiver="12", prefix="3"))
    assert reply_token(reply) == "ACK"
    assert b'"ACK"0007R12L3#1234[]' in reply
    # A fresh connection sees the signal: it was committed before the ACK left.
    records = await platform.repository.list_signals(
        device="1234", alarm_id=None, limit=10, after=None
    )
    assert [r.signal.code.code for r in records] == ["BA"]
    alarms = await platform.repository.list_alarms(state=None, limit=10, after=None)
    assert [(a.type_name, a.site, a.zone) for a in alarms] == [
        (alarms[0].type_name, "Main Street 1", "05")
    ]


async def test_ack_without_r_field_writes_no_r_and_no_none(platform: Platform) -> None:
    host, port = platform.dc09_address
    async with open_tcp_panel(host, port) as panel:
        reply = await panel.exchange(sia_frame("1234", 1))
    assert b"None" not in reply
    assert b'"ACK"0001L0#1234[]' in reply


async def test_several_frames_in_one_segment_get_one_ack_each(platform: Platform) -> None:
    host, port = platform.dc09_address
    async with open_tcp_panel(host, port) as panel:
        await panel.send(sia_frame("1234", 1) + sia_frame("1234", 2) + sia_frame("1234", 3))
        replies = [await panel.reply() for _ in range(3)]
    assert [r.split(b"L", 1)[0][-4:] for r in replies] == [b"0001", b"0002", b"0003"]


async def test_frame_split_over_many_segments_is_reassembled(platform: Platform) -> None:
    host, port = platform.dc09_address
    frame = sia_frame("1234", 42)
    async with open_tcp_panel(host, port) as panel:
        for byte in frame:
            await panel.send(bytes([byte]))
        assert reply_token(await panel.reply()) == "ACK"


async def test_bad_crc_gets_no_reply_and_the_connection_carries_on(platform: Platform) -> None:
    host, port = platform.dc09_address
    bad = bytearray(sia_frame("1234", 5))
    bad[1:5] = b"0000" if bad[1:5] != b"0000" else b"FFFF"
    async with open_tcp_panel(host, port) as panel:
        await panel.send(bytes(bad))
        # The first reply on the connection belongs to the next, valid frame.
        reply = await panel.exchange(sia_frame("1234", 6))
    assert b'"ACK"0006' in reply
    assert platform.receiver.counters["rejected_none"] == 1


async def test_unknown_token_gets_duh(platform: Platform) -> None:
    host, port = platform.dc09_address
    frame = sia_frame("1234", 8).replace(b"SIA-DCS", b"FOO-BAR")
    # Recompute CRC and length for the altered token: build it like a panel would.
    body = frame[9:-1]
    fixed = b"\n" + f"{crc16_arc(body):04X}{len(body):04X}".encode() + body + b"\r"
    async with open_tcp_panel(host, port) as panel:
        reply = await panel.exchange(fixed)
    assert reply_token(reply) == "DUH"


async def test_malformed_peer_does_not_disturb_another_connection(platform: Platform) -> None:
    host, port = platform.dc09_address
    async with open_tcp_panel(host, port) as bad, open_tcp_panel(host, port) as good:
        await bad.send(b"\n" + b"A" * 10_000)  # beyond the maximum frame size
        assert await bad.closed_by_peer()
        assert reply_token(await good.exchange(sia_frame("1234", 9))) == "ACK"
    assert platform.receiver.counters["limit_max_frame"] == 1


async def test_unregistered_account_is_stored_and_raised(platform: Platform) -> None:
    host, port = platform.dc09_address
    async with open_tcp_panel(host, port) as panel:
        assert reply_token(await panel.exchange(sia_frame("ABCD", 1))) == "ACK"
        assert reply_token(await panel.exchange(sia_frame("ABCD", 2, "#ABCD|Nri1/FA02"))) == "ACK"
    alarms = await platform.repository.list_alarms(state=None, limit=10, after=None)
    assert [(a.type_code, a.signal_count) for a in alarms] == [(UNREGISTERED_TRANSMITTER, 2)]


async def test_unknown_code_is_stored_and_raised_as_unclassified(platform: Platform) -> None:
    await _register(platform)
    host, port = platform.dc09_address
    async with open_tcp_panel(host, port) as panel:
        reply = await panel.exchange(sia_frame("1234", 3, "#1234|Nri1/ZX05"))
    assert reply_token(reply) == "ACK"
    alarms = await platform.repository.list_alarms(state=None, limit=10, after=None)
    assert [a.type_code for a in alarms] == [UNCLASSIFIED_SIGNAL]


async def test_reject_unknown_answers_duh_to_unregistered_accounts(settings: Settings) -> None:
    async with open_platform(replace(settings, dc09_reject_unknown=True)) as platform:
        await _register(platform)
        host, port = platform.dc09_address
        async with open_tcp_panel(host, port) as panel:
            assert reply_token(await panel.exchange(sia_frame("ABCD", 1))) == "DUH"
            assert reply_token(await panel.exchange(sia_frame("1234", 2))) == "ACK"


async def test_repeat_and_restore_correlate_into_one_alarm(platform: Platform) -> None:
    await _register(platform)
    host, port = platform.dc09_address
    async with open_tcp_panel(host, port) as panel:
        for seq, data in enumerate(["#1234|Nri1/BA05", "#1234|Nri1/BA05", "#1234|Nri1/BR05"]):
            assert reply_token(await panel.exchange(sia_frame("1234", seq + 1, data))) == "ACK"
    alarms = await platform.repository.list_alarms(state=None, limit=10, after=None)
    assert len(alarms) == 1
    detail = await platform.repository.get_alarm(alarms[0].id)
    assert detail.alarm.signal_count == 2
    assert detail.alarm.restored_at is not None
    assert [t.kind for t in detail.timeline] == ["created", "repeated", "restored"]


async def test_contact_id_restore_goes_on_the_timeline(platform: Platform) -> None:
    await _register(platform)
    host, port = platform.dc09_address
    async with open_tcp_panel(host, port) as panel:
        for seq, data in enumerate(["#1234|1130 01 005", "#1234|3130 01 005"]):
            frame = encode_frame(token="ADM-CID", seq=f"{seq + 1:04d}", account="1234", data=data)
            assert reply_token(await panel.exchange(frame)) == "ACK"
    alarms = await platform.repository.list_alarms(state=None, limit=10, after=None)
    detail = await platform.repository.get_alarm(alarms[0].id)
    assert [t.kind for t in detail.timeline] == ["created", "restored"]


async def test_null_link_test_is_acked_and_raises_nothing(platform: Platform) -> None:
    await _register(platform)
    host, port = platform.dc09_address
    async with open_tcp_panel(host, port) as panel:
        frame = encode_frame(token="NULL", seq="0000", account="1234", data="")
        assert b'"ACK"0000L0#1234[]' in await panel.exchange(frame)
    assert await platform.repository.list_alarms(state=None, limit=10, after=None) == []
    device = await platform.repository.find_account("1234")
    assert device is not None
    assert device.last_seen_at is not None


async def test_udp_datagram_is_acked_to_its_sender(platform: Platform) -> None:
    host, port = platform.dc09_address
    reply = await udp_exchange(host, port, sia_frame("1234", 11))
    assert reply_token(reply) == "ACK"
    assert b'"ACK"0011' in reply


async def test_concurrent_panels_share_group_commits(platform: Platform) -> None:
    host, port = platform.dc09_address
    for index in range(40):
        await _register(platform, f"{index + 0x100:X}")

    async def panel_run(index: int) -> list[str]:
        account = f"{index + 0x100:X}"
        async with open_tcp_panel(host, port) as panel:
            return [
                reply_token(await panel.exchange(sia_frame(account, seq))) for seq in range(1, 6)
            ]

    results = await asyncio.gather(*(panel_run(i) for i in range(40)))
    assert all(r == ["ACK"] * 5 for r in results)
    stats = platform.writer.stats
    assert stats.signals_committed >= 200
    assert stats.batches < stats.signals_committed


class _UnavailableSink:
    """A store that cannot commit: the receiver must not acknowledge."""

    def __init__(self) -> None:
        self.calls = 0

    async def submit(self, items: Sequence[Signal | LinkTest]) -> Sequence[SignalRecord | None]:
        self.calls += 1
        raise StoreUnavailableError("disk full")


async def test_no_ack_when_the_store_cannot_commit(clock: FakeClock) -> None:
    sink = _UnavailableSink()

    async def lookup(account: str) -> AccountView | None:
        return None

    receiver = Dc09Receiver(sink=sink, lookup=lookup, clock=clock, settings=Dc09Settings())
    async with (
        open_dc09_listeners(receiver, host="127.0.0.1", port=0) as (host, port),
        open_tcp_panel(host, port) as panel,
    ):
        await panel.send(sia_frame("1234", 1))
        # Half-close: the receiver finishes the frame, then sees EOF and closes. Everything
        # it sent before closing is what we read: it must be nothing.
        panel.writer.write_eof()
        async with asyncio.timeout(10):
            assert await panel.reader.read() == b""
    assert sink.calls == 1
    assert receiver.counters["store_unavailable"] == 1
    assert receiver.counters["acked"] == 0


async def test_unregistered_traffic_is_rate_limited_per_address(settings: Settings) -> None:
    limited = replace(settings, dc09_unregistered_per_minute=1, dc09_unregistered_burst=2)
    async with open_platform(limited) as platform:
        await _register(platform)
        host, port = platform.dc09_address
        async with open_tcp_panel(host, port) as panel:
            # Registered after start-up: the receiver learns of it with its first message.
            assert reply_token(await panel.exchange(sia_frame("1234", 1))) == "ACK"
            assert reply_token(await panel.exchange(sia_frame("ABCD", 1))) == "ACK"
            assert reply_token(await panel.exchange(sia_frame("ABCD", 2))) == "ACK"
            await panel.send(sia_frame("ABCD", 3))  # over budget: no answer, panel retries
            # A registered account from the same address is never limited; its ACK is the
            # next reply on the connection, so the limited frame got none.
            assert b'"ACK"0004L0#1234' in await panel.exchange(sia_frame("1234", 4))
        assert platform.receiver.counters["limit_unregistered_rate"] == 1


async def test_lower_case_account_is_the_registered_transmitter(platform: Platform) -> None:
    await _register(platform, "BEEF")
    host, port = platform.dc09_address
    async with open_tcp_panel(host, port) as panel:
        reply = await panel.exchange(sia_frame("beef", 1))
    assert b"#beef[]" in reply  # the ACK echoes the panel's own spelling
    alarms = await platform.repository.list_alarms(state=None, limit=5, after=None)
    assert [(a.site, a.type_code != UNREGISTERED_TRANSMITTER) for a in alarms] == [
        ("Main Street 1", True)
    ]


async def test_every_event_of_a_multi_event_sia_block_is_stored_once(platform: Platform) -> None:
    # One block, a burglary and a fire: both stored before the ACK, and a retransmission
    # of the frame (TCP, then UDP) stores neither again.
    await _register(platform, "ABC123")
    host, port = platform.dc09_address
    frame = sia_frame("ABC123", 9, "#ABC123|Nri1/BA05/FA06")
    async with open_tcp_panel(host, port) as panel:
        assert reply_token(await panel.exchange(frame)) == "ACK"
        assert reply_token(await panel.exchange(frame)) == "ACK"
    assert reply_token(await udp_exchange(host, port, frame)) == "ACK"

    records = await platform.repository.list_signals(
        device="ABC123", alarm_id=None, limit=10, after=None
    )
    assert sorted((r.signal.code.code, r.signal.zone) for r in records) == [
        ("BA", "05"),
        ("FA", "06"),
    ]
    alarms = await platform.repository.list_alarms(state=None, limit=10, after=None)
    assert sorted((a.category, a.zone) for a in alarms) == [
        ("fire", "06"),
        ("intrusion", "05"),
    ]

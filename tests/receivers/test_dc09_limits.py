"""The DC-09 receiver's limits over real loopback sockets: floods of unregistered accounts, work
in flight, the frame deadline and a full connection table. Every load here is a fixed number
of frames or connections from 127.0.0.1, and every wait is bounded."""

from __future__ import annotations

import asyncio
import logging
import socket
from collections.abc import AsyncIterator, Iterator, Sequence
from contextlib import asynccontextmanager, contextmanager
from dataclasses import replace
from typing import Any

import httpx
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine

from support.clock import FakeClock
from support.panel import REPLY_TIMEOUT, open_tcp_panel, reply_token, sia_frame
from watchfloor.app import Platform, open_platform, open_repository
from watchfloor.config import Settings
from watchfloor.core.signals import LinkTest, Signal, SignalRecord
from watchfloor.receivers.dc09 import (
    AccountView,
    Dc09Receiver,
    Dc09Settings,
    open_dc09_listeners,
)

REGISTERED = "1234"


@contextmanager
def _counting_statements(engine: AsyncEngine) -> Iterator[list[str]]:
    """Every SQL statement the engine runs inside the block."""
    statements: list[str] = []

    def count(*args: Any) -> None:
        statements.append(str(args[2]))

    event.listen(engine.sync_engine, "before_cursor_execute", count)
    try:
        yield statements
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", count)


@asynccontextmanager
async def _udp_socket(host: str, port: int) -> AsyncIterator[socket.socket]:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.setblocking(False)
    sock.connect((host, port))
    try:
        yield sock
    finally:
        sock.close()


async def _reply_for(sock: socket.socket, marker: bytes) -> bytes:
    """The next datagram on ``sock`` that contains ``marker`` (others are skipped)."""
    loop = asyncio.get_running_loop()
    async with asyncio.timeout(REPLY_TIMEOUT):
        while True:
            reply = await loop.sock_recv(sock, 4096)
            if marker in reply:
                return reply


async def _healthz(platform: Platform) -> int:
    transport = httpx.ASGITransport(app=platform.api)
    async with httpx.AsyncClient(transport=transport, base_url="http://watchfloor") as http:
        return (await http.get("/healthz")).status_code


async def test_a_flood_of_unregistered_accounts_costs_no_lookups_and_spares_registered_panels(
    settings: Settings, clock: FakeClock
) -> None:
    limited = replace(settings, dc09_unregistered_burst=5, dc09_unregistered_per_minute=1)
    async with open_repository(limited) as repository:
        await repository.add_account(account=REGISTERED, site="Main Street 1", key=None)
    batches, per_batch = 6, 100
    async with open_platform(limited, clock=clock) as platform:
        host, port = platform.dc09_address
        with _counting_statements(platform.engine) as statements:
            async with _udp_socket(host, port) as flood, open_tcp_panel(host, port) as panel:
                for batch in range(batches):
                    for index in range(per_batch):
                        account = f"{0xA0000 + batch * per_batch + index:X}"
                        flood.send(sia_frame(account, 1))
                    # The registered account from the flood's own address: it is answered,
                    # and every datagram before it has been dealt with by then.
                    flood.send(sia_frame(REGISTERED, batch + 1))
                    reply = await _reply_for(flood, f"#{REGISTERED}[".encode())
                    assert reply_token(reply) == "ACK"
                    # A registered panel on TCP gets every ACK while the flood goes on.
                    reply = await panel.exchange(sia_frame(REGISTERED, 100 + batch))
                    assert reply_token(reply) == "ACK"
                    assert await _healthz(platform) == 200
        counters = platform.receiver.counters
    flooded = batches * per_batch
    assert counters["limit_unregistered_rate"] == flooded - 5
    assert counters["acked"] == 5 + 2 * batches
    # The store read devices for the frames accepted, never for each datagram of the flood.
    device_reads = [s for s in statements if s.startswith("SELECT") and "FROM devices" in s]
    assert len(device_reads) < per_batch, len(device_reads)


class _HeldSink:
    """A store that holds every submission until released, so work in flight stays there."""

    def __init__(self) -> None:
        self.held: list[Sequence[Signal | LinkTest]] = []
        self._released = asyncio.Event()
        self._changed = asyncio.Condition()

    async def submit(self, items: Sequence[Signal | LinkTest]) -> Sequence[SignalRecord | None]:
        async with self._changed:
            self.held.append(items)
            self._changed.notify_all()
        await self._released.wait()
        return [None] * len(items)

    async def wait_held(self, count: int) -> None:
        async with asyncio.timeout(30), self._changed:
            await self._changed.wait_for(lambda: len(self.held) >= count)

    def release(self) -> None:
        self._released.set()

    def accounts(self) -> list[str]:
        return [item.device for items in self.held for item in items]


async def _lookup(account: str) -> AccountView | None:
    return AccountView() if account == REGISTERED else None


def _receiver(sink: _HeldSink, clock: FakeClock, settings: Dc09Settings) -> Dc09Receiver:
    return Dc09Receiver(
        sink=sink,
        lookup=_lookup,
        registered=lambda account: account == REGISTERED,
        clock=clock,
        settings=settings,
    )


class _LimitLogged(logging.Handler):
    """Sets ``logged`` once the receiver logs that a limit bit."""

    def __init__(self) -> None:
        super().__init__()
        self.logged = asyncio.Event()

    def emit(self, record: logging.LogRecord) -> None:
        self.logged.set()


@contextmanager
def _limit_logged() -> Iterator[asyncio.Event]:
    handler = _LimitLogged()
    logger = logging.getLogger("watchfloor.receivers.dc09")
    logger.addHandler(handler)
    try:
        yield handler.logged
    finally:
        logger.removeHandler(handler)


async def test_unregistered_work_in_flight_is_bounded_and_registered_traffic_passes(
    clock: FakeClock,
) -> None:
    sink = _HeldSink()
    limits = Dc09Settings(unregistered_in_flight=2, unregistered_queue=1)
    receiver = _receiver(sink, clock, limits)
    async with (
        open_dc09_listeners(receiver, host="127.0.0.1", port=0) as (host, port),
        _udp_socket(host, port) as sock,
    ):
        for index in range(6):
            sock.send(sia_frame(f"A0{index}", 1))
        sock.send(sia_frame(REGISTERED, 1))
        # Two unknown accounts are being stored and one waits its turn; the other three were
        # dropped before any lookup. The registered account passed them all.
        await sink.wait_held(3)
        assert sink.accounts() == ["A00", "A01", REGISTERED]
        assert receiver.counters["limit_unregistered_busy"] == 3
        sink.release()
        replies = [await _reply_for(sock, b"ACK") for _ in range(4)]
    assert sorted(r.split(b"#")[1][:3] for r in replies) == [b"123", b"A00", b"A01", b"A02"]
    assert receiver.counters["acked"] == 4


async def test_datagrams_in_flight_are_bounded(clock: FakeClock) -> None:
    sink = _HeldSink()
    receiver = _receiver(sink, clock, Dc09Settings(datagrams_in_flight=2))
    async with (
        open_dc09_listeners(receiver, host="127.0.0.1", port=0) as (host, port),
        _udp_socket(host, port) as sock,
    ):
        with _limit_logged() as dropped:
            for seq in range(1, 4):
                sock.send(sia_frame(REGISTERED, seq))
            await sink.wait_held(2)
            async with asyncio.timeout(30):
                await dropped.wait()
        assert receiver.counters["limit_datagrams_in_flight"] == 1
        sink.release()
        assert b'"ACK"0001' in await _reply_for(sock, b'"ACK"0001')
        assert b'"ACK"0002' in await _reply_for(sock, b'"ACK"0002')
        sock.send(sia_frame(REGISTERED, 4))  # room again: answered
        assert b'"ACK"0004' in await _reply_for(sock, b"ACK")
    assert receiver.counters["acked"] == 3


async def test_a_frame_must_be_complete_within_the_frame_timeout_of_its_first_byte(
    settings: Settings, clock: FakeClock
) -> None:
    # The default frame timeout: 10 s.
    async with open_platform(settings, clock=clock) as platform:
        await platform.repository.add_account(account=REGISTERED, site=None, key=None)
        host, port = platform.dc09_address
        async with open_tcp_panel(host, port) as slow, open_tcp_panel(host, port) as panel:
            # One whole frame and the first bytes of the next: the ACK shows both were read.
            following = sia_frame(REGISTERED, 2)
            await slow.send(sia_frame(REGISTERED, 1) + following[:12])
            assert reply_token(await slow.reply()) == "ACK"
            clock.advance(6)
            await slow.send(following[12:14])  # a trickle does not extend the deadline...
            assert reply_token(await panel.exchange(sia_frame(REGISTERED, 3))) == "ACK"
            clock.advance(5)
            await slow.send(following[14:16])  # ...which passed 10 s after the first byte
            assert await slow.closed_by_peer()
            # The deadline is per frame: a panel quiet between frames keeps its connection.
            clock.advance(60)
            assert reply_token(await panel.exchange(sia_frame(REGISTERED, 4))) == "ACK"
        assert platform.receiver.counters["limit_frame_timeout"] == 1


async def test_a_full_connection_table_closes_a_sender_that_got_no_ack_to_admit_a_panel(
    settings: Settings, clock: FakeClock
) -> None:
    async with open_platform(replace(settings, dc09_max_connections=2), clock=clock) as platform:
        await platform.repository.add_account(account=REGISTERED, site=None, key=None)
        host, port = platform.dc09_address
        async with open_tcp_panel(host, port) as served, open_tcp_panel(host, port) as slow:
            assert reply_token(await served.exchange(sia_frame(REGISTERED, 1))) == "ACK"
            clock.advance(100)  # the served panel is now the one silent longest...
            await slow.send(b"\n" + sia_frame(REGISTERED, 2)[1:9])
            async with open_tcp_panel(host, port) as newcomer:
                # ...but the slow sender never had a frame acknowledged: it goes.
                assert reply_token(await newcomer.exchange(sia_frame(REGISTERED, 3))) == "ACK"
            assert await slow.closed_by_peer()
            assert reply_token(await served.exchange(sia_frame(REGISTERED, 4))) == "ACK"
        assert platform.receiver.counters["limit_max_connections"] == 1


async def test_a_full_table_of_served_panels_closes_the_one_silent_longest(
    settings: Settings, clock: FakeClock
) -> None:
    async with open_platform(replace(settings, dc09_max_connections=2), clock=clock) as platform:
        await platform.repository.add_account(account=REGISTERED, site=None, key=None)
        host, port = platform.dc09_address
        async with open_tcp_panel(host, port) as older, open_tcp_panel(host, port) as newer:
            assert reply_token(await older.exchange(sia_frame(REGISTERED, 1))) == "ACK"
            clock.advance(50)
            assert reply_token(await newer.exchange(sia_frame(REGISTERED, 2))) == "ACK"
            clock.advance(50)
            async with open_tcp_panel(host, port) as newcomer:
                assert reply_token(await newcomer.exchange(sia_frame(REGISTERED, 3))) == "ACK"
            assert await older.closed_by_peer()
            assert reply_token(await newer.exchange(sia_frame(REGISTERED, 4))) == "ACK"
        assert platform.receiver.counters["limit_max_connections"] == 1

"""The DC-09 receiver: TCP and UDP listeners that frame, decode, store, then acknowledge.

Theory of operation (DESIGN.md "DC-09 behaviour"): a TCP connection is a byte stream framed
by LF ... CR; each frame is handled in order (panels are stop-and-wait). A frame is ACKed only
after its signals are committed by the intake; if the store cannot commit, nothing is sent and
the panel retransmits. A bad CRC or length gets no reply; what cannot be processed gets DUH;
an encrypted frame with a stale timestamp gets NAK. One bad peer never affects another: each
connection has its own read timeout and maximum frame size, and a limit on connections keeps
the listener alive.

Limits, and the order they are checked in, keep registered panels answered under a flood:

- A frame must be complete ``frame_timeout`` seconds after its first byte, whatever the gaps
  between reads (a sender trickling a byte at a time would otherwise hold its connection for
  ever). Between frames only the idle timeout applies.
- When the connection table is full, a new connection is admitted by closing the one that
  never had a frame acknowledged and has been silent longest (else the one silent longest):
  panels behind one carrier NAT share an address, so a cap per address would shut them out.
- An account that is not known to be registered (``registered``, answered from memory) pays
  its source address's budget for unregistered traffic *before* any lookup or store work;
  at most ``unregistered_in_flight`` such frames are handled at once and
  ``unregistered_queue`` more wait for their turn. Beyond the budget or the queue the
  receiver stays silent: a real panel retransmits later and gets through. Registered
  accounts pass none of these, so they go first.
- At most ``datagrams_in_flight`` UDP datagrams are handled at once; more are dropped
  unanswered (UDP panels retransmit too).

Each limit is counted for /metrics and logged at most once a minute per kind, so that a
flood does not also flood the log.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import cast

from watchfloor.codecs.dc09 import (
    Dc09Frame,
    FrameSplitter,
    check_timestamp,
    decode_frame,
    decrypt_frame,
    encode_ack,
    encode_duh,
    encode_nak,
)
from watchfloor.codecs.errors import DecodeError, FormatError, FramingError, Reply
from watchfloor.core.errors import StoreUnavailableError
from watchfloor.core.ports import Clock, SignalSink
from watchfloor.receivers.dc09_mapping import frame_account, items_from_frame

__all__ = [
    "AccountView",
    "Dc09Receiver",
    "Dc09Settings",
    "IsRegistered",
    "LookupAccount",
    "open_dc09_listeners",
]

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True, kw_only=True)
class AccountView:
    """What the receiver needs to know of a registered account."""

    key: bytes | None = None
    enabled: bool = True


#: Looks up a DC-09 account; None when nobody registered it.
LookupAccount = Callable[[str], Awaitable[AccountView | None]]

#: Whether an account is known to be registered, from memory (no I/O): such an account's
#: frames skip the limits on unregistered traffic. A false "no" only costs budget.
IsRegistered = Callable[[str], bool]


@dataclass(frozen=True, slots=True, kw_only=True)
class Dc09Settings:
    """Per-connection limits and the unknown-account policy."""

    idle_timeout: float = 300.0
    frame_timeout: float = 10.0
    max_frame: int = 4096
    max_connections: int = 10_000
    reject_unknown: bool = False
    unregistered_per_minute: float = 300.0
    unregistered_burst: int = 100
    unregistered_in_flight: int = 32
    unregistered_queue: int = 256
    datagrams_in_flight: int = 1024


class _AddressBudget:
    """A token bucket per source address, for traffic from unregistered accounts.

    Unregistered traffic is stored and raised so that nothing is lost, which makes it a way
    to fill the store; one address may send ``burst`` messages at once and ``per_minute``
    after that. Beyond it the receiver stays silent: a real panel retransmits later and gets
    through, a scanner gets nothing.
    """

    def __init__(self, *, per_minute: float, burst: int, max_addresses: int = 10_000) -> None:
        self._rate = per_minute / 60.0
        self._burst = float(burst)
        self._max_addresses = max_addresses
        self._buckets: dict[str, tuple[float, float]] = {}

    def take(self, address: str, now: float) -> bool:
        tokens, last = self._buckets.get(address, (self._burst, now))
        tokens = min(self._burst, tokens + (now - last) * self._rate)
        if len(self._buckets) >= self._max_addresses and address not in self._buckets:
            self._buckets.clear()  # bounded memory; forgetting only ever refills budgets
        if tokens < 1.0:
            self._buckets[address] = (tokens, now)
            return False
        self._buckets[address] = (tokens - 1.0, now)
        return True

    def give_back(self, address: str) -> None:
        """Return a token taken for a frame that turned out to be from a registered account."""
        if address in self._buckets:
            tokens, last = self._buckets[address]
            self._buckets[address] = (min(self._burst, tokens + 1.0), last)


class _LimitLog:
    """Logs each kind of limit at most once per interval, with the count of lines left out."""

    def __init__(self, clock: Clock, interval: float = 60.0) -> None:
        self._clock = clock
        self._interval = interval
        self._last: dict[str, float] = {}
        self._left_out: Counter[str] = Counter()

    def warning(self, kind: str, message: str, *args: object) -> None:
        now = self._clock.monotonic()
        last = self._last.get(kind)
        if last is not None and now - last < self._interval:
            self._left_out[kind] += 1
            return
        self._last[kind] = now
        left_out = self._left_out.pop(kind, 0)
        if left_out:
            message += " (and %d more since the last such line)"
            args = (*args, left_out)
        logger.warning(message, *args)


@dataclass(slots=True, kw_only=True)
class _Connection:
    """What the connection table knows of one TCP connection, to choose whom to close."""

    task: asyncio.Task[None]
    writer: asyncio.StreamWriter
    peer: str
    last_heard: float
    acked: bool = False


class Dc09Receiver:
    """Handles DC-09 frames from any transport; counts what happens for /metrics."""

    def __init__(
        self,
        *,
        sink: SignalSink,
        lookup: LookupAccount,
        clock: Clock,
        settings: Dc09Settings,
        registered: IsRegistered | None = None,
    ) -> None:
        self._sink = sink
        self._lookup = lookup
        self._registered = registered or _nothing_registered
        self._clock = clock
        self.settings = settings
        self.counters: Counter[str] = Counter()
        self._connections: dict[asyncio.Task[None], _Connection] = {}
        self._unregistered = _AddressBudget(
            per_minute=settings.unregistered_per_minute, burst=settings.unregistered_burst
        )
        self._unregistered_slots = asyncio.Semaphore(settings.unregistered_in_flight)
        self._unregistered_pending = 0  # handled or waiting for a slot
        self._limit_log = _LimitLog(clock)

    @property
    def open_connections(self) -> int:
        """How many TCP connections are being served."""
        return len(self._connections)

    async def close_connections(self) -> None:
        """Cancel every connection in progress; their current frames stay unacknowledged."""
        tasks = list(self._connections)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    def count_limit(self, kind: str, message: str, *args: object) -> None:
        """Count a limit that bit (for /metrics) and log it, at most once a minute per kind."""
        self.counters[kind] += 1
        self._limit_log.warning(kind, message, *args)

    async def handle_frame(self, data: bytes, peer: str | None) -> bytes | None:
        """Return the reply a frame is owed (None: say nothing), after storing what it carries.

        Cancellation while the store commits leaves the frame unacknowledged: the panel
        retransmits and the store recognises the retransmission.
        """
        reply, _ = await self._answer(data, peer)
        return reply

    async def _answer(self, data: bytes, peer: str | None) -> tuple[bytes | None, bool]:
        """Return the reply a frame is owed and whether it is an ACK."""
        received_at = self._clock.now()
        try:
            frame = decode_frame(data)
            account = frame_account(frame)
        except DecodeError as err:
            return self._rejected(err, None, peer, received_at), False
        if self._registered(account):
            return await self._store(frame, data, account, peer, received_at, admitted=False)
        if not self._admit_unregistered(account, peer):
            return None, False
        self._unregistered_pending += 1
        try:
            async with self._unregistered_slots:
                return await self._store(frame, data, account, peer, received_at, admitted=True)
        finally:
            self._unregistered_pending -= 1

    def _admit_unregistered(self, account: str, peer: str | None) -> bool:
        """Whether a frame of an account not known to be registered may be handled (or queue)."""
        settings = self.settings
        if (
            self._unregistered_pending
            >= settings.unregistered_in_flight + settings.unregistered_queue
        ):
            self.count_limit(
                "limit_unregistered_busy",
                "dc09 frame from %s (account %s) not answered: %d frames of accounts not known "
                "to be registered are being handled or waiting already",
                peer,
                account,
                self._unregistered_pending,
            )
            return False
        if not self._unregistered.take(_address(peer), self._clock.monotonic()):
            self.count_limit(
                "limit_unregistered_rate",
                "dc09 frame from %s (unregistered account %s) not answered: "
                "unregistered traffic rate limit",
                peer,
                account,
            )
            return False
        return True

    async def _store(
        self,
        frame: Dc09Frame,
        data: bytes,
        account: str,
        peer: str | None,
        received_at: datetime,
        *,
        admitted: bool,
    ) -> tuple[bytes | None, bool]:
        key = None
        try:
            view = await self._lookup(account)
            if view is not None and admitted:
                # Registered after all (added since ``registered`` last heard): not
                # unregistered traffic, so it costs its address no budget.
                self._unregistered.give_back(_address(peer))
            key = view.key if view is not None else None
            if frame.encrypted:
                if key is None:
                    raise FormatError(f"encrypted message from account {account} with no key")
                frame = decrypt_frame(frame, key)
                check_timestamp(frame, received_at)
            elif key is not None:
                raise FormatError(f"unencrypted message from account {account}, which has a key")
            if view is None and self.settings.reject_unknown:
                raise FormatError(f"account {account} is not registered")
            if view is not None and not view.enabled:
                raise FormatError(f"account {account} is disabled")
            items = items_from_frame(
                frame, raw=data.decode("latin-1"), received_at=received_at, peer=peer
            )
        except DecodeError as err:
            return self._rejected(err, frame, peer, received_at), False
        try:
            await self._sink.submit(items)
        except StoreUnavailableError:
            self.counters["store_unavailable"] += 1
            logger.error("dc09 frame from %s not acknowledged: store unavailable", peer)
            return None, False
        self.counters["acked"] += 1
        return encode_ack(frame, now=received_at, key=key), True

    def _rejected(
        self, err: DecodeError, frame: Dc09Frame | None, peer: str | None, received_at: datetime
    ) -> bytes | None:
        self.counters[f"rejected_{err.reply}"] += 1
        logger.warning("dc09 frame from %s rejected (%s): %s", peer, err.reply, err)
        if err.reply is Reply.DUH:
            return encode_duh(frame or err.frame)
        if err.reply is Reply.NAK:
            return encode_nak(now=received_at)
        return None

    def _admit_connection(self, writer: asyncio.StreamWriter, peer: str) -> _Connection | None:
        """Enter a new connection in the table, closing another if it is full."""
        task = asyncio.current_task()
        if task is None:  # pragma: no cover - asyncio.start_server runs each client in a task
            return None
        if len(self._connections) >= self.settings.max_connections:
            # Never acknowledged first, then silent longest: a panel that is being served
            # stays, a slow or idle sender goes (a panel reconnects when it has news).
            victim = min(self._connections.values(), key=lambda c: (c.acked, c.last_heard))
            del self._connections[victim.task]
            # Closing its transport ends its read with EOF and frees the descriptor at once;
            # a frame it is storing is still stored, only its ACK has nowhere to go.
            victim.writer.close()
            self.count_limit(
                "limit_max_connections",
                "dc09 connection from %s closed to admit %s: max_connections (%d) reached",
                victim.peer,
                peer,
                self.settings.max_connections,
            )
        connection = _Connection(
            task=task, writer=writer, peer=peer, last_heard=self._clock.monotonic()
        )
        self._connections[task] = connection
        return connection

    async def serve_connection(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        """Serve one TCP connection until the peer closes it, times out or breaks a limit."""
        peer = _peer_name(writer)
        connection = self._admit_connection(writer, peer)
        self.counters["connections"] += 1
        splitter = FrameSplitter(max_frame_size=self.settings.max_frame)
        frame_timeout = self.settings.frame_timeout
        # When the first byte not yet part of a complete frame arrived (None: between frames).
        frame_started: float | None = None
        try:
            while True:
                wait = self.settings.idle_timeout
                if frame_started is not None:
                    wait = min(wait, frame_started + frame_timeout - self._clock.monotonic())
                chunk = b""
                try:
                    async with asyncio.timeout(max(wait, 0.0)):
                        chunk = await reader.read(65536)
                except TimeoutError:
                    self._timed_out(peer, partial=frame_started is not None)
                    return
                if not chunk:
                    return
                now = self._clock.monotonic()
                if connection is not None:
                    connection.last_heard = now
                if frame_started is None:
                    frame_started = now
                try:
                    frames = splitter.feed(chunk)
                    oversize: FramingError | None = None
                except FramingError as err:
                    # The good frames of the same read are still answered before closing.
                    frames, oversize = list(err.frames), err
                for frame in frames:
                    reply, acked = await self._answer(frame, peer)
                    if acked and connection is not None:
                        connection.acked = True
                    if reply is not None:
                        writer.write(reply)
                        await writer.drain()
                if oversize is not None:
                    self.count_limit(
                        "limit_max_frame", "dc09 connection from %s closed: %s", peer, oversize
                    )
                    return
                if frames:
                    frame_started = now if splitter.pending else None
                elif now - frame_started > frame_timeout:
                    self._timed_out(peer, partial=True)
                    return
        except (ConnectionError, OSError) as err:
            logger.info("dc09 connection from %s lost: %s", peer, err)
        finally:
            if connection is not None:
                self._connections.pop(connection.task, None)
            writer.close()
            with contextlib.suppress(ConnectionError, OSError):
                await writer.wait_closed()

    def _timed_out(self, peer: str, *, partial: bool) -> None:
        if partial:
            self.count_limit(
                "limit_frame_timeout",
                "dc09 connection from %s closed: no complete frame %g s after its first byte",
                peer,
                self.settings.frame_timeout,
            )
        else:
            self.counters["limit_idle_timeout"] += 1
            logger.info("dc09 connection from %s closed: idle timeout", peer)


def _nothing_registered(account: str) -> bool:
    return False


class _UdpProtocol(asyncio.DatagramProtocol):
    """One datagram is one frame; the reply goes back to its sender."""

    def __init__(self, receiver: Dc09Receiver) -> None:
        self._receiver = receiver
        self._transport: asyncio.DatagramTransport | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # A datagram endpoint's transport; CPython's class does not subclass DatagramTransport.
        self._transport = cast(asyncio.DatagramTransport, transport)

    def datagram_received(self, data: bytes, addr: tuple[str | object, ...]) -> None:
        receiver = self._receiver
        if len(self._tasks) >= receiver.settings.datagrams_in_flight:
            receiver.count_limit(
                "limit_datagrams_in_flight",
                "dc09 datagram from %s:%s dropped: %d datagrams are being handled already",
                addr[0],
                addr[1],
                receiver.settings.datagrams_in_flight,
            )
            return
        task = asyncio.get_running_loop().create_task(self._answer_safely(data, addr))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _answer_safely(self, data: bytes, addr: tuple[str | object, ...]) -> None:
        try:
            await self._answer(data, addr)
        except Exception:  # task boundary: one datagram's bug must not go unnoticed
            logger.exception("dc09 datagram from %s:%s failed", addr[0], addr[1])

    async def _answer(self, data: bytes, addr: tuple[str | object, ...]) -> None:
        peer = f"{addr[0]}:{addr[1]}"
        if len(data) > self._receiver.settings.max_frame:
            self._receiver.count_limit(
                "limit_max_frame", "dc09 datagram from %s dropped: %d bytes", peer, len(data)
            )
            return
        frames = FrameSplitter(max_frame_size=self._receiver.settings.max_frame).feed(data)
        if not frames:
            # DC-09 over UDP: some panels send the frame without LF/CR.
            frames = [data.strip(b"\r\n")]
        for frame in frames:
            reply = await self._receiver.handle_frame(frame, peer)
            if reply is not None and self._transport is not None:
                self._transport.sendto(reply, addr)


def _address(peer: str | None) -> str:
    return (peer or "").rpartition(":")[0] or (peer or "")


def _peer_name(writer: asyncio.StreamWriter) -> str:
    peer = writer.get_extra_info("peername")
    if isinstance(peer, tuple) and len(peer) >= 2:
        return f"{peer[0]}:{peer[1]}"
    return str(peer)


@asynccontextmanager
async def open_dc09_listeners(
    receiver: Dc09Receiver, *, host: str, port: int
) -> AsyncIterator[tuple[str, int]]:
    """Listen for DC-09 on TCP and UDP at host:port (port 0: any free port, the same for both).

    Yields the bound (host, port). On exit both listeners are closed; TCP connections in
    progress are cancelled, which leaves their current frame unacknowledged.
    """
    server = await asyncio.start_server(receiver.serve_connection, host, port, limit=65536)
    bound = server.sockets[0].getsockname()
    loop = asyncio.get_running_loop()
    transport, _ = await loop.create_datagram_endpoint(
        lambda: _UdpProtocol(receiver), local_addr=(bound[0], bound[1])
    )
    logger.info("dc09 receiver listening on %s:%s (tcp and udp)", bound[0], bound[1])
    try:
        yield bound[0], bound[1]
    finally:
        transport.close()
        server.close()
        await receiver.close_connections()
        await server.wait_closed()

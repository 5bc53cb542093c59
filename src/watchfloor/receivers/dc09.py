"""The DC-09 receiver: TCP and UDP listeners that frame, decode, store, then acknowledge.

Theory of operation (DESIGN.md "DC-09 behaviour"): a TCP connection is a byte stream framed
by LF ... CR; each frame is handled in order (panels are stop-and-wait). A frame is ACKed only
after its signals are committed by the intake; if the store cannot commit, nothing is sent and
the panel retransmits. A bad CRC or length gets no reply; what cannot be processed gets DUH;
an encrypted frame with a stale timestamp gets NAK. One bad peer never affects another: each
connection has its own read timeout and maximum frame size, and a limit on connections keeps
the listener alive.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import cast

from watchfloor.codecs.dc09 import (
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

__all__ = ["AccountView", "Dc09Receiver", "Dc09Settings", "LookupAccount", "open_dc09_listeners"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True, kw_only=True)
class AccountView:
    """What the receiver needs to know of a registered account."""

    key: bytes | None = None
    enabled: bool = True


#: Looks up a DC-09 account; None when nobody registered it.
LookupAccount = Callable[[str], Awaitable[AccountView | None]]


@dataclass(frozen=True, slots=True, kw_only=True)
class Dc09Settings:
    """Per-connection limits and the unknown-account policy."""

    idle_timeout: float = 300.0
    max_frame: int = 4096
    max_connections: int = 10_000
    reject_unknown: bool = False
    unregistered_per_minute: float = 300.0
    unregistered_burst: int = 100


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


class Dc09Receiver:
    """Handles DC-09 frames from any transport; counts what happens for /metrics."""

    def __init__(
        self, *, sink: SignalSink, lookup: LookupAccount, clock: Clock, settings: Dc09Settings
    ) -> None:
        self._sink = sink
        self._lookup = lookup
        self._clock = clock
        self.settings = settings
        self.counters: Counter[str] = Counter()
        self._connections: set[asyncio.Task[None]] = set()
        self._unregistered = _AddressBudget(
            per_minute=settings.unregistered_per_minute, burst=settings.unregistered_burst
        )

    @property
    def open_connections(self) -> int:
        """How many TCP connections are being served."""
        return len(self._connections)

    async def close_connections(self) -> None:
        """Cancel every connection in progress; their current frames stay unacknowledged."""
        for task in list(self._connections):
            task.cancel()
        await asyncio.gather(*self._connections, return_exceptions=True)

    async def handle_frame(self, data: bytes, peer: str | None) -> bytes | None:
        """Return the reply a frame is owed (None: say nothing), after storing what it carries.

        Cancellation while the store commits leaves the frame unacknowledged: the panel
        retransmits and the store recognises the retransmission.
        """
        received_at = self._clock.now()
        frame = None
        key = None
        try:
            frame = decode_frame(data)
            account = frame_account(frame)
            view = await self._lookup(account)
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
            if view is None and not self._unregistered.take(
                _address(peer), self._clock.monotonic()
            ):
                self.counters["limit_unregistered_rate"] += 1
                logger.warning(
                    "dc09 frame from %s (unregistered account %s) not answered: "
                    "unregistered traffic rate limit",
                    peer,
                    account,
                )
                return None
        except DecodeError as err:
            self.counters[f"rejected_{err.reply}"] += 1
            logger.warning("dc09 frame from %s rejected (%s): %s", peer, err.reply, err)
            if err.reply is Reply.DUH:
                return encode_duh(frame or err.frame)
            if err.reply is Reply.NAK:
                return encode_nak(now=received_at)
            return None
        try:
            await self._sink.submit(items)
        except StoreUnavailableError:
            self.counters["store_unavailable"] += 1
            logger.error("dc09 frame from %s not acknowledged: store unavailable", peer)
            return None
        self.counters["acked"] += 1
        return encode_ack(frame, now=received_at, key=key)

    async def serve_connection(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        """Serve one TCP connection until the peer closes it, idles out or breaks a limit."""
        peer = _peer_name(writer)
        if self.open_connections >= self.settings.max_connections:
            self.counters["limit_max_connections"] += 1
            logger.warning("dc09 connection from %s refused: max_connections reached", peer)
            writer.close()
            return
        task = asyncio.current_task()
        if task is not None:
            self._connections.add(task)
        self.counters["connections"] += 1
        splitter = FrameSplitter(max_frame_size=self.settings.max_frame)
        try:
            while True:
                chunk = b""
                try:
                    async with asyncio.timeout(self.settings.idle_timeout):
                        chunk = await reader.read(65536)
                except TimeoutError:
                    self.counters["limit_idle_timeout"] += 1
                    logger.info("dc09 connection from %s closed: idle timeout", peer)
                    return
                if not chunk:
                    return
                try:
                    frames = splitter.feed(chunk)
                    oversize: FramingError | None = None
                except FramingError as err:
                    # The good frames of the same read are still answered before closing.
                    frames, oversize = list(err.frames), err
                for frame in frames:
                    reply = await self.handle_frame(frame, peer)
                    if reply is not None:
                        writer.write(reply)
                        await writer.drain()
                if oversize is not None:
                    self.counters["limit_max_frame"] += 1
                    logger.warning("dc09 connection from %s closed: %s", peer, oversize)
                    return
        except (ConnectionError, OSError) as err:
            logger.info("dc09 connection from %s lost: %s", peer, err)
        finally:
            if task is not None:
                self._connections.discard(task)
            writer.close()
            with contextlib.suppress(ConnectionError, OSError):
                await writer.wait_closed()


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
            self._receiver.counters["limit_max_frame"] += 1
            logger.warning("dc09 datagram from %s dropped: %d bytes", peer, len(data))
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

"""The DC-09 panel simulator: N panels sending a realistic event mix, and ``watchfloor simulate``."""

# Theory of operation. ``run_simulation`` runs one task per panel. A panel has its own
# account, sequence number (0001..9999, wrapping to 0001) and link: a TCP connection, reopened
# when the receiver closes it, or a UDP socket. Panels are stop-and-wait (DC-09): a message is
# sent, and the next waits until it is answered or given up. An attempt that gets no reply
# within ``reply_timeout`` (or whose link fails) is retransmitted with the same sequence
# number, up to ``retries`` times, like a real panel; a message never answered is counted
# "unanswered". Panels are paced so that all of them together send ``rate`` messages per
# second: each sends every ``panels / rate`` seconds from a random offset, and one that falls
# behind sends at once, never two messages at a time. Nothing loops without a bound: a panel
# has a fixed number of send slots, a message a fixed number of attempts, an attempt a
# deadline.
#
# A reply is matched to the message by sequence number (DC-09 replies echo it); a NAK or DUH
# with sequence 0000 answers whatever is outstanding. Replies to earlier, already abandoned
# attempts are skipped. ACK latency runs from the message's first transmission to its ACK:
# what the panel experiences, retransmissions included.
#
# Time. The run's schedule reads the injected ``Clock`` and waits through the injected
# ``sleep``: the send slots, waiting out a failed attempt, the elapsed time, the latencies and
# the frames' timestamps. So a test can drive a run on a fake clock and check its counts
# exactly, without measuring wall time. Network waits (a reply, a connection's close) and the
# progress callback's cadence (a display's refresh) stay on the event loop's own timers.

from __future__ import annotations

import asyncio
import math
import random
from collections import Counter
from collections.abc import Awaitable, Callable

from watchfloor.codecs.dc09 import Dc09Frame, decode_reply, decrypt_frame, encode_frame
from watchfloor.codecs.errors import DecodeError
from watchfloor.core.ports import Clock
from watchfloor.simulator._links import PanelLink, TcpLink, UdpLink
from watchfloor.simulator._traffic import PanelMessage, PanelTraffic
from watchfloor.simulator._values import (
    Outcome,
    SimulationPlan,
    SimulationProgress,
    SimulationReport,
    positive,
)

__all__ = [
    "DEFAULT_KEY_ASCII",
    "Outcome",
    "SimulationPlan",
    "SimulationProgress",
    "SimulationReport",
    "Sleep",
    "run_simulation",
]

Sleep = Callable[[float], Awaitable[None]]
"""Waits the given seconds of the run's clock (``asyncio.sleep`` for the system clock)."""

DEFAULT_KEY_ASCII = "0123456789ABCDEF"
"""The documented test key (AES-128, ASCII form) that ``simulate --encrypt`` uses by default."""

_MAX_SEQ = 9999
# Replies to abandoned attempts an attempt skips before it calls the reply stream broken.
_MAX_STALE_REPLIES = 16
_REPLY_OUTCOMES = {"ACK": Outcome.ACK, "NAK": Outcome.NAK, "DUH": Outcome.DUH}


class _Tally:
    """The counters all panels of one run add to (one event loop: no locking needed)."""

    def __init__(self) -> None:
        self.started = 0
        self.outcomes: Counter[Outcome] = Counter()
        self.retransmissions = 0
        self.connections = 0
        self.connection_errors = 0
        self.stale_replies = 0
        self.latencies: list[float] = []

    def record(self, outcome: Outcome, latency: float | None) -> None:
        self.outcomes[outcome] += 1
        if latency is not None:
            self.latencies.append(latency)

    def progress(self, elapsed: float, duration: float) -> SimulationProgress:
        acked = self.outcomes[Outcome.ACK]
        return SimulationProgress(
            elapsed=elapsed,
            duration=duration,
            sent=self.started,
            acked=acked,
            failed=self.outcomes.total() - acked,
        )

    def report(self, elapsed: float) -> SimulationReport:
        return SimulationReport(
            sent=self.outcomes.total(),
            acked=self.outcomes[Outcome.ACK],
            naked=self.outcomes[Outcome.NAK],
            duh=self.outcomes[Outcome.DUH],
            unanswered=self.outcomes[Outcome.UNANSWERED],
            other=self.outcomes[Outcome.OTHER],
            retransmissions=self.retransmissions,
            connections=self.connections,
            connection_errors=self.connection_errors,
            stale_replies=self.stale_replies,
            latencies=tuple(sorted(self.latencies)),
            elapsed=elapsed,
        )


class _Panel:
    """One simulated panel: its account, sequence number, event stream and link."""

    def __init__(
        self,
        *,
        plan: SimulationPlan,
        account: str,
        link: PanelLink,
        tally: _Tally,
        seed: int,
        clock: Clock,
        sleep: Sleep,
    ) -> None:
        self._plan = plan
        self._clock = clock
        self._sleep = sleep
        self._account = account
        self._link = link
        self._tally = tally
        self._rng = random.Random(seed)  # noqa: S311 - simulated traffic, not a secret
        self._traffic = PanelTraffic(account=account, rng=self._rng)
        self._seq = self._rng.randint(1, _MAX_SEQ)

    async def run(self, start: float) -> None:
        """Send this panel's share of the messages; return when the last one has ended."""
        clock = self._clock
        plan = self._plan
        interval = plan.interval
        offset = self._rng.uniform(0, interval)
        slots = max(0, math.ceil((plan.duration - offset) / interval))
        try:
            for slot in range(slots):
                delay = start + offset + slot * interval - clock.monotonic()
                if delay > 0:
                    await self._sleep(delay)
                elif clock.monotonic() - start >= plan.duration:
                    break  # fell behind: the run is over before this slot's message went out
                await self._deliver(self._traffic.next_message())
                self._seq = self._seq % _MAX_SEQ + 1
        finally:
            await self._link.close()
            self._tally.connections += self._link.connects

    def _encode(self, message: PanelMessage) -> bytes:
        return encode_frame(
            token=message.token,
            seq=f"{self._seq:04d}",
            account=self._account,
            data=message.data,
            prefix=self._plan.prefix,
            timestamp=self._clock.now(),
            key=self._plan.key,
        )

    async def _deliver(self, message: PanelMessage) -> None:
        clock = self._clock
        plan = self._plan
        tally = self._tally
        tally.started += 1
        first_sent = clock.monotonic()
        frame = self._encode(message)
        for attempt in range(plan.retries + 1):
            if attempt:
                tally.retransmissions += 1
                if plan.key is not None:
                    # Same sequence number and content, fresh timestamp: an encrypted
                    # retransmission must stay inside the receiver's replay window.
                    frame = self._encode(message)
            deadline = clock.monotonic() + plan.reply_timeout
            try:
                async with asyncio.timeout(plan.reply_timeout):
                    await self._link.send(frame)
                    outcome = await self._await_reply()
            except TimeoutError:
                continue
            except OSError:
                tally.connection_errors += 1
                await self._link.close()
                # Like a panel, wait out the attempt before trying again: no reconnect storm.
                await self._sleep(max(0.0, deadline - clock.monotonic()))
                continue
            latency = clock.monotonic() - first_sent if outcome is Outcome.ACK else None
            tally.record(outcome, latency)
            return
        tally.record(Outcome.UNANSWERED, None)

    async def _await_reply(self) -> Outcome:
        seq = f"{self._seq:04d}"
        for _ in range(_MAX_STALE_REPLIES + 1):
            try:
                reply = decode_reply(await self._link.receive())
            except DecodeError:
                return Outcome.OTHER
            if reply.seq == seq or (reply.seq == "0000" and reply.token in {"NAK", "DUH"}):
                return _classify(reply, account=self._account, key=self._plan.key)
            self._tally.stale_replies += 1
        return Outcome.OTHER


def _classify(reply: Dc09Frame, *, account: str, key: bytes | None) -> Outcome:
    outcome = _REPLY_OUTCOMES.get(reply.token, Outcome.OTHER)
    if outcome is not Outcome.ACK:
        return outcome
    if reply.account != account or reply.encrypted != (key is not None):
        return Outcome.OTHER
    if key is not None:
        try:
            decrypt_frame(reply, key)
        except DecodeError:
            return Outcome.OTHER
    return Outcome.ACK


async def _report_progress(
    progress: Callable[[SimulationProgress], None],
    tally: _Tally,
    plan: SimulationPlan,
    clock: Clock,
    start: float,
    interval: float,
) -> None:
    # Cancelled when the panels are done; the bound is a backstop. The cadence is the event
    # loop's (a display refreshing), the elapsed time the run's clock.
    for _ in range(math.ceil(plan.max_seconds / interval) + 1):
        await asyncio.sleep(interval)
        progress(tally.progress(clock.monotonic() - start, plan.duration))


async def run_simulation(
    plan: SimulationPlan,
    *,
    clock: Clock,
    sleep: Sleep = asyncio.sleep,
    progress: Callable[[SimulationProgress], None] | None = None,
    progress_interval: float = 0.5,
) -> SimulationReport:
    """Run the panels of ``plan`` against its receiver and report how every message ended.

    Connection failures are not errors here: they are counted, and the messages they cost
    end "unanswered". The run takes about ``plan.duration`` seconds of ``clock``, and at most
    ``plan.max_seconds`` when replies are missing.

    Args:
        plan: what to simulate.
        clock: the run's time: send slots, latencies, elapsed time, frame timestamps.
        sleep: waits seconds of ``clock`` (``asyncio.sleep`` for the system clock).
        progress: called every ``progress_interval`` seconds, and once at the end.
        progress_interval: seconds of the event loop between ``progress`` calls.

    Returns:
        The report.

    Raises:
        ValueError: ``progress_interval`` is not positive.

    Cancelling the run closes every panel's connection; messages in flight are left
    unanswered (the receiver may have stored them) and no report is made.
    """
    if not positive(progress_interval):
        raise ValueError(f"progress_interval must be positive, got {progress_interval}")
    seeds = random.Random(plan.seed)  # noqa: S311 - simulated traffic, not a secret
    tally = _Tally()
    link_type = UdpLink if plan.udp else TcpLink
    panels = [
        _Panel(
            plan=plan,
            account=account,
            link=link_type(plan.host, plan.port),
            tally=tally,
            seed=seeds.getrandbits(64),
            clock=clock,
            sleep=sleep,
        )
        for account in plan.accounts()
    ]
    start = clock.monotonic()
    async with asyncio.TaskGroup() as group:
        tasks = [group.create_task(panel.run(start)) for panel in panels]
        if progress is not None:
            reporter = group.create_task(
                _report_progress(progress, tally, plan, clock, start, progress_interval)
            )
            await asyncio.wait(tasks)
            reporter.cancel()
    elapsed = clock.monotonic() - start
    if progress is not None:
        progress(tally.progress(elapsed, plan.duration))
    return tally.report(elapsed)

"""The simulator's values: the plan of a run, its progress and its report."""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import StrEnum

from watchfloor.core.statistics import nearest_rank
from watchfloor.simulator._links import CLOSE_TIMEOUT

__all__ = [
    "MAX_ACCOUNT",
    "Outcome",
    "SimulationPlan",
    "SimulationProgress",
    "SimulationReport",
    "positive",
]

MAX_ACCOUNT = 16**16 - 1
"""The largest DC-09 account: 16 hex digits."""


def positive(value: float) -> bool:
    """Whether ``value`` is a finite number above zero."""
    return math.isfinite(value) and value > 0


class Outcome(StrEnum):
    """How a message ended: the reply it got (decoded with ``decode_reply``), or none."""

    ACK = "ack"
    NAK = "nak"
    DUH = "duh"
    UNANSWERED = "unanswered"
    OTHER = "other"
    """A reply that does not decode, is not ACK/NAK/DUH, or is an ACK that does not fit the
    message (another account, unencrypted for an encrypted message, or does not decrypt)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class SimulationPlan:
    """What to simulate: how many panels, how fast, for how long, against which receiver.

    Panel ``i`` uses account ``account_start + i`` written as at least ``account_digits`` upper
    case hex digits (0x1000 -> ``"1000"``). With ``key`` every message is encrypted with it
    (the accounts must be registered with that key) and carries the run's clock time as
    timestamp; otherwise messages are sent in the clear, also with a timestamp.

    Raises:
        ValueError: a field out of range; the message names every such field.
    """

    host: str = "127.0.0.1"
    port: int = 12000
    panels: int = 10
    rate: float = 10.0
    """Messages per second, in total across all panels."""
    duration: float = 10.0
    """Seconds during which messages are started; answers to the last ones may come later."""
    udp: bool = False
    key: bytes | None = None
    account_start: int = 0x1000
    account_digits: int = 4
    prefix: str = "0"
    """The L (receiver line prefix) field of every message."""
    reply_timeout: float = 5.0
    retries: int = 3
    seed: int | None = None
    """Seeds the event mix, offsets and first sequence numbers; None: different every run."""

    def __post_init__(self) -> None:
        last_account = self.account_start + self.panels - 1
        checks = (
            (bool(self.host), "host must not be empty"),
            (1 <= self.port <= 65535, f"port must be 1-65535, got {self.port}"),
            (self.panels >= 1, f"panels must be at least 1, got {self.panels}"),
            (positive(self.rate), f"rate must be a positive number, got {self.rate}"),
            (positive(self.duration), f"duration must be positive, got {self.duration}"),
            (
                positive(self.reply_timeout),
                f"reply_timeout must be positive, got {self.reply_timeout}",
            ),
            (self.retries >= 0, f"retries must be 0 or more, got {self.retries}"),
            (
                self.key is None or len(self.key) in {16, 24, 32},
                "key must have 16, 24 or 32 bytes",
            ),
            (
                self.account_start >= 0 and last_account <= MAX_ACCOUNT,
                f"accounts {self.account_start:X}..{last_account:X} are not all 1-16 hex digits",
            ),
            (
                3 <= self.account_digits <= 16,
                f"account_digits must be 3-16, got {self.account_digits}",
            ),
        )
        problems = [message for ok, message in checks if not ok]
        if problems:
            raise ValueError("; ".join(problems))

    @property
    def interval(self) -> float:
        """Seconds between two messages of one panel."""
        return self.panels / self.rate

    @property
    def max_seconds(self) -> float:
        """An upper bound on a run's time: the last message's attempts end by then."""
        return self.duration + (self.retries + 1) * (self.reply_timeout + 2 * CLOSE_TIMEOUT)

    def accounts(self) -> tuple[str, ...]:
        """Return the panels' accounts, in panel order."""
        digits = self.account_digits
        return tuple(f"{self.account_start + i:0{digits}X}" for i in range(self.panels))


@dataclass(frozen=True, slots=True, kw_only=True)
class SimulationProgress:
    """A run so far: messages started (``sent``), ACKed, and ended otherwise (``failed``)."""

    elapsed: float
    duration: float
    sent: int
    acked: int
    failed: int

    @property
    def rate(self) -> float:
        """Messages started per second so far."""
        return self.sent / self.elapsed if self.elapsed > 0 else 0.0


@dataclass(frozen=True, slots=True, kw_only=True)
class SimulationReport:
    """The result of a run: each message's outcome, ACK latencies and the link's troubles.

    ``sent`` counts messages (not transmissions): ``sent == acked + naked + duh + unanswered
    + other``. ``retransmissions`` counts extra transmissions, ``connections`` the TCP
    connections (or UDP sockets) opened, ``connection_errors`` failed connects, lost
    connections and "port unreachable" reports, and ``stale_replies`` replies to attempts
    already given up. ``latencies`` are seconds, sorted, one per ACKed message.
    """

    sent: int
    acked: int
    naked: int
    duh: int
    unanswered: int
    other: int
    retransmissions: int
    connections: int
    connection_errors: int
    stale_replies: int
    latencies: tuple[float, ...]
    elapsed: float

    @property
    def all_acked(self) -> bool:
        """Whether at least one message was sent and every one was ACKed."""
        return self.sent > 0 and self.acked == self.sent

    @property
    def rate(self) -> float:
        """Messages per second over the run."""
        return self.sent / self.elapsed if self.elapsed > 0 else 0.0

    def latency_ms(self, quantile: float) -> float | None:
        """Return the ACK latency at ``quantile`` (0-1, nearest rank) in ms; None: no ACK."""
        if not 0 <= quantile <= 1:
            raise ValueError(f"quantile must be within 0-1, got {quantile}")
        value = nearest_rank(self.latencies, quantile * 100)
        return None if value is None else value * 1000

    @property
    def p50_ms(self) -> float | None:
        """Median ACK latency in ms (None: no ACK)."""
        return self.latency_ms(0.5)

    @property
    def p99_ms(self) -> float | None:
        """99th percentile ACK latency in ms (None: no ACK)."""
        return self.latency_ms(0.99)

    @property
    def max_ms(self) -> float | None:
        """Largest ACK latency in ms (None: no ACK)."""
        return self.latency_ms(1.0)

    def summary_line(self) -> str:
        """Return the one-line summary, e.g. ``sent 10 acked 10 nak 0 duh 0 unanswered 0 | ...``.

        ``other N`` follows ``unanswered`` only when some replies were neither ACK, NAK nor DUH.
        """
        counts = (
            f"sent {self.sent} acked {self.acked} nak {self.naked} duh {self.duh}"
            f" unanswered {self.unanswered}"
        )
        if self.other:
            counts += f" other {self.other}"
        if self.latencies:
            latency = (
                f"ack latency p50 {self.p50_ms:.1f} ms p99 {self.p99_ms:.1f} ms"
                f" max {self.max_ms:.1f} ms"
            )
        else:
            latency = "ack latency n/a"
        return f"{counts} | {latency} | {self.rate:.1f} msg/s over {self.elapsed:.1f} s"

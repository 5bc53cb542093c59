"""The notification log: the one place every delivery outcome passes (``NotificationLog``)."""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import Awaitable, Callable

from watchfloor.core.audit import AuditEntry, AuditOutcome
from watchfloor.core.errors import StoreUnavailableError
from watchfloor.core.notifications import DeliveryOutcome, SentNotice

__all__ = ["AuditedNotificationLog", "LoggingNotificationLog"]

logger = logging.getLogger(__name__)

_LEVEL = {
    DeliveryOutcome.SENT: logging.INFO,
    DeliveryOutcome.FAILED: logging.WARNING,
    DeliveryOutcome.DEAD_LETTER: logging.ERROR,
    DeliveryOutcome.DROPPED: logging.ERROR,
}


class LoggingNotificationLog:
    """Logs each outcome and counts them by channel and outcome, for ``/metrics``.

    ``AuditedNotificationLog`` wraps it to write each outcome to the audit log as well.
    """

    def __init__(self) -> None:
        self.counts: Counter[tuple[str, str]] = Counter()

    def record(self, sent: SentNotice) -> None:
        """Log and count one outcome."""
        self.counts[(sent.channel.value, sent.outcome.value)] += 1
        logger.log(
            _LEVEL[sent.outcome],
            "notification %s: rule %s via %s to %s, alarm %s (%s), attempt %s%s",
            sent.outcome,
            sent.rule,
            sent.channel,
            sent.destination,
            sent.notice.alarm_id,
            sent.notice.event,
            sent.attempt,
            f": {sent.detail}" if sent.detail else "",
        )


class AuditedNotificationLog:
    """Writes an audit row for every delivery outcome, and passes it on to ``inner``.

    ``record`` must not block the sender, so rows queue (bounded) and ``serve`` appends them;
    a full queue drops the row with an error in the log rather than holding back alarms.
    """

    def __init__(
        self,
        inner: LoggingNotificationLog,
        append: Callable[[AuditEntry], Awaitable[object]],
        *,
        capacity: int = 10_000,
    ) -> None:
        self.inner = inner
        self._append = append
        self._queue: asyncio.Queue[AuditEntry] = asyncio.Queue(capacity)

    def record(self, sent: SentNotice) -> None:
        """Log and count the outcome, and queue its audit row."""
        self.inner.record(sent)
        entry = AuditEntry(
            at=sent.at,
            actor="system",
            role=None,
            via="notifier",
            action=f"notification.{sent.outcome.value}",
            target=f"alarm:{sent.notice.alarm_id}",
            reason=f"rule {sent.rule} via {sent.channel.value} to {sent.destination}",
            outcome=AuditOutcome.OK
            if sent.outcome is DeliveryOutcome.SENT
            else AuditOutcome.FAILED,
        )
        try:
            self._queue.put_nowait(entry)
        except asyncio.QueueFull:
            logger.error("audit of notification for alarm %s dropped: queue full", entry.target)

    async def serve(self) -> None:
        """Append queued rows until cancelled; a store outage is retried, never lost silently."""
        while True:
            entry = await self._queue.get()
            while True:
                try:
                    await self._append(entry)
                    break
                except StoreUnavailableError:
                    logger.error("audit of a notification waits: store unavailable")
                    await asyncio.sleep(1)

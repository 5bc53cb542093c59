"""The notification log: the one place every delivery outcome passes (``NotificationLog``)."""

from __future__ import annotations

import logging
from collections import Counter

from watchfloor.core.notifications import DeliveryOutcome, SentNotice

__all__ = ["LoggingNotificationLog"]

logger = logging.getLogger(__name__)

_LEVEL = {
    DeliveryOutcome.SENT: logging.INFO,
    DeliveryOutcome.FAILED: logging.WARNING,
    DeliveryOutcome.DEAD_LETTER: logging.ERROR,
    DeliveryOutcome.DROPPED: logging.ERROR,
}


class LoggingNotificationLog:
    """Logs each outcome and counts them by channel and outcome, for ``/metrics``.

    The audit log records notices here too once it exists: wrap or replace this class, and
    every channel is audited at once.
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

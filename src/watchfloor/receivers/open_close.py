"""The open/close watch: raises failed-to-close, unexpected-opening and late-to-open alarms.

An I/O adapter like the supervision watch: on a period it reads the conditions due from the
stored schedules and armed states, hands one supervision signal per condition to the intake
(which records it as raised in the same commit, ``core.arming.plan_arming``), and sleeps.
The closing or opening that ends a condition is restored by the intake when it arrives.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from datetime import datetime
from typing import Protocol

from watchfloor.core.arming import DueArming, condition_signal
from watchfloor.core.errors import StoreUnavailableError
from watchfloor.core.ports import Clock, SignalSink

__all__ = ["DueConditions", "OpenCloseWatch"]

logger = logging.getLogger(__name__)


class DueConditions(Protocol):
    """Where the watch finds the open/close conditions due and not raised yet."""

    async def due_arming(self, now: datetime) -> list[DueArming]:
        """Return the conditions due at ``now``."""
        ...


class OpenCloseWatch:
    """Checks arming schedules; ``check`` once, or ``serve`` until cancelled."""

    def __init__(
        self, *, schedules: DueConditions, sink: SignalSink, clock: Clock, period: float = 10.0
    ) -> None:
        self._schedules = schedules
        self._sink = sink
        self._clock = clock
        self._period = period
        self.counters: Counter[str] = Counter()

    async def check(self) -> int:
        """Raise every due condition; return how many were raised.

        Idempotent: the intake records each condition as raised in the commit that stores
        its signal, so it is not due again, after a restart too.

        Raises:
            StoreUnavailableError: the store could not read or commit; retried next period.
        """
        now = self._clock.now()
        due = await self._schedules.due_arming(now)
        if due:
            await self._sink.submit(
                [condition_signal(entry.key, entry.state, entry.due, at=now) for entry in due]
            )
            for entry in due:
                logger.warning(
                    "open/close supervision: %s for site %s partition %s (%s)",
                    entry.due.condition.value,
                    entry.key.site,
                    entry.key.partition or "-",
                    entry.due.raised_for.isoformat(),
                )
                self.counters[entry.due.condition.value] += 1
        return len(due)

    async def serve(self) -> None:
        """Check every ``period`` seconds until cancelled; a store outage is retried."""
        while True:
            try:
                await self.check()
            except StoreUnavailableError:
                self.counters["store_unavailable"] += 1
                logger.error("open/close check failed: store unavailable; retrying")
            except Exception:  # task boundary: supervision must outlive a bug in one check
                self.counters["failed"] += 1
                logger.exception("open/close check failed")
            await asyncio.sleep(self._period)

"""The refusal log: audit rows of refusals written through ``core.refusals.RefusalTally``.

``RefusalAudit.record`` takes any audit entry. Refusals (outcome ``denied``) go through the
tally: the first of a (source, actor, action) in an interval is appended at once, the rest are
counted and appended as one summary row when the interval is over. Other entries are appended
as they come. ``open_refusal_audit`` closes due intervals every few seconds while it runs and
writes every open count when it ends, so a stop loses none.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import timedelta

from watchfloor.core.audit import AuditEntry, AuditOutcome
from watchfloor.core.errors import StoreUnavailableError
from watchfloor.core.ports import Clock
from watchfloor.core.refusals import RefusalTally

__all__ = ["RefusalAudit", "open_refusal_audit"]

logger = logging.getLogger(__name__)

Append = Callable[[AuditEntry], Awaitable[object]]


class RefusalAudit:
    """Appends audit entries, folding repeated refusals from one source into a count."""

    def __init__(self, append: Append, clock: Clock, *, interval: timedelta) -> None:
        self._append = append
        self._clock = clock
        self._tally = RefusalTally(interval=interval)

    async def record(self, entry: AuditEntry) -> None:
        """Append the entry now, or count it if it repeats a refusal of this interval.

        Raises:
            StoreUnavailableError: a row due now was not appended (a counted one stays counted).
        """
        if entry.outcome is not AuditOutcome.DENIED:
            await self._append(entry)
            return
        for row in self._tally.admit(entry):
            await self._append(row)

    async def close_due(self) -> int:
        """Append the summaries of the intervals that are over; return how many rows."""
        rows = self._tally.close_due(self._clock.now())
        for row in rows:
            await self._append(row)
        return len(rows)

    async def close_all(self) -> int:
        """Append the summaries of every open interval (at shutdown); return how many rows."""
        rows = self._tally.close_all(self._clock.now())
        for row in rows:
            await self._append(row)
        return len(rows)

    async def serve(self, period: float) -> None:
        """Close due intervals every ``period`` seconds, until cancelled."""
        while True:
            await asyncio.sleep(period)
            try:
                await self.close_due()
            except StoreUnavailableError:
                logger.error("refusal counts of an interval lost: store unavailable")
            except Exception:  # task boundary: the counts must outlive a bug in one round
                logger.exception("refusal counts not written")


@asynccontextmanager
async def open_refusal_audit(
    append: Append, clock: Clock, *, interval: timedelta
) -> AsyncIterator[RefusalAudit]:
    """Run a ``RefusalAudit`` for the block; on exit write every count still open.

    A summary row is due at most ``interval`` after its key's first refusal; intervals are
    checked a few times per interval (at most every 10 s).
    """
    refusals = RefusalAudit(append, clock, interval=interval)
    period = min(10.0, interval.total_seconds() / 4)
    task = asyncio.create_task(refusals.serve(period), name="refusal-audit")
    try:
        yield refusals
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        try:
            await refusals.close_all()
        except StoreUnavailableError:
            logger.error("refusal counts of the last interval lost: store unavailable")

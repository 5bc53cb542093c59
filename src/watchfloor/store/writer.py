"""The group-commit writer: one task that stores the signals of many senders per transaction.

Theory of operation (DESIGN rule 1, acknowledge after store): a receiver calls ``submit`` and
acknowledges its sender only when that returns. Submissions queue up as units (one
``submit`` = one unit, committed together or not at all). The single writer task takes the
first unit, adds whatever else is queued up to ``max_batch`` items, and stores the batch in
one transaction (``_intake.apply_batch``). Only after the commit does it release the waiting
callers and publish the alarm changes. While a transaction runs, new units queue, so the
batches grow with the load and one fsync serves many senders. A failed transaction fails
every unit of its batch with StoreUnavailableError (their senders retry) and the task goes
on with the next batch.

Flood control: above ``flood_threshold`` signals of one device within ``flood_window``, a
signal of that device that would open an alarm folds into the device's newest open alarm,
marked flooded (``core.flood``, ``core.correlation``); life-safety alarms always open.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncEngine

from watchfloor.core.alarm_types import Taxonomy
from watchfloor.core.audit import AuditEntry
from watchfloor.core.errors import StoreUnavailableError
from watchfloor.core.flood import DEFAULT_FLOOD_THRESHOLD, DEFAULT_FLOOD_WINDOW, FloodLimit
from watchfloor.core.ports import Clock, Publish
from watchfloor.core.signals import LinkTest, Signal, SignalRecord
from watchfloor.store._intake import apply_batch
from watchfloor.store.audit import append_audit
from watchfloor.store.database import write_transaction

__all__ = ["GroupCommitWriter", "WriterStats", "open_writer"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True, kw_only=True)
class WriterStats:
    """Counters of a writer since it started, for ``/metrics``.

    ``queue_depth`` counts the items (signals and link tests) waiting for a batch;
    ``last_commit_seconds`` is the duration of the last successful transaction.
    """

    batches: int
    failed_batches: int
    signals_committed: int
    link_tests_committed: int
    last_batch_size: int
    last_commit_seconds: float
    queue_depth: int


@dataclass(frozen=True, slots=True)
class _Unit:
    items: tuple[Signal | LinkTest, ...]
    future: asyncio.Future[tuple[SignalRecord | None, ...]]
    audit: AuditEntry | None = None


class GroupCommitWriter:
    """Stores signals and link tests in group commits; implements ``core.ports.SignalSink``.

    Create it with ``open_writer``, which runs and stops its task.

    Publishing: after each commit, ``publish`` is called once per alarm the batch changed,
    with the alarm's final state in that batch (``alarm.created`` if the batch opened it,
    else ``alarm.updated``). An exception from ``publish`` is logged and does not undo or
    delay anything: the signals are committed and their senders released.
    """

    def __init__(
        self,
        engine: AsyncEngine,
        taxonomy: Taxonomy,
        clock: Clock,
        publish: Publish,
        *,
        max_batch: int = 512,
        flood_threshold: int | None = DEFAULT_FLOOD_THRESHOLD,
        flood_window: timedelta = DEFAULT_FLOOD_WINDOW,
    ) -> None:
        if max_batch < 1:
            raise ValueError("max_batch must be at least 1")
        self._flood = (
            None
            if flood_threshold is None
            else FloodLimit(threshold=flood_threshold, window=flood_window)
        )
        self._engine = engine
        self._taxonomy = taxonomy
        self._clock = clock
        self._publish = publish
        self._max_batch = max_batch
        self._pending: deque[_Unit] = deque()
        self._pending_items = 0
        self._in_flight: list[_Unit] = []
        self._wakeup = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._stopped = False
        self._batches = 0
        self._failed_batches = 0
        self._signals_committed = 0
        self._link_tests_committed = 0
        self._last_batch_size = 0
        self._last_commit_seconds = 0.0

    @property
    def stats(self) -> WriterStats:
        """A snapshot of the writer's counters."""
        return WriterStats(
            batches=self._batches,
            failed_batches=self._failed_batches,
            signals_committed=self._signals_committed,
            link_tests_committed=self._link_tests_committed,
            last_batch_size=self._last_batch_size,
            last_commit_seconds=self._last_commit_seconds,
            queue_depth=self._pending_items,
        )

    async def submit(
        self, items: Sequence[Signal | LinkTest], *, audit: AuditEntry | None = None
    ) -> Sequence[SignalRecord | None]:
        """Store the items durably in one transaction, correlate them, publish the changes.

        Returns only after the commit, so the caller may acknowledge its sender then.

        Args:
            items: signals and link tests of one sender, committed all or none.
            audit: the audit row of a person's submission (a staff report, a call),
                committed in the same transaction as the items.

        Returns:
            One entry per item: the signal's record (for a DC-09 retransmission within
            ``core.retransmission.RETRANSMISSION_WINDOW``, the record stored the first
            time), or None for a link test. Idempotent for DC-09 retransmissions.

        Raises:
            StoreUnavailableError: nothing of the items was committed (the transaction
                failed, or the writer is stopped or stopping); do not acknowledge.

        If the caller is cancelled while waiting, a unit not yet taken into a batch is
        dropped; one already taken may or may not be committed. Either way the sender was
        not acknowledged and will retry, which the retransmission check makes harmless.
        """
        if not items:
            return ()
        if self._stopped or self._task is None:
            raise StoreUnavailableError("the signal writer is not running")
        future: asyncio.Future[tuple[SignalRecord | None, ...]] = (
            asyncio.get_running_loop().create_future()
        )
        self._pending.append(_Unit(tuple(items), future, audit))
        self._pending_items += len(items)
        self._wakeup.set()
        return await future

    def _start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="watchfloor-group-commit")

    async def _stop(self) -> None:
        # The batch in flight finishes (its senders get their answer); queued units fail.
        # If this wait is cancelled, so is the task, and the batch in flight fails too.
        self._stopped = True
        self._wakeup.set()
        try:
            if self._task is not None:
                await self._task
        finally:
            self._fail(self._in_flight, "the signal writer stopped")
            self._fail(self._pending, "the signal writer stopped")
            self._pending.clear()
            self._pending_items = 0

    async def _run(self) -> None:
        while not self._stopped:
            if not self._pending:
                self._wakeup.clear()
                await self._wakeup.wait()
                continue
            self._in_flight = self._take_batch()
            if self._in_flight:
                await self._commit(self._in_flight)
            self._in_flight = []

    def _take_batch(self) -> list[_Unit]:
        batch: list[_Unit] = []
        size = 0
        while self._pending:
            unit = self._pending[0]
            # A unit is never split; one larger than max_batch makes a batch of its own.
            if batch and size + len(unit.items) > self._max_batch:
                break
            self._pending.popleft()
            self._pending_items -= len(unit.items)
            if unit.future.done():
                continue  # its caller was cancelled and will retry
            batch.append(unit)
            size += len(unit.items)
        return batch

    async def _commit(self, batch: list[_Unit]) -> None:
        started = self._clock.monotonic()
        try:
            async with write_transaction(self._engine) as connection:
                outcome = await apply_batch(
                    connection, self._taxonomy, [unit.items for unit in batch], flood=self._flood
                )
                for unit in batch:
                    if unit.audit is not None:
                        await append_audit(connection, unit.audit)
        except Exception as err:
            # Task boundary (STYLE §5): whatever failed, nothing of the batch is stored, its
            # senders must not be acknowledged, and the next batch deserves a try.
            self._failed_batches += 1
            logger.exception(
                "group commit of %d units failed; their senders were not acknowledged",
                len(batch),
            )
            self._fail(batch, "the store could not commit the signals", cause=err)
            return
        items = [item for unit in batch for item in unit.items]
        link_tests = sum(isinstance(item, LinkTest) for item in items)
        self._batches += 1
        self._signals_committed += len(items) - link_tests
        self._link_tests_committed += link_tests
        self._last_batch_size = len(items)
        self._last_commit_seconds = self._clock.monotonic() - started
        for unit, records in zip(batch, outcome.records, strict=True):
            if not unit.future.done():
                unit.future.set_result(records)
        for event in outcome.events:
            try:
                self._publish(event)
            except Exception:
                # A faulty subscriber must not stop intake; the change is committed and
                # consoles catch up on their next read.
                logger.exception("publishing %s of alarm %d failed", event.kind, event.alarm.id)

    @staticmethod
    def _fail(
        units: Sequence[_Unit] | deque[_Unit], message: str, *, cause: Exception | None = None
    ) -> None:
        for unit in units:
            if not unit.future.done():
                # One exception per caller: a shared one would collect every caller's
                # traceback.
                error = StoreUnavailableError(message)
                error.__cause__ = cause
                unit.future.set_exception(error)


@asynccontextmanager
async def open_writer(
    engine: AsyncEngine,
    taxonomy: Taxonomy,
    clock: Clock,
    publish: Publish,
    *,
    max_batch: int = 512,
    flood_threshold: int | None = DEFAULT_FLOOD_THRESHOLD,
    flood_window: timedelta = DEFAULT_FLOOD_WINDOW,
) -> AsyncIterator[GroupCommitWriter]:
    """Run a group-commit writer for the duration of the block.

    Args:
        engine: the store's engine (migrated).
        taxonomy: classifies the signals.
        clock: measures commit latency.
        publish: receives each committed alarm change (never before its commit).
        max_batch: the most items per transaction (a larger unit is committed alone).
        flood_threshold: more signals than this from one device within ``flood_window``
            is a flood: its new alarms fold into its newest open alarm. None disables
            flood control.
        flood_window: the time over which a device's signals are counted.

    Raises:
        ValueError: ``max_batch`` or ``flood_threshold`` is below 1, or ``flood_window`` is
            not positive.

    Yields:
        The writer, running. On exit the batch in flight is completed, and callers still
        queued get StoreUnavailableError (their senders retry). If the exit is cancelled,
        the batch in flight is abandoned and rolled back, and its callers fail too.
    """
    writer = GroupCommitWriter(
        engine,
        taxonomy,
        clock,
        publish,
        max_batch=max_batch,
        flood_threshold=flood_threshold,
        flood_window=flood_window,
    )
    writer._start()
    try:
        yield writer
    finally:
        await writer._stop()

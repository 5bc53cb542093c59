"""The disk space watch: measures the data disk, holds the reserve file, gates intake.

An I/O adapter like the supervision watch (``core.disk_space`` holds the rules): every period
it measures the free space of the data directory through an injected function
(``shutil.disk_usage`` by default), deletes or makes the reserve file as the rules say,
reports a change of level as a ``disk_low`` supervision signal, and keeps the latest
measurement for ``/healthz``, ``/metrics`` and the intake gate.

The watch reports through the writer itself, not through the gate: the alarm that says
intake stopped must get through, and its few rows come out of the reserve. ``gate`` wraps
the sink that panels, cameras and supervision submit to: while intake is stopped it refuses
with ``StoreUnavailableError``, so receivers send no ACK (or a 503) and senders retry, as
when the store is down. Staff reports and calls, and the operators' reads and actions, are
not gated: people's input is small and the reserve is kept for it.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
import os
import shutil
from collections import Counter
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Final

from watchfloor.core.disk_space import (
    DiskLevel,
    DiskSpace,
    DiskSpacePolicy,
    assess_disk_space,
    disk_space_signal,
)
from watchfloor.core.errors import StoreUnavailableError
from watchfloor.core.ports import Clock, SignalSink
from watchfloor.core.signals import LinkTest, Signal, SignalRecord

__all__ = ["RESERVE_FILE", "DiskSpaceWatch", "FreeBytes", "disk_free_bytes"]

logger = logging.getLogger(__name__)

#: The reserve file's name in the data directory.
RESERVE_FILE: Final = "disk-reserve"

#: Measures the free bytes of the filesystem a directory is on.
FreeBytes = Callable[[Path], int]


def disk_free_bytes(path: Path) -> int:
    """Return the bytes an unprivileged process may still write on ``path``'s filesystem."""
    return shutil.disk_usage(path).free


class DiskSpaceWatch:
    """Checks the data disk; ``check`` once, or ``serve`` until cancelled.

    ``space`` is the latest measurement (None before the first). ``device`` names this
    receiver in the alarms it raises.
    """

    def __init__(
        self,
        *,
        data_dir: Path,
        policy: DiskSpacePolicy,
        sink: SignalSink,
        clock: Clock,
        period: float = 10.0,
        free_bytes: FreeBytes = disk_free_bytes,
        device: str = "watchfloor",
    ) -> None:
        self._data_dir = data_dir
        self._reserve = data_dir / RESERVE_FILE
        self._policy = policy
        self._sink = sink
        self._clock = clock
        self._period = period
        self._free_bytes = free_bytes
        self._device = device
        #: The level last reported by a signal (a failed report is retried next check).
        self._reported = DiskLevel.OK
        self._held = (
            self._reserve.is_file() and self._reserve.stat().st_size >= policy.reserve_bytes
        )
        self._space: DiskSpace | None = None
        self.counters: Counter[str] = Counter()

    @property
    def space(self) -> DiskSpace | None:
        """The latest measurement, or None before the first."""
        return self._space

    def gate(self, sink: SignalSink) -> SignalSink:
        """Return ``sink`` refusing submissions while intake is stopped."""
        return _GatedSink(sink, self)

    async def check(self) -> DiskSpace:
        """Measure, release or make the reserve file, and report a change of level.

        Idempotent: a level is reported once; a report the store refuses is retried next
        time.

        Raises:
            OSError: the free space could not be measured.
        """
        free = await self._measure()
        if self._held and self._policy.releases_reserve(free):
            await asyncio.to_thread(self._release_reserve)
            free = await self._measure()
        elif not self._held and self._policy.can_hold_reserve(free):
            self._held = await asyncio.to_thread(self._hold_reserve)
            free = await self._measure()
        space = assess_disk_space(
            free, reserve_held=self._held, previous=self._reported, policy=self._policy
        )
        if self._space is None or space.level is not self._space.level:
            _log_level(space)
        self._space = space
        signal = disk_space_signal(self._reported, space, device=self._device, at=self._clock.now())
        if signal is None:
            self._reported = space.level
            return space
        try:
            await self._sink.submit([signal])
        except StoreUnavailableError:
            self.counters["report_failed"] += 1
            logger.error("disk space: could not raise the alarm (store unavailable); retrying")
        else:
            self._reported = space.level
        return space

    async def serve(self) -> None:
        """Check every ``period`` seconds until cancelled (call ``check`` once before)."""
        while True:
            await asyncio.sleep(self._period)
            try:
                await self.check()
            except Exception:  # task boundary: the watch must outlive a bug in one check
                self.counters["failed"] += 1
                logger.exception("disk space check failed")

    @asynccontextmanager
    async def running(self) -> AsyncIterator[None]:
        """Serve for the duration of the block, then delete the reserve file.

        A stopped server needs no reserve, and the next start makes it again (after a
        crash the file is still there, and the next start finds it held).
        """
        task = asyncio.create_task(self.serve(), name="disk-space")
        try:
            yield
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
            self._remove_reserve()

    def _remove_reserve(self) -> None:
        with contextlib.suppress(FileNotFoundError):
            self._reserve.unlink()
        self._held = False

    async def _measure(self) -> int:
        return await asyncio.to_thread(self._free_bytes, self._data_dir)

    def _release_reserve(self) -> None:
        self._remove_reserve()
        self.counters["reserve_released"] += 1
        logger.error("disk space: the data disk is full; the reserve file was released")

    def _hold_reserve(self) -> bool:
        try:
            descriptor = os.open(self._reserve, os.O_WRONLY | os.O_CREAT, 0o600)
            try:
                # Allocated blocks, not a sparse file: the space is really taken.
                os.posix_fallocate(descriptor, 0, self._policy.reserve_bytes)
                os.fsync(descriptor)
            finally:
                os.close(descriptor)
        except OSError as err:
            with contextlib.suppress(FileNotFoundError):
                self._reserve.unlink()
            if err.errno == errno.ENOSPC:
                return False
            # A filesystem that cannot hold the file still has the threshold: intake must
            # not stop on a disk with room to spare.
            logger.error("disk space: cannot make the reserve file %s: %s", self._reserve, err)
            return True
        return True


def _log_level(space: DiskSpace) -> None:
    if space.level is DiskLevel.OK:
        logger.info("disk space: %s", space.detail)
    elif space.level is DiskLevel.LOW:
        logger.warning("disk space: %s", space.detail)
    else:
        logger.error("disk space: %s", space.detail)


class _GatedSink:
    """A sink that refuses everything while the watch says intake is stopped."""

    def __init__(self, sink: SignalSink, watch: DiskSpaceWatch) -> None:
        self._sink = sink
        self._watch = watch

    async def submit(self, items: Sequence[Signal | LinkTest]) -> Sequence[SignalRecord | None]:
        space = self._watch.space
        if space is not None and not space.intake_open:
            self._watch.counters["refused"] += len(items)
            raise StoreUnavailableError(f"intake stopped: {space.detail}")
        return await self._sink.submit(items)

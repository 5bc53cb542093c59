"""Flood control in the intake: each device's recent rate, and its newest open alarm.

Theory of operation: a batch reads, set-based, how many signals each of its devices stored
since ``window`` before the batch's earliest signal (one grouped COUNT), and, for the
devices that may pass the threshold in this batch, the newest open alarm of each (one
query, locked on PostgreSQL like the batch's other alarms). Planning then counts the batch's
own signals in memory, in arrival order: a signal whose device has stored more than
``threshold`` signals within ``window`` before it, itself included, is flooding, and
``core.correlation.correlate`` folds it into the device's newest open alarm instead of
opening one. A batch far shorter than the window (the rule) counts exactly; one that spans
more of it counts every stored signal since its earliest signal's window, so it may fold a
little early (never a life-safety alarm: the core refuses that).
"""

from __future__ import annotations

import bisect
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from watchfloor.core.alarms import OPEN_STATES, Alarm
from watchfloor.core.correlation import CorrelationKey
from watchfloor.core.signals import Signal
from watchfloor.store._rows import alarm_from_row, chunks
from watchfloor.store.tables import alarms, signals

__all__ = ["FloodLimit", "FloodMeter", "read_flood_meter"]

_OPEN_STATE_VALUES: Final = sorted(state.value for state in OPEN_STATES)


@dataclass(frozen=True, slots=True, kw_only=True)
class FloodLimit:
    """More than ``threshold`` signals of one device within ``window`` is a flood."""

    threshold: int
    window: timedelta

    def __post_init__(self) -> None:
        if self.threshold < 1:
            raise ValueError("the flood threshold must be at least 1")
        if self.window <= timedelta(0):
            raise ValueError("the flood window must be positive")


class FloodMeter:
    """Counts a batch's signals per device as they are planned; knows the flood targets.

    ``newest`` maps a device (``Signal.device``) that may flood in this batch to the key and
    state of its newest open alarm, as read before the batch.
    """

    def __init__(
        self,
        limit: FloodLimit,
        stored: Mapping[str, int],
        newest: Mapping[str, tuple[CorrelationKey, Alarm]],
    ) -> None:
        self._limit = limit
        self._stored = stored
        self._times: dict[str, list[datetime]] = {}
        self.newest = newest

    def count(self, signal: Signal) -> bool:
        """Count a signal the batch stores; return whether its device is flooding with it."""
        times = self._times.setdefault(signal.device, [])
        bisect.insort(times, signal.received_at)
        since = signal.received_at - self._limit.window
        recent = len(times) - bisect.bisect_left(times, since)
        return self._stored.get(signal.device, 0) + recent > self._limit.threshold


async def read_flood_meter(
    connection: AsyncConnection, limit: FloodLimit, batch: Sequence[Signal]
) -> FloodMeter:
    """Return the meter of a batch: its devices' stored counts and possible flood targets."""
    stored = await _read_recent_counts(connection, limit, batch)
    in_batch = Counter(signal.device for signal in batch)
    # Only a device that could pass the threshold needs its flood target.
    candidates = sorted(
        device
        for device, count in in_batch.items()
        if stored.get(device, 0) + count > limit.threshold
    )
    return FloodMeter(limit, stored, await _read_newest_open_alarms(connection, candidates))


async def _read_recent_counts(
    connection: AsyncConnection, limit: FloodLimit, batch: Sequence[Signal]
) -> dict[str, int]:
    if not batch:
        return {}
    since = min(signal.received_at for signal in batch) - limit.window
    counts: dict[str, int] = {}
    for chunk in chunks(sorted({signal.device for signal in batch})):
        rows = await connection.execute(
            select(signals.c.device, func.count())
            .where(signals.c.device.in_(chunk), signals.c.received_at >= since)
            .group_by(signals.c.device)
        )
        counts.update((device, count) for device, count in rows.tuples())
    return counts


async def _read_newest_open_alarms(
    connection: AsyncConnection, devices: Sequence[str]
) -> dict[str, tuple[CorrelationKey, Alarm]]:
    """Return the newest open alarm of each device that has one, locking it (PostgreSQL)."""
    found: dict[str, tuple[CorrelationKey, Alarm]] = {}
    for chunk in chunks(devices):
        newest = (
            select(func.max(alarms.c.id))
            .where(alarms.c.key_device.in_(chunk), alarms.c.state.in_(_OPEN_STATE_VALUES))
            .group_by(alarms.c.key_device)
        )
        query = (
            select(alarms)
            # The state again: PostgreSQL rechecks only this level's conditions on a row
            # that an operator changed while we waited for its lock.
            .where(alarms.c.id.in_(newest), alarms.c.state.in_(_OPEN_STATE_VALUES))
            .order_by(alarms.c.id)
            .with_for_update()
        )
        for row in await connection.execute(query):
            alarm = alarm_from_row(row)
            key = CorrelationKey(device=row.key_device, type_code=alarm.type_code, zone=alarm.zone)
            found[row.key_device] = (key, alarm)
    return found

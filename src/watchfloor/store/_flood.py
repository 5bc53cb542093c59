"""Flood control in the intake: each device's recent count and newest open alarm, read once.

Theory of operation: a batch reads, set-based, how many signals each of its devices stored
since ``window`` before the batch's earliest signal (one grouped COUNT), and, for the
devices that may pass the threshold in this batch (``core.flood.flood_candidates``), the
newest open alarm of each (one query, locked on PostgreSQL like the batch's other alarms).
``core.flood.flooding`` then counts the batch's own signals in memory, and
``core.correlation.correlate_batch`` folds the flooding ones.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Final

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from watchfloor.core.alarms import OPEN_STATES, Alarm
from watchfloor.core.correlation import CorrelationKey
from watchfloor.core.flood import FloodLimit, flood_candidates
from watchfloor.core.signals import Signal
from watchfloor.store._rows import alarm_from_row, chunks
from watchfloor.store.tables import alarms, signals

__all__ = ["FloodReading", "read_flood"]

_OPEN_STATE_VALUES: Final = sorted(state.value for state in OPEN_STATES)


@dataclass(frozen=True, slots=True, kw_only=True)
class FloodReading:
    """What flood control reads before a batch.

    ``stored`` counts each device's (``Signal.device``) signals stored within the window;
    ``targets`` maps each device that may flood in this batch, as its alarms' correlation
    key names it, to that key and the state of its newest open alarm.
    """

    stored: Mapping[str, int]
    targets: Mapping[str, tuple[CorrelationKey, Alarm]]


async def read_flood(
    connection: AsyncConnection, limit: FloodLimit, batch: Sequence[Signal]
) -> FloodReading:
    """Return the stored counts of a batch's devices and their possible flood targets."""
    stored = await _read_recent_counts(connection, limit, batch)
    candidates = flood_candidates(limit, stored, batch)
    return FloodReading(
        stored=stored, targets=await _read_newest_open_alarms(connection, candidates)
    )


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

"""The purge: deleting and redacting what the retention policy says is due, audited.

Work is done in batches of at most ``batch`` rows per kind, each batch one transaction that
also appends its ``retention.purge`` audit row, so a first purge of a large, old database
never holds the write lock for long (intake waits for it) and a purge cancelled half-way
leaves only whole batches done. Idempotent: running it again removes nothing more until more
data falls due. ``purge`` runs it once under a policy (the ``purge`` command), and
``serve_retention`` every so often (the server).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from typing import Any, Final

from sqlalchemy import ColumnElement, delete, not_, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from watchfloor.core.alarms import OPEN_STATES, AlarmState
from watchfloor.core.audit import AuditEntry
from watchfloor.core.errors import StoreUnavailableError
from watchfloor.core.ports import Clock
from watchfloor.core.retention import (
    PERSON_WRITTEN,
    REDACTED,
    Cutoffs,
    DataKind,
    PurgeResult,
    RetentionPolicy,
)
from watchfloor.core.signals import SignalSource
from watchfloor.store._errors import translate_errors
from watchfloor.store.audit import append_audit
from watchfloor.store.database import write_transaction
from watchfloor.store.tables import alarm_timeline, alarms, signal_snapshots, signals

__all__ = ["purge", "purge_due", "serve_retention"]

logger = logging.getLogger(__name__)

_BATCH: Final = 2000
_OPEN = sorted(state.value for state in OPEN_STATES)
_PERSON_SOURCES = (SignalSource.PATROL.value, SignalSource.CALL.value)


#: The alarms whose evidence a purge keeps, whatever its age.
_OPEN_ALARMS = select(alarms.c.id).where(alarms.c.state.in_(_OPEN))


async def _due(
    connection: AsyncConnection, column: Any, batch: int, *conditions: ColumnElement[bool]
) -> Sequence[Any]:
    """Return up to ``batch`` values of ``column`` from the rows meeting every condition."""
    query = select(column).where(*conditions).limit(batch)
    return (await connection.execute(query)).scalars().all()


async def _purge_closed_alarms(connection: AsyncConnection, cutoffs: Cutoffs, batch: int) -> int:
    ids = await _due(
        connection,
        alarms.c.id,
        batch,
        alarms.c.state == AlarmState.CLOSED.value,
        alarms.c.closed_at < cutoffs.before[DataKind.CLOSED_ALARMS],
    )
    if not ids:
        return 0
    await connection.execute(delete(alarm_timeline).where(alarm_timeline.c.alarm_id.in_(ids)))
    of_alarms = select(signals.c.id).where(signals.c.alarm_id.in_(ids))
    await connection.execute(
        delete(signal_snapshots).where(signal_snapshots.c.signal_id.in_(of_alarms))
    )
    await connection.execute(delete(signals).where(signals.c.alarm_id.in_(ids)))
    await connection.execute(delete(alarms).where(alarms.c.id.in_(ids)))
    return len(ids)


async def _purge_signals(connection: AsyncConnection, cutoffs: Cutoffs, batch: int) -> int:
    ids = await _due(
        connection,
        signals.c.id,
        batch,
        signals.c.received_at < cutoffs.before[DataKind.SIGNALS],
        or_(signals.c.alarm_id.is_(None), not_(signals.c.alarm_id.in_(_OPEN_ALARMS))),
    )
    if not ids:
        return 0
    # The timeline keeps its entry ("restored", "repeated"), without the signal behind it.
    await connection.execute(
        update(alarm_timeline).where(alarm_timeline.c.signal_id.in_(ids)).values(signal_id=None)
    )
    await connection.execute(delete(signal_snapshots).where(signal_snapshots.c.signal_id.in_(ids)))
    await connection.execute(delete(signals).where(signals.c.id.in_(ids)))
    return len(ids)


async def _purge_images(connection: AsyncConnection, cutoffs: Cutoffs, batch: int) -> int:
    of_open_alarms = select(signals.c.id).where(signals.c.alarm_id.in_(_OPEN_ALARMS))
    ids = await _due(
        connection,
        signal_snapshots.c.id,
        batch,
        signal_snapshots.c.received_at < cutoffs.before[DataKind.IMAGES],
        not_(signal_snapshots.c.signal_id.in_(of_open_alarms)),
    )
    if ids:
        await connection.execute(delete(signal_snapshots).where(signal_snapshots.c.id.in_(ids)))
    return len(ids)


async def _redact_notes(connection: AsyncConnection, cutoffs: Cutoffs, batch: int) -> int:
    due = await _due(
        connection,
        alarm_timeline.c.id,
        batch,
        alarm_timeline.c.at < cutoffs.before[DataKind.NOTES],
        alarm_timeline.c.kind.in_(sorted(PERSON_WRITTEN)),
        alarm_timeline.c.detail != "",
        alarm_timeline.c.detail != REDACTED,
    )
    if due:
        await connection.execute(
            update(alarm_timeline).where(alarm_timeline.c.id.in_(due)).values(detail=REDACTED)
        )
    # What a guard or a caller said is free text too, whatever the signals' own period.
    said = await _due(
        connection,
        signals.c.id,
        batch,
        signals.c.source.in_(_PERSON_SOURCES),
        signals.c.received_at < cutoffs.before[DataKind.NOTES],
        signals.c.raw != REDACTED,
    )
    if said:
        await connection.execute(
            update(signals).where(signals.c.id.in_(said)).values(text=None, raw=REDACTED)
        )
    return len(due) + len(said)


async def purge_due(
    engine: AsyncEngine,
    cutoffs: Cutoffs,
    audit: Callable[[PurgeResult], AuditEntry],
    *,
    batch: int = _BATCH,
) -> PurgeResult:
    """Delete and redact everything due at ``cutoffs``, in audited batches.

    Closed alarms go with their timeline and signals; signals go unless their alarm is open;
    person-written timeline texts are replaced by ``REDACTED``. Each batch commits with the
    audit entry ``audit`` makes of what the batch removed.

    Returns:
        What was removed, all batches together.

    Raises:
        StoreUnavailableError: the batch under way was not committed (those before were).
    """
    total = PurgeResult()
    while True:
        with translate_errors("purge data past its retention period"):
            async with write_transaction(engine) as connection:
                done = PurgeResult(
                    closed_alarms=await _purge_closed_alarms(connection, cutoffs, batch),
                    images=await _purge_images(connection, cutoffs, batch),
                    signals=await _purge_signals(connection, cutoffs, batch),
                    notes=await _redact_notes(connection, cutoffs, batch),
                )
                if done.total:
                    await append_audit(connection, audit(done))
        total = PurgeResult(
            signals=total.signals + done.signals,
            images=total.images + done.images,
            notes=total.notes + done.notes,
            closed_alarms=total.closed_alarms + done.closed_alarms,
        )
        if max(done.signals, done.images, done.notes, done.closed_alarms) < batch:
            return total


async def purge(
    engine: AsyncEngine, policy: RetentionPolicy, clock: Clock, actor: str
) -> PurgeResult:
    """Purge everything due now under the policy; each batch is audited as ``actor``'s."""
    cutoffs = policy.cutoffs(clock.now())

    def entry(done: PurgeResult) -> AuditEntry:
        return AuditEntry(
            at=clock.now(),
            actor=actor,
            role=None,
            via="system" if actor == "system" else "cli",
            action="retention.purge",
            target=done.summary(),
            reason="retention period ended",
        )

    return await purge_due(engine, cutoffs, entry)


async def serve_retention(
    engine: AsyncEngine, policy: RetentionPolicy, clock: Clock, period: float
) -> None:
    """Purge what is past its retention period, now and every ``period`` seconds."""
    while True:
        try:
            result = await purge(engine, policy, clock, "system")
            if result.total:
                logger.info("retention purge: %s", result.summary())
        except StoreUnavailableError:
            logger.error("retention purge failed: store unavailable; retrying")
        except Exception:  # task boundary: the purge must outlive a bug in one run
            logger.exception("retention purge failed")
        await asyncio.sleep(period)

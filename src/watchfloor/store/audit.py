"""The audit log in SQL: appending sealed rows, reading them back, checkpoints, verification.

Appends are serialised so that each row chains from the one before it: on SQLite the write
transaction holds the database's write lock from BEGIN; on PostgreSQL a transaction-scoped
advisory lock is taken before the head is read. Either way the append commits or rolls back
with the transaction it is part of, so an audited action and its audit row are one commit.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Any, Final

from sqlalchemy import func, insert, select, text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from watchfloor.core.audit import (
    GENESIS_HASH,
    AuditEntry,
    AuditOutcome,
    AuditRecord,
    ChainVerifier,
    Checkpoint,
    VerifyReport,
    checkpoint_message,
    seal_entry,
)
from watchfloor.core.errors import StoreUnavailableError
from watchfloor.core.ports import Clock
from watchfloor.store._errors import translate_errors
from watchfloor.store.database import write_transaction
from watchfloor.store.tables import audit_checkpoints, audit_log

__all__ = ["SqlAuditLog", "append_audit", "lock_chain", "record_audit"]

logger = logging.getLogger(__name__)

#: Arbitrary, fixed: the PostgreSQL advisory lock that serialises audit appends.
_APPEND_LOCK: Final = 0x57A7_0A0D
#: Rows read per page while verifying, so that a log of any length fits in memory.
_VERIFY_PAGE: Final = 5000


async def lock_chain(connection: AsyncConnection) -> None:
    """Hold the append lock until the transaction ends (SQLite's write lock does already)."""
    if connection.dialect.name == "postgresql":
        await connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _APPEND_LOCK})


async def _locked_head(connection: AsyncConnection) -> tuple[int, str]:
    """Take the append lock; return the chain's last row number and hash (0, genesis: empty)."""
    await lock_chain(connection)
    head = (
        await connection.execute(
            select(audit_log.c.seq, audit_log.c.hash).order_by(audit_log.c.seq.desc()).limit(1)
        )
    ).first()
    return (head.seq, head.hash) if head else (0, GENESIS_HASH)


async def append_audit(connection: AsyncConnection, entry: AuditEntry) -> AuditRecord:
    """Append an entry to the chain inside the caller's (write) transaction.

    Not idempotent: each call appends a row. Rolled back with the transaction.
    """
    count, prev_hash = await _locked_head(connection)
    record = seal_entry(count + 1, entry, prev_hash)
    await connection.execute(insert(audit_log).values(**_row_values(record)))
    return record


async def record_audit(engine: AsyncEngine, entry: AuditEntry) -> AuditRecord:
    """Append one entry in a transaction of its own (an action with no data write, or failed).

    Not idempotent: each call appends a row.

    Raises:
        StoreUnavailableError: nothing was appended.
    """
    with translate_errors("write the audit log"):
        async with write_transaction(engine) as connection:
            return await append_audit(connection, entry)


def _row_values(record: AuditRecord) -> dict[str, Any]:
    entry = record.entry
    return {
        "seq": record.seq,
        "at": entry.at,
        "actor": entry.actor,
        "role": entry.role,
        "via": entry.via,
        "action": entry.action,
        "target": entry.target,
        "peer": entry.peer,
        "reason": entry.reason,
        "outcome": entry.outcome.value,
        "digest": entry.digest,
        "prev_hash": record.prev_hash,
        "hash": record.hash,
    }


def _record_from_row(row: Any) -> AuditRecord:
    return AuditRecord(
        seq=row.seq,
        entry=AuditEntry(
            at=row.at,
            actor=row.actor,
            role=row.role,
            via=row.via,
            action=row.action,
            target=row.target,
            peer=row.peer,
            reason=row.reason,
            outcome=AuditOutcome(row.outcome),
            digest=row.digest,
        ),
        prev_hash=row.prev_hash,
        hash=row.hash,
    )


def _checkpoint_from_row(row: Any) -> Checkpoint:
    return Checkpoint(
        count=row.count,
        head_hash=row.head_hash,
        at=row.at,
        key_id=row.key_id,
        signature=row.signature,
    )


class SqlAuditLog:
    """Reads, appends and checkpoints of the audit log on SQLite or PostgreSQL."""

    def __init__(self, engine: AsyncEngine, clock: Clock) -> None:
        self._engine = engine
        self._clock = clock

    async def record(self, entry: AuditEntry) -> AuditRecord:
        """Append one entry in a transaction of its own (see ``record_audit``)."""
        return await record_audit(self._engine, entry)

    @asynccontextmanager
    async def _reading(self) -> AsyncIterator[AsyncConnection]:
        with translate_errors("read the audit log"):
            async with self._engine.connect() as connection:
                yield connection

    async def search(
        self,
        *,
        limit: int,
        before: int | None = None,
        actor: str | None = None,
        action: str | None = None,
        target: str | None = None,
        start: datetime | None = None,
        end: datetime | None = None,
    ) -> list[AuditRecord]:
        """Return rows newest first, filtered where given (``action`` matches a prefix)."""
        query = select(audit_log).order_by(audit_log.c.seq.desc()).limit(limit)
        if before is not None:
            query = query.where(audit_log.c.seq < before)
        if actor is not None:
            query = query.where(audit_log.c.actor == actor)
        if action is not None:
            query = query.where(audit_log.c.action.startswith(action, autoescape=True))
        if target is not None:
            query = query.where(audit_log.c.target == target)
        if start is not None:
            query = query.where(audit_log.c.at >= start)
        if end is not None:
            query = query.where(audit_log.c.at < end)
        async with self._reading() as connection:
            rows = (await connection.execute(query)).all()
        return [_record_from_row(row) for row in rows]

    async def count_actions(self, prefixes: Sequence[str], *, since: datetime) -> dict[str, int]:
        """Return how many successful rows of actions starting with each prefix since a time."""
        counts: dict[str, int] = {}
        async with self._reading() as connection:
            for prefix in prefixes:
                query = select(func.count()).where(
                    audit_log.c.action.startswith(prefix, autoescape=True),
                    audit_log.c.at >= since,
                    audit_log.c.outcome == AuditOutcome.OK.value,
                )
                counts[prefix] = int((await connection.execute(query)).scalar_one())
        return counts

    async def checkpoints(self) -> list[Checkpoint]:
        """Return every checkpoint, oldest first."""
        async with self._reading() as connection:
            rows = (
                await connection.execute(select(audit_checkpoints).order_by(audit_checkpoints.c.id))
            ).all()
        return [_checkpoint_from_row(row) for row in rows]

    async def add_checkpoint(self, key_id: str, sign: Callable[[bytes], str]) -> Checkpoint:
        """Sign and store a checkpoint of the chain as it is now.

        The head is read under the append lock, so the checkpoint states a row count and hash
        that existed together. Not idempotent: each call adds a checkpoint.
        """
        with translate_errors("write an audit checkpoint"):
            async with write_transaction(self._engine) as connection:
                count, head_hash = await _locked_head(connection)
                at = self._clock.now()
                checkpoint = Checkpoint(
                    count=count,
                    head_hash=head_hash,
                    at=at,
                    key_id=key_id,
                    signature=sign(checkpoint_message(count, head_hash, at)),
                )
                await connection.execute(
                    insert(audit_checkpoints).values(
                        count=count,
                        head_hash=head_hash,
                        at=at,
                        key_id=key_id,
                        signature=checkpoint.signature,
                    )
                )
        return checkpoint

    async def serve_checkpoints(
        self, key_id: str, sign: Callable[[bytes], str], *, period: float
    ) -> None:
        """Sign a checkpoint of the chain every ``period`` seconds; runs until cancelled.

        The checkpoints at start-up and at a clean stop are ``checkpointed``'s.
        """
        while True:
            await asyncio.sleep(period)
            try:
                checkpoint = await self.add_checkpoint(key_id, sign)
                logger.info("audit checkpoint: %s rows", checkpoint.count)
            except StoreUnavailableError:
                logger.error("audit checkpoint failed: store unavailable; retrying")
            except Exception:  # task boundary: checkpoints must outlive a bug in one
                logger.exception("audit checkpoint failed")

    @asynccontextmanager
    async def checkpointed(self, key_id: str, sign: Callable[[bytes], str]) -> AsyncIterator[None]:
        """Sign a checkpoint of the chain on entering the block and on leaving it.

        The one at start-up puts the chain as the server found it under signature at once
        (not an hour later); the one at the end, after everything that audits has stopped,
        makes rows removed from the end of the chain while the server is stopped detectable.
        """
        await self._sign_checkpoint(key_id, sign, "start-up")
        try:
            yield
        finally:
            await self._sign_checkpoint(key_id, sign, "shutdown")

    async def _sign_checkpoint(self, key_id: str, sign: Callable[[bytes], str], when: str) -> None:
        try:
            checkpoint = await self.add_checkpoint(key_id, sign)
        except StoreUnavailableError:
            logger.error("audit checkpoint at %s failed: store unavailable", when)
        else:
            logger.info("audit checkpoint at %s: %s rows", when, checkpoint.count)

    async def latest_checkpoint(self) -> Checkpoint | None:
        """Return the newest checkpoint, if any."""
        async with self._reading() as connection:
            row = (
                await connection.execute(
                    select(audit_checkpoints).order_by(audit_checkpoints.c.id.desc()).limit(1)
                )
            ).first()
        return None if row is None else _checkpoint_from_row(row)

    async def verify(self, verify_signature: Callable[[str, bytes, str], bool]) -> VerifyReport:
        """Recompute the whole chain and check every checkpoint; see ``core.audit``.

        Reads page by page in order of ``seq``; rows appended while it runs may or may not be
        included. Changes nothing.
        """
        checkpoints = await self.checkpoints()
        verifier = ChainVerifier()
        verifier.want_hashes_at(c.count for c in checkpoints)
        after = 0
        async with self._reading() as connection:
            while True:
                rows = (
                    await connection.execute(
                        select(audit_log)
                        .where(audit_log.c.seq > after)
                        .order_by(audit_log.c.seq)
                        .limit(_VERIFY_PAGE)
                    )
                ).all()
                for row in rows:
                    verifier.feed(_record_from_row(row))
                if len(rows) < _VERIFY_PAGE:
                    break
                after = rows[-1].seq
        return verifier.finish(checkpoints, verify_signature)

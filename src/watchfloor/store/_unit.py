"""Store classes whose methods can run in one audited transaction together.

A class built on ``AuditedUnit`` opens a short transaction per method, or, inside
``audited``, runs every method in the unit's one transaction, which also appends the action's
audit row: the action and its audit record commit together or not at all.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager, nullcontext
from dataclasses import replace
from typing import Self

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from watchfloor.core.audit import AuditEntry, AuditOutcome
from watchfloor.core.errors import WatchfloorError
from watchfloor.core.ports import Clock
from watchfloor.store._errors import translate_errors
from watchfloor.store.audit import append_audit, record_audit
from watchfloor.store.database import write_transaction

__all__ = ["AuditedUnit"]


class AuditedUnit:
    """The transaction handling shared by the store's repositories."""

    def __init__(
        self, engine: AsyncEngine, clock: Clock, *, connection: AsyncConnection | None = None
    ) -> None:
        self._engine = engine
        self._clock = clock
        # Set inside ``audited``: every method then runs in that one transaction.
        self._connection = connection

    @asynccontextmanager
    async def audited(self, entry: AuditEntry) -> AsyncIterator[Self]:
        """Run a block's reads and writes and the audit row of the action in one transaction.

        Yields an instance bound to the transaction; when the block ends normally the entry
        is appended to the audit log and everything commits together. If the block raises,
        its writes roll back and the entry is recorded with outcome ``failed`` in a
        transaction of its own, then the error propagates. Cancelled, nothing is stored.

        Raises:
            StoreUnavailableError: the transaction did not commit.
        """
        if self._connection is not None:
            raise RuntimeError("audited units of work do not nest")
        try:
            with translate_errors("store an audited action"):
                async with write_transaction(self._engine) as connection:
                    yield type(self)(self._engine, self._clock, connection=connection)
                    await append_audit(connection, entry)
        except WatchfloorError:
            await record_audit(self._engine, replace(entry, outcome=AuditOutcome.FAILED))
            raise

    def _write(self) -> AbstractAsyncContextManager[AsyncConnection]:
        if self._connection is not None:
            return nullcontext(self._connection)
        return write_transaction(self._engine)

    def _connect(self) -> AbstractAsyncContextManager[AsyncConnection]:
        if self._connection is not None:
            return nullcontext(self._connection)
        return self._engine.connect()

    @asynccontextmanager
    async def _read_transaction(self) -> AsyncIterator[AsyncConnection]:
        if self._connection is not None:
            yield self._connection
            return
        async with self._engine.connect() as connection, connection.begin():
            yield connection

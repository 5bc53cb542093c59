"""Engines, connection settings, transactions and schema migrations of the store."""

from __future__ import annotations

import logging
import sqlite3
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, Final

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, Table, event, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine.interfaces import DBAPIConnection
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine
from sqlalchemy.pool import ConnectionPoolEntry

from watchfloor.core.errors import StoreUnavailableError
from watchfloor.store._errors import translate_errors
from watchfloor.store.reseal import seal_stored_secrets
from watchfloor.store.sealing import SecretKeys, attach_keys, keys_of

__all__ = [
    "SQLITE_FILE",
    "insert_ignoring_conflicts",
    "migrate",
    "open_engine",
    "sqlite_url",
    "write_transaction",
]

logger = logging.getLogger(__name__)

_MIGRATIONS: Final = Path(__file__).parent / "migrations"

#: How a SQLite transaction starts; set per connection with ``execution_options``.
_SQLITE_BEGIN: Final = "watchfloor_sqlite_begin"
_BEGIN_STATEMENTS: Final = {"DEFERRED": "BEGIN DEFERRED", "IMMEDIATE": "BEGIN IMMEDIATE"}

#: Serialises migrations of several processes on one PostgreSQL database (any fixed number).
_MIGRATION_LOCK: Final = 0x77617463


#: The SQLite database's file name in the data directory.
SQLITE_FILE: Final = "watchfloor.db"


def sqlite_url(data_dir: Path) -> str:
    """Return the URL of the SQLite database kept in a data directory."""
    return f"sqlite+aiosqlite:///{data_dir / SQLITE_FILE}"


def open_engine(
    url: str, *, keys: SecretKeys | None = None, busy_timeout_ms: int = 5000
) -> AsyncEngine:
    """Create an engine for a SQLite (``sqlite+aiosqlite``) or PostgreSQL (asyncpg) URL.

    SQLite connections run in WAL mode with ``synchronous=FULL`` (a commit survives power
    loss, which the acknowledge-after-store rule needs), foreign keys on, and wait up to
    ``busy_timeout_ms`` for a lock held by another connection or process. Transactions are
    begun by SQLAlchemy instead of the driver, so that DDL is transactional and writers can
    take the write lock up front (see ``write_transaction``).

    Args:
        url: an SQLAlchemy URL with an async driver.
        keys: the secrets key ring the sealed columns use (``store.sealing``); without
            one, writing a secret fails and a sealed secret cannot be read.
        busy_timeout_ms: SQLite only: how long to wait for a lock before failing.

    Returns:
        The engine; the caller disposes of it (``await engine.dispose()``). No connection is
        made until first use.
    """
    # hide_parameters: driver errors end up in logs, and their parameters can hold AES keys
    # (add_account) and alarm contents.
    if url.startswith("sqlite"):
        engine = create_async_engine(url, hide_parameters=True)
        _configure_sqlite(engine, busy_timeout_ms)
    else:
        # pre_ping: after a database restart the pool hands out a fresh connection rather
        # than failing the next batch with a dead one.
        engine = create_async_engine(url, hide_parameters=True, pool_pre_ping=True)
    if keys is not None:
        attach_keys(engine, keys)
    return engine


def _execute_pragma(cursor: Any, pragma: str, busy_timeout_ms: int) -> None:
    # Switching a new database to WAL needs an exclusive lock, and SQLite does not call the
    # busy handler for it: when two processes open a new file at once, one sees "database is
    # locked" at once. The other is converting it; retry for as long as busy_timeout allows.
    # Runs on the connection's own driver thread, so the short sleeps block nothing else.
    deadline = time.monotonic() + busy_timeout_ms / 1000
    while True:
        try:
            cursor.execute(pragma)
        except sqlite3.OperationalError as err:
            if "locked" not in str(err) or time.monotonic() >= deadline:
                raise
            time.sleep(0.01)  # noqa: TID251 - the driver thread, not the event loop
        else:
            return


def _configure_sqlite(engine: AsyncEngine, busy_timeout_ms: int) -> None:
    pragmas = (
        # First, so that the other pragmas wait for a concurrent starter instead of failing.
        f"PRAGMA busy_timeout={int(busy_timeout_ms)}",
        "PRAGMA journal_mode=WAL",
        "PRAGMA synchronous=FULL",
        "PRAGMA foreign_keys=ON",
        # Deleted and replaced content is zeroed, so that a secret sealed at start-up or a
        # purged record does not linger in the file's free space (Debian's SQLite does so by
        # default; other builds do not).
        "PRAGMA secure_delete=ON",
    )

    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: DBAPIConnection, _record: ConnectionPoolEntry) -> None:
        # None stops the driver from emitting its own BEGIN (and COMMIT before DDL); the
        # "begin" hook below starts transactions instead. This is SQLAlchemy's documented
        # recipe for pysqlite/aiosqlite.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            for pragma in pragmas:
                _execute_pragma(cursor, pragma, busy_timeout_ms)
        finally:
            cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(connection: Connection) -> None:
        mode = connection.get_execution_options().get(_SQLITE_BEGIN, "DEFERRED")
        connection.exec_driver_sql(_BEGIN_STATEMENTS[mode])


@asynccontextmanager
async def write_transaction(engine: AsyncEngine) -> AsyncIterator[AsyncConnection]:
    """Run a block in one transaction that will write; commit on success, else roll back.

    On SQLite the write lock is taken at BEGIN (``BEGIN IMMEDIATE``), so a transaction that
    reads before it writes cannot fail half-way because another connection wrote meanwhile;
    it waits for the busy timeout instead. Driver errors are not translated here.

    Yields:
        The connection, inside the transaction. If the block is cancelled the transaction is
        rolled back and nothing of it is stored.
    """
    async with engine.connect() as connection:
        writer = await connection.execution_options(**{_SQLITE_BEGIN: "IMMEDIATE"})
        async with writer.begin():
            yield writer


def insert_ignoring_conflicts(
    connection: AsyncConnection, table: Table
) -> postgresql.Insert | sqlite.Insert:
    """Return an INSERT into ``table`` that skips rows violating a unique constraint."""
    if connection.dialect.name == "postgresql":
        return postgresql.insert(table).on_conflict_do_nothing()
    if connection.dialect.name == "sqlite":
        return sqlite.insert(table).on_conflict_do_nothing()
    raise StoreUnavailableError(f"unsupported database {connection.dialect.name}")


async def migrate(engine: AsyncEngine) -> None:
    """Bring the schema to the newest revision (Alembic ``upgrade head``).

    When the engine has a secrets key ring, the same transaction then seals every secret
    stored in clear and re-seals those under an older key (``store.reseal``).

    Idempotent: at the newest revision, with every secret sealed under the newest key, it
    changes nothing. Safe when several processes start at once: the whole upgrade is one
    transaction holding the SQLite write lock or a PostgreSQL advisory lock, so a second
    process waits and then finds nothing to do. Cancelled, it rolls back and leaves the
    schema as it was.

    Raises:
        StoreUnavailableError: the database could not be reached or refused the change.
        SecretKeyError: stored secrets were sealed with keys the key ring lacks; nothing
            was changed.
    """
    with translate_errors("migrate the schema"):
        async with write_transaction(engine) as connection:
            if connection.dialect.name == "postgresql":
                await connection.execute(
                    text("SELECT pg_advisory_xact_lock(:key)"), {"key": _MIGRATION_LOCK}
                )
            await connection.run_sync(_upgrade)
            keys = keys_of(connection.dialect)
            if keys is not None:
                report = await seal_stored_secrets(connection, keys)
                if report.sealed_from_clear or report.resealed:
                    logger.info(
                        "secrets at rest: sealed %s stored in clear, re-sealed %s under key %s",
                        report.sealed_from_clear,
                        report.resealed,
                        keys.primary_id,
                    )


def _upgrade(connection: Connection) -> None:
    config = Config()
    config.set_main_option("script_location", str(_MIGRATIONS))
    # Without it Alembic warns that it falls back to legacy path splitting.
    config.set_main_option("path_separator", "os")
    config.attributes["connection"] = connection
    command.upgrade(config, "head")

"""Alembic environment: migrates the connection that ``watchfloor.store.migrate`` passes in."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection

from watchfloor.store.tables import metadata


def _run() -> None:
    connection = context.config.attributes.get("connection")
    if not isinstance(connection, Connection):
        # Offline (SQL script) mode and the alembic CLI are not supported: the schema is
        # always migrated by the server or the CLI through watchfloor.store.migrate.
        raise RuntimeError("run migrations through watchfloor.store.database.migrate")
    # The caller holds the transaction (and its lock); Alembic sees it as external and
    # neither begins nor commits one of its own.
    context.configure(connection=connection, target_metadata=metadata)
    with context.begin_transaction():
        context.run_migrations()


_run()

"""The store: SQLAlchemy tables, migrations, the repository and the group-commit writer."""

from __future__ import annotations

from watchfloor.store.database import migrate, open_engine, sqlite_url, write_transaction
from watchfloor.store.repository import SqlRepository
from watchfloor.store.writer import GroupCommitWriter, WriterStats, open_writer

__all__ = [
    "GroupCommitWriter",
    "SqlRepository",
    "WriterStats",
    "migrate",
    "open_engine",
    "open_writer",
    "sqlite_url",
    "write_transaction",
]

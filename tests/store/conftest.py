"""Fixtures of the store contract suite: one store per test on SQLite and PostgreSQL."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.pool import NullPool

from support.clock import FakeClock
from support.factories import build_taxonomy
from watchfloor.core.alarm_types import Taxonomy
from watchfloor.core.ports import AlarmEvent
from watchfloor.store import (
    GroupCommitWriter,
    SqlRepository,
    migrate,
    open_engine,
    open_writer,
    sqlite_url,
)
from watchfloor.store.sealing import KEY_FILE, SecretKeys

# The suite, like .ci/run, is pointed at a PostgreSQL server through the environment; the
# banned-api rule keeps the application's reads in config.py, which tests do not use.
POSTGRES_URL = os.environ.get("WATCHFLOOR_TEST_POSTGRES_URL")  # noqa: TID251


#: Where the store suite's clock starts.
START = datetime(2025, 1, 6, 12, 0, tzinfo=UTC)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(START)


@pytest.fixture
def taxonomy() -> Taxonomy:
    return build_taxonomy()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    """The URL of an empty database of its own: a SQLite file, or a new PostgreSQL database.

    PostgreSQL databases get random names and are dropped afterwards, so that runs sharing
    a server neither see nor break each other.
    """
    if request.param == "sqlite":
        yield sqlite_url(tmp_path)
        return
    if POSTGRES_URL is None:
        pytest.skip(
            "PostgreSQL contract tests need WATCHFLOOR_TEST_POSTGRES_URL, e.g. "
            "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
        )
    server_url = make_url(POSTGRES_URL)
    name = f"watchfloor_test_{uuid.uuid4().hex}"
    # CREATE/DROP DATABASE cannot run in a transaction.
    admin = create_async_engine(server_url, isolation_level="AUTOCOMMIT", poolclass=NullPool)
    try:
        async with admin.connect() as connection:
            await connection.execute(text(f'CREATE DATABASE "{name}"'))
        yield server_url.set(database=name).render_as_string(hide_password=False)
    finally:
        async with admin.connect() as connection:
            await connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        await admin.dispose()


@pytest.fixture
def keys(tmp_path: Path) -> SecretKeys:
    """The secrets key ring of the test's store, in a key file of its own."""
    return SecretKeys.load_or_create(tmp_path / KEY_FILE)


@pytest.fixture
async def engine(store_url: str, keys: SecretKeys) -> AsyncIterator[AsyncEngine]:
    engine = open_engine(store_url, keys=keys)
    await migrate(engine)
    try:
        yield engine
    finally:
        await engine.dispose()


@pytest.fixture
def repository(engine: AsyncEngine, clock: FakeClock) -> SqlRepository:
    return SqlRepository(engine, clock)


@pytest.fixture
def published() -> list[AlarmEvent]:
    return []


@pytest.fixture
async def writer(
    engine: AsyncEngine, taxonomy: Taxonomy, clock: FakeClock, published: list[AlarmEvent]
) -> AsyncIterator[GroupCommitWriter]:
    async with open_writer(engine, taxonomy, clock, published.append) as writer:
        yield writer

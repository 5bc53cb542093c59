"""Schema migrations and engine settings, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import warnings
from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Connection, inspect, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from watchfloor.core.alarms import Alarm, AlarmState
from watchfloor.core.signals import Origin
from watchfloor.store import SqlRepository, migrate, open_engine, sqlite_url
from watchfloor.store._rows import alarm_values
from watchfloor.store.tables import alarms, metadata

from .conftest import FakeClock

TABLES = {
    "alarm_timeline",
    "alarms",
    "alembic_version",
    "api_tokens",
    "devices",
    "signals",
    "sites",
    "store_health",
}


async def test_migrate_creates_the_tables(engine: AsyncEngine) -> None:
    async with engine.connect() as connection:
        names = await connection.run_sync(lambda sync: set(inspect(sync).get_table_names()))
        version = (
            await connection.execute(text("SELECT version_num FROM alembic_version"))
        ).scalar()
    assert names == TABLES
    assert version == "0001"


async def test_migrate_twice_is_a_noop_and_keeps_data(
    engine: AsyncEngine, clock: FakeClock
) -> None:
    repository = SqlRepository(engine, clock)
    await repository.add_account(account="1234", site="HQ", key=None)

    await migrate(engine)

    assert await repository.find_account("1234") is not None
    async with engine.connect() as connection:
        versions = (await connection.execute(text("SELECT version_num FROM alembic_version"))).all()
    assert [tuple(row) for row in versions] == [("0001",)]


async def test_two_processes_migrating_at_once_both_succeed(store_url: str) -> None:
    first, second = open_engine(store_url), open_engine(store_url)
    try:
        await asyncio.gather(migrate(first), migrate(second))
        async with first.connect() as connection:
            count = (
                await connection.execute(text("SELECT count(*) FROM alembic_version"))
            ).scalar()
        assert count == 1
    finally:
        await first.dispose()
        await second.dispose()


async def test_migration_matches_the_tables(engine: AsyncEngine) -> None:
    def compare(connection: Connection) -> list[Any]:
        context = MigrationContext.configure(connection)
        # Alembic cannot reflect the expression index and says so; the next test checks it.
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=".*expression-based index")
            return list(compare_metadata(context, metadata))

    async with engine.connect() as connection:
        differences = await connection.run_sync(compare)
    assert differences == []


async def test_only_one_alarm_per_key_can_be_open(engine: AsyncEngine, clock: FakeClock) -> None:
    alarm = Alarm(
        id=0,
        origin=Origin.EQUIPMENT,
        type_code=130,
        type_name="Burglary",
        category="intrusion",
        priority=2,
        state=AlarmState.NEW,
        site=None,
        device="1234",
        zone=None,
        signal_count=1,
        first_at=clock.now(),
        last_at=clock.now(),
    )
    values = alarm_values(alarm, key_device="1234")
    async with engine.begin() as connection:
        await connection.execute(alarms.insert().values(values))
        await connection.execute(
            alarms.insert().values({**values, "state": AlarmState.RESOLVED.value})
        )

    with pytest.raises(IntegrityError):
        async with engine.begin() as connection:
            await connection.execute(alarms.insert().values(values))


async def test_sqlite_connections_use_wal_and_full_sync(tmp_path: Path) -> None:
    engine = open_engine(sqlite_url(tmp_path))
    try:
        await migrate(engine)
        async with engine.connect() as connection:
            pragmas = {
                name: (await connection.execute(text(f"PRAGMA {name}"))).scalar()
                for name in ("journal_mode", "synchronous", "foreign_keys", "busy_timeout")
            }
    finally:
        await engine.dispose()
    assert pragmas == {
        "journal_mode": "wal",
        "synchronous": 2,
        "foreign_keys": 1,
        "busy_timeout": 5000,
    }
    assert (tmp_path / "watchfloor.db").exists()


def test_sqlite_url_names_the_database_in_the_data_dir(tmp_path: Path) -> None:
    assert sqlite_url(tmp_path) == f"sqlite+aiosqlite:///{tmp_path}/watchfloor.db"

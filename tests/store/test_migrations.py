"""Schema migrations and engine settings, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import warnings
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from sqlalchemy import Connection, inspect, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from watchfloor.core.alarms import OPEN_STATES, Alarm, AlarmState
from watchfloor.core.devices import AccountUpdate
from watchfloor.core.signals import Origin
from watchfloor.store import SqlRepository, migrate, migrations, open_engine, sqlite_url
from watchfloor.store._rows import alarm_values
from watchfloor.store.tables import alarms, metadata

from .conftest import FakeClock

#: Every table of the schema, plus Alembic's own; ``test_migration_matches_the_tables``
#: checks their columns and indexes.
TABLES = set(metadata.tables) | {"alembic_version"}

#: The newest revision: the one no other revision names as its predecessor.
HEAD = "0009"


async def test_migrate_creates_the_tables(engine: AsyncEngine) -> None:
    async with engine.connect() as connection:
        names = await connection.run_sync(lambda sync: set(inspect(sync).get_table_names()))
        version = (
            await connection.execute(text("SELECT version_num FROM alembic_version"))
        ).scalar()
    assert names == TABLES
    assert version == HEAD


async def test_migrate_twice_is_a_noop_and_keeps_data(
    engine: AsyncEngine, clock: FakeClock
) -> None:
    repository = SqlRepository(engine, clock)
    await repository.add_account(account="1234", site="HQ", key=None)

    await migrate(engine)

    assert await repository.find_account("1234") is not None
    async with engine.connect() as connection:
        versions = (await connection.execute(text("SELECT version_num FROM alembic_version"))).all()
    assert [tuple(row) for row in versions] == [(HEAD,)]


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


def downgrade_to(connection: Connection, revision: str) -> None:
    config = Config()
    config.set_main_option("script_location", str(Path(migrations.__file__).parent))
    config.set_main_option("path_separator", "os")
    config.attributes["connection"] = connection
    command.downgrade(config, revision)


def device_columns(connection: Connection) -> set[str]:
    return {column["name"] for column in inspect(connection).get_columns("devices")}


async def test_supervision_columns_migrate_down_and_up_keeping_the_devices(
    engine: AsyncEngine, clock: FakeClock
) -> None:
    repository = SqlRepository(engine, clock)
    await repository.add_account(account="1234", site="HQ", key=None)
    await repository.update_account(
        "1234", AccountUpdate(supervision_interval=timedelta(minutes=1))
    )
    async with engine.begin() as connection:
        # A signal refers to the device, as in a store that has seen traffic.
        await connection.execute(
            text(
                "INSERT INTO signals (device_id, device, source, received_at, code_system, code,"
                " restore, raw, ext, type_code) SELECT id, '1234', 'dc09', created_at,"
                " 'contact_id', '130', false, 'raw', '[]', 130 FROM devices"
            )
        )

    async with engine.begin() as connection:
        await connection.run_sync(downgrade_to, "0001")
        downgraded = await connection.run_sync(device_columns)
    await migrate(engine)

    assert "link_lost_at" not in downgraded
    assert "supervision_interval_seconds" not in downgraded
    device = await repository.find_account("1234")
    assert device is not None
    assert (device.site, device.supervision_interval) == ("HQ", None)


def an_alarm(at: datetime, state: AlarmState = AlarmState.NEW) -> Alarm:
    return Alarm(
        id=0,
        origin=Origin.EQUIPMENT,
        type_code=130,
        type_name="Burglary",
        category="intrusion",
        priority=2,
        state=state,
        site=None,
        device="1234",
        zone=None,
        signal_count=1,
        first_at=at,
        last_at=at,
    )


@pytest.mark.parametrize("state", sorted(OPEN_STATES))
async def test_only_one_alarm_per_key_can_be_open(
    engine: AsyncEngine, clock: FakeClock, state: AlarmState
) -> None:
    values = alarm_values(an_alarm(clock.now(), state), key_device="1234")
    async with engine.begin() as connection:
        await connection.execute(alarms.insert().values(values))
        for closed in set(AlarmState) - OPEN_STATES:
            await connection.execute(alarms.insert().values({**values, "state": closed.value}))

    for other in sorted(OPEN_STATES):
        with pytest.raises(IntegrityError):
            async with engine.begin() as connection:
                await connection.execute(alarms.insert().values({**values, "state": other.value}))


def alarm_columns(connection: Connection) -> set[str]:
    return {column["name"] for column in inspect(connection).get_columns("alarms")}


async def test_alarm_handling_migrates_down_and_up_keeping_the_alarms(
    engine: AsyncEngine, clock: FakeClock
) -> None:
    repository = SqlRepository(engine, clock)
    await repository.add_account(account="1234", site="HQ", key=None)
    await repository.set_on_test(site="HQ", until=clock.now())
    held = replace(
        an_alarm(clock.now(), AlarmState.HELD),
        held_from=AlarmState.DISPATCHED,
        claimed_by="alice",
        sop_done=frozenset({1}),
    )
    async with engine.begin() as connection:
        await connection.execute(alarms.insert().values(alarm_values(held, key_device="1234")))

    async with engine.begin() as connection:
        await connection.run_sync(downgrade_to, "0002")
        downgraded = await connection.run_sync(alarm_columns)
        state = (await connection.execute(text("SELECT state FROM alarms"))).scalar_one()
        # 0002's index: a held alarm came back as dispatched and still holds its key.
        with pytest.raises(IntegrityError):
            async with connection.begin_nested():
                await connection.execute(
                    text(
                        "INSERT INTO alarms (origin, type_code, type_name, category, priority,"
                        " state, device, key_device, signal_count, first_at, last_at, version)"
                        " SELECT origin, type_code, type_name, category, priority, 'new',"
                        " device, key_device, 1, first_at, last_at, 1 FROM alarms"
                    )
                )
    await migrate(engine)

    assert state == AlarmState.DISPATCHED.value
    assert {"held_from", "sop_done", "ack_deadline", "escalation_count"}.isdisjoint(downgraded)
    (alarm,) = await repository.list_alarms(state=None, limit=10, after=None)
    assert (alarm.state, alarm.held_from, alarm.claimed_by) == (AlarmState.DISPATCHED, None, None)
    assert (alarm.sop_done, alarm.escalation_count) == (frozenset(), 0)
    device = await repository.find_account("1234")
    assert device is not None
    assert device.on_test_until is None


def signal_indexes(connection: Connection) -> set[str | None]:
    return {index["name"] for index in inspect(connection).get_indexes("signals")}


async def test_flood_control_migrates_down_and_up_keeping_the_alarms(
    engine: AsyncEngine, clock: FakeClock
) -> None:
    repository = SqlRepository(engine, clock)
    flooded = replace(an_alarm(clock.now()), flooded=True, signal_count=30)
    async with engine.begin() as connection:
        await connection.execute(alarms.insert().values(alarm_values(flooded, key_device="1234")))

    async with engine.begin() as connection:
        await connection.run_sync(downgrade_to, "0003")
        downgraded = await connection.run_sync(alarm_columns)
        indexes = await connection.run_sync(signal_indexes)
    await migrate(engine)

    assert "flooded" not in downgraded
    assert "ix_signals_device_received_at" not in indexes
    (alarm,) = await repository.list_alarms(state=None, limit=10, after=None)
    # The marker is lost on the way down; the alarm and its count stay.
    assert (alarm.flooded, alarm.signal_count) == (False, 30)


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

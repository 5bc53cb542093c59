"""The SQL store's contract: accounts, health, and reading alarms and signals."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from sqlalchemy import text, update
from sqlalchemy.ext.asyncio import AsyncEngine

from support.clock import FakeClock
from support.factories import camera_signal, dc09_signal
from watchfloor.core.alarms import AlarmState, TimelineKind
from watchfloor.core.devices import DeviceKind
from watchfloor.core.errors import ConflictError, NotFoundError, StoreUnavailableError
from watchfloor.core.ports import AccountStore, AlarmStore, StoreHealth
from watchfloor.store import (
    GroupCommitWriter,
    SqlRepository,
    migrate,
    open_engine,
    sqlite_url,
    write_transaction,
)
from watchfloor.store.tables import alarms

KEY = bytes(range(16))


def test_the_repository_implements_the_ports(repository: SqlRepository) -> None:
    # Checked by mypy against each port.
    ports: tuple[AlarmStore, AccountStore, StoreHealth] = (repository, repository, repository)
    assert all(port is repository for port in ports)


async def test_add_account_registers_a_dc09_device_with_its_site(
    repository: SqlRepository, clock: FakeClock
) -> None:
    device = await repository.add_account(account="1234", site="HQ", key=KEY)

    assert device.kind is DeviceKind.DC09
    assert (device.account, device.name, device.site) == ("1234", "1234", "HQ")
    assert device.has_key
    assert device.created_at == clock.now()
    assert await repository.find_account("1234") == device
    assert await repository.account_key("1234") == KEY


async def test_accounts_share_a_site_by_name(repository: SqlRepository) -> None:
    first = await repository.add_account(account="1", site="HQ", key=None, name="front door")
    second = await repository.add_account(account="2", site="HQ", key=None)

    assert (first.name, first.site, first.has_key) == ("front door", "HQ", False)
    assert second.site == "HQ"
    assert await repository.account_key("2") is None


async def test_add_account_twice_is_a_conflict(repository: SqlRepository) -> None:
    await repository.add_account(account="1234", site=None, key=None)

    with pytest.raises(ConflictError):
        await repository.add_account(account="1234", site="HQ", key=KEY)


async def test_unknown_account_is_none(repository: SqlRepository) -> None:
    assert await repository.find_account("9999") is None
    assert await repository.account_key("9999") is None


async def test_check_writable_passes_on_a_healthy_store(repository: SqlRepository) -> None:
    await repository.check_writable()
    await repository.check_writable()


async def test_check_writable_fails_when_the_write_fails(
    repository: SqlRepository, engine: AsyncEngine
) -> None:
    async with engine.begin() as connection:
        await connection.execute(text("DROP TABLE store_health"))

    with pytest.raises(StoreUnavailableError):
        await repository.check_writable()


async def test_check_writable_fails_while_another_process_holds_sqlite_locked(
    tmp_path: Path, clock: FakeClock
) -> None:
    holder = open_engine(sqlite_url(tmp_path))
    impatient = open_engine(sqlite_url(tmp_path), busy_timeout_ms=50)
    try:
        await migrate(holder)
        async with write_transaction(holder):
            with pytest.raises(StoreUnavailableError):
                await SqlRepository(impatient, clock).check_writable()
        await SqlRepository(impatient, clock).check_writable()
    finally:
        await holder.dispose()
        await impatient.dispose()


async def test_list_alarms_newest_first_with_limit_after_and_state(
    repository: SqlRepository, writer: GroupCommitWriter, engine: AsyncEngine, clock: FakeClock
) -> None:
    await repository.add_account(account="1234", site="HQ", key=None)
    ids = []
    for zone in ("1", "2", "3", "4"):
        (record,) = await writer.submit([dc09_signal(at=clock.now(), zone=zone, seq=zone)])
        assert record is not None
        assert record.alarm_id is not None
        ids.append(record.alarm_id)
    async with engine.begin() as connection:
        await connection.execute(
            update(alarms).where(alarms.c.id == ids[1]).values(state=AlarmState.RESOLVED.value)
        )

    everything = await repository.list_alarms(state=None, limit=10, after=None)
    first_page = await repository.list_alarms(state=None, limit=2, after=None)
    second_page = await repository.list_alarms(state=None, limit=2, after=first_page[-1].id)
    new = await repository.list_alarms(state=AlarmState.NEW, limit=10, after=None)
    resolved = await repository.list_alarms(state=AlarmState.RESOLVED, limit=10, after=None)

    assert [a.id for a in everything] == ids[::-1]
    assert [a.id for a in first_page + second_page] == ids[::-1]
    assert [a.id for a in new] == [ids[3], ids[2], ids[0]]
    assert [a.id for a in resolved] == [ids[1]]


async def test_get_alarm_returns_signals_and_timeline_oldest_first(
    repository: SqlRepository, writer: GroupCommitWriter, clock: FakeClock
) -> None:
    (first,) = await writer.submit([dc09_signal(at=clock.now(), seq="0001")])
    clock.advance(10)
    (second,) = await writer.submit([dc09_signal(at=clock.now(), seq="0002")])
    assert first is not None
    assert second is not None
    assert first.alarm_id is not None

    detail = await repository.get_alarm(first.alarm_id)

    assert detail.alarm.signal_count == 2
    assert [s.id for s in detail.signals] == [first.id, second.id]
    assert detail.signals == (first, second)
    assert [(e.kind, e.signal_id) for e in detail.timeline] == [
        (TimelineKind.CREATED, first.id),
        (TimelineKind.REPEATED, second.id),
    ]


async def test_get_alarm_of_a_missing_id_is_not_found(repository: SqlRepository) -> None:
    with pytest.raises(NotFoundError):
        await repository.get_alarm(424242)


async def test_list_signals_by_device_and_alarm(
    repository: SqlRepository, writer: GroupCommitWriter, clock: FakeClock
) -> None:
    await repository.add_account(account="1", site="HQ", key=None)
    records = await writer.submit(
        [
            dc09_signal(at=clock.now(), account="1", seq="0001"),
            dc09_signal(at=clock.now(), account="1", seq="0002"),
            dc09_signal(at=clock.now(), account="2", seq="0001"),
            dc09_signal(at=clock.now(), account="1", seq="0003", code="401"),
            camera_signal(at=clock.now()),
        ]
    )
    ids = [r.id for r in records if r is not None]
    alarm_id = records[0].alarm_id if records[0] is not None else None

    by_device = await repository.list_signals(device="1", alarm_id=None, limit=10, after=None)
    page = await repository.list_signals(device="1", alarm_id=None, limit=2, after=ids[3])
    by_alarm = await repository.list_signals(device=None, alarm_id=alarm_id, limit=10, after=None)
    every = await repository.list_signals(device=None, alarm_id=None, limit=10, after=None)

    assert [r.id for r in by_device] == [ids[3], ids[1], ids[0]]
    assert [r.id for r in page] == [ids[1], ids[0]]
    assert [r.id for r in by_alarm] == [ids[1], ids[0]]
    assert [r.id for r in every] == ids[::-1]


async def test_timestamps_come_back_as_aware_utc(
    repository: SqlRepository, writer: GroupCommitWriter
) -> None:
    local = datetime(2025, 3, 1, 14, 30, 15, 123456, tzinfo=timezone(timedelta(hours=2)))
    (record,) = await writer.submit([dc09_signal(at=local)])
    assert record is not None
    assert record.alarm_id is not None

    detail = await repository.get_alarm(record.alarm_id)
    (signal,) = await repository.list_signals(device="1234", alarm_id=None, limit=1, after=None)

    stamps = [
        detail.alarm.first_at,
        detail.alarm.last_at,
        detail.timeline[0].at,
        detail.signals[0].signal.received_at,
        signal.signal.received_at,
        record.signal.received_at,
    ]
    assert all(stamp.tzinfo is UTC for stamp in stamps)
    assert set(stamps) == {datetime(2025, 3, 1, 12, 30, 15, 123456, tzinfo=UTC)}

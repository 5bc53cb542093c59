"""Supervision in the store: overdue devices, link loss and its restore through the intake."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import event, update
from sqlalchemy.ext.asyncio import AsyncEngine

from support.clock import FakeClock
from support.factories import BURGLARY, LINK_LOST_TYPE, camera_signal, dc09_signal, link_test
from watchfloor.core.alarm_types import Taxonomy
from watchfloor.core.alarms import AlarmState, TimelineKind
from watchfloor.core.devices import AccountUpdate, Device, DeviceKind
from watchfloor.core.ports import AlarmEvent, AlarmEventKind
from watchfloor.core.signals import SignalRecord, SignalSource
from watchfloor.core.supervision import DEFAULT_GRACE, SupervisedDevice, link_lost_signal
from watchfloor.store import GroupCommitWriter, SqlRepository, migrate, open_engine, open_writer
from watchfloor.store.tables import devices

INTERVAL = timedelta(minutes=5)
GRACE = timedelta(seconds=30)
DEADLINE = (INTERVAL + GRACE).total_seconds()


async def supervise(repository: SqlRepository, account: str = "1234") -> Device:
    await repository.add_account(account=account, site="HQ", key=None, name=f"panel {account}")
    return await repository.update_account(
        account, AccountUpdate(supervision_interval=INTERVAL, supervision_grace=GRACE)
    )


async def raise_link_losses(
    repository: SqlRepository, writer: GroupCommitWriter, now: datetime
) -> list[SupervisedDevice]:
    """Do what the supervision watch does once: one link_lost signal per overdue device."""
    overdue = await repository.overdue_devices(now)
    if overdue:
        await writer.submit([link_lost_signal(device, at=now) for device in overdue])
    return overdue


async def the_device(repository: SqlRepository, account: str = "1234") -> Device:
    device = await repository.find_account(account)
    assert device is not None
    return device


async def supervision_signals(repository: SqlRepository, key: str = "1234") -> list[SignalRecord]:
    stored = await repository.list_signals(device=key, alarm_id=None, limit=50, after=None)
    return [r for r in reversed(stored) if r.signal.source is SignalSource.SUPERVISION]


# -- overdue_devices -----------------------------------------------------------------------


async def test_a_device_never_heard_counts_from_when_supervision_began(
    repository: SqlRepository, clock: FakeClock
) -> None:
    await repository.add_account(account="1234", site="HQ", key=None)
    clock.advance(3600)  # registered an hour before supervision began
    await repository.update_account("1234", AccountUpdate(supervision_interval=INTERVAL))
    began = clock.now()

    assert await repository.overdue_devices(began + INTERVAL + DEFAULT_GRACE) == []
    (overdue,) = await repository.overdue_devices(began + INTERVAL + DEFAULT_GRACE * 2)
    assert (overdue.since, overdue.last_seen_at) == (began, None)


async def test_overdue_only_after_interval_and_grace(
    repository: SqlRepository, clock: FakeClock
) -> None:
    await supervise(repository)
    since = clock.now()
    deadline = since + INTERVAL + GRACE

    assert await repository.overdue_devices(deadline - timedelta(seconds=1)) == []
    assert await repository.overdue_devices(deadline) == []
    (overdue,) = await repository.overdue_devices(deadline + timedelta(microseconds=1))

    assert overdue == SupervisedDevice(
        key="1234",
        account="1234",
        interval=INTERVAL,
        grace=GRACE,
        since=since,
        last_seen_at=None,
        link_lost_at=None,
    )


async def test_without_a_grace_the_default_applies(
    repository: SqlRepository, clock: FakeClock
) -> None:
    await repository.add_account(account="1234", site=None, key=None)
    await repository.update_account("1234", AccountUpdate(supervision_interval=INTERVAL))
    deadline = clock.now() + INTERVAL + DEFAULT_GRACE

    assert await repository.overdue_devices(deadline) == []
    (overdue,) = await repository.overdue_devices(deadline + timedelta(seconds=1))
    assert overdue.grace == DEFAULT_GRACE


async def test_a_device_heard_is_overdue_counting_from_when_it_was_last_heard(
    repository: SqlRepository, writer: GroupCommitWriter, clock: FakeClock
) -> None:
    await supervise(repository)
    clock.advance(200)
    await writer.submit([link_test(at=clock.now())])
    heard = clock.now()

    assert await repository.overdue_devices(heard + INTERVAL + GRACE) == []
    (overdue,) = await repository.overdue_devices(heard + INTERVAL + GRACE + timedelta(seconds=1))
    assert overdue.last_seen_at == heard


async def test_a_new_interval_restarts_the_count_from_the_change(
    repository: SqlRepository, writer: GroupCommitWriter, clock: FakeClock
) -> None:
    await supervise(repository)
    await writer.submit([dc09_signal(at=clock.now())])
    clock.advance(DEADLINE - 10)
    await repository.update_account("1234", AccountUpdate(supervision_interval=INTERVAL * 2))
    changed = clock.now()

    assert await repository.overdue_devices(changed + INTERVAL * 2 + GRACE) == []
    assert len(await repository.overdue_devices(changed + INTERVAL * 2 + GRACE * 2)) == 1


async def test_disabled_unsupervised_and_lost_devices_are_not_overdue(
    repository: SqlRepository, writer: GroupCommitWriter, clock: FakeClock
) -> None:
    for account in ("1", "2", "3", "4"):
        await supervise(repository, account)
    await repository.add_account(account="5", site=None, key=None)
    await repository.update_account("2", AccountUpdate(enabled=False))
    await repository.update_account("3", AccountUpdate(clear_supervision=True))
    clock.advance(DEADLINE + 1)
    lost = await raise_link_losses(repository, writer, clock.now())
    assert sorted(device.key for device in lost) == ["1", "4"]

    clock.advance(3600)

    assert await repository.overdue_devices(clock.now()) == []


async def test_overdue_devices_come_oldest_deadline_first(
    repository: SqlRepository, writer: GroupCommitWriter, clock: FakeClock
) -> None:
    for account in ("1", "2", "3"):
        await supervise(repository, account)
    for account in ("3", "1"):
        clock.advance(10)
        await writer.submit([link_test(at=clock.now(), account=account)])

    overdue = await repository.overdue_devices(clock.now() + timedelta(days=1))

    assert [device.key for device in overdue] == ["2", "3", "1"]


# -- link loss and restore through the intake ----------------------------------------------


async def test_a_link_lost_signal_marks_the_device_lost_and_opens_a_link_lost_alarm(
    repository: SqlRepository,
    writer: GroupCommitWriter,
    clock: FakeClock,
    published: list[AlarmEvent],
) -> None:
    await supervise(repository)
    await writer.submit([link_test(at=clock.now())])
    heard = clock.now()
    clock.advance(DEADLINE + 1)

    (overdue,) = await raise_link_losses(repository, writer, clock.now())

    device = await the_device(repository)
    assert (device.link_lost_at, device.last_seen_at) == (clock.now(), heard)
    (record,) = await supervision_signals(repository)
    assert (record.type_code, record.signal.restore) == (LINK_LOST_TYPE, False)
    assert record.alarm_id is not None
    alarm = (await repository.get_alarm(record.alarm_id)).alarm
    assert (alarm.type_code, alarm.type_name, alarm.state) == (
        LINK_LOST_TYPE,
        "Transmitter link lost",
        AlarmState.NEW,
    )
    assert (alarm.device, alarm.site, alarm.first_at) == ("panel 1234", "HQ", clock.now())
    assert published == [AlarmEvent(kind=AlarmEventKind.CREATED, alarm=alarm)]
    assert overdue.last_seen_at == heard


async def test_the_next_signal_restores_the_link_before_it_is_processed(
    repository: SqlRepository,
    writer: GroupCommitWriter,
    clock: FakeClock,
    published: list[AlarmEvent],
) -> None:
    await supervise(repository)
    clock.advance(DEADLINE + 1)
    await raise_link_losses(repository, writer, clock.now())
    clock.advance(120)

    records = await writer.submit([dc09_signal(at=clock.now())])

    (own,) = records  # the submitter gets its own record only
    assert own is not None
    assert (own.type_code, own.signal.source) == (BURGLARY, SignalSource.DC09)
    lost, restore = await supervision_signals(repository)
    assert (restore.signal.restore, restore.signal.received_at) == (True, clock.now())
    assert restore.alarm_id == lost.alarm_id
    assert lost.id < restore.id < own.id
    assert lost.alarm_id is not None
    detail = await repository.get_alarm(lost.alarm_id)
    assert [(e.kind, e.signal_id) for e in detail.timeline] == [
        (TimelineKind.CREATED, lost.id),
        (TimelineKind.RESTORED, restore.id),
    ]
    assert (detail.alarm.restored_at, detail.alarm.signal_count) == (clock.now(), 1)
    device = await the_device(repository)
    assert (device.link_lost_at, device.last_seen_at) == (None, clock.now())
    assert [(e.kind, e.alarm.type_code) for e in published] == [
        (AlarmEventKind.CREATED, LINK_LOST_TYPE),
        (AlarmEventKind.UPDATED, LINK_LOST_TYPE),
        (AlarmEventKind.CREATED, BURGLARY),
    ]
    assert published[1].alarm == detail.alarm


async def test_the_next_link_test_restores_the_link(
    repository: SqlRepository, writer: GroupCommitWriter, clock: FakeClock
) -> None:
    await supervise(repository)
    clock.advance(DEADLINE + 1)
    await raise_link_losses(repository, writer, clock.now())
    clock.advance(60)

    assert await writer.submit([link_test(at=clock.now(), skew=2.0)]) == (None,)

    lost, restore = await supervision_signals(repository)
    assert restore.signal.restore
    assert lost.alarm_id is not None
    detail = await repository.get_alarm(lost.alarm_id)
    assert [e.kind for e in detail.timeline] == [TimelineKind.CREATED, TimelineKind.RESTORED]
    device = await the_device(repository)
    assert (device.link_lost_at, device.last_seen_at, device.clock_skew_seconds) == (
        None,
        clock.now(),
        2.0,
    )


async def test_several_messages_of_a_lost_device_in_one_batch_restore_it_once(
    repository: SqlRepository, writer: GroupCommitWriter, clock: FakeClock
) -> None:
    await supervise(repository)
    await supervise(repository, "5678")
    clock.advance(DEADLINE + 1)
    await raise_link_losses(repository, writer, clock.now())
    clock.advance(60)
    batches = writer.stats.batches

    # A unit of three signals, another device's unit and a link test, queued together.
    own, other, tested = await asyncio.gather(
        writer.submit([dc09_signal(at=clock.now(), seq=f"000{n}") for n in (1, 2, 3)]),
        writer.submit([dc09_signal(at=clock.now(), account="5678")]),
        writer.submit([link_test(at=clock.now())]),
    )

    assert writer.stats.batches == batches + 1
    assert len(own) == 3
    assert len(other) == 1
    assert tested == (None,)
    for account in ("1234", "5678"):
        lost, restore = await supervision_signals(repository, account)
        assert restore.signal.restore
        assert lost.alarm_id is not None
        timeline = (await repository.get_alarm(lost.alarm_id)).timeline
        assert [e.kind for e in timeline] == [TimelineKind.CREATED, TimelineKind.RESTORED]
        assert (await the_device(repository, account)).link_lost_at is None
    first = own[0]
    assert first is not None
    (_, restore) = await supervision_signals(repository)
    assert restore.id < first.id


async def test_a_link_loss_and_the_devices_next_message_in_one_batch(
    repository: SqlRepository, writer: GroupCommitWriter, clock: FakeClock
) -> None:
    await supervise(repository)
    clock.advance(DEADLINE + 1)
    (overdue,) = await repository.overdue_devices(clock.now())
    clock.advance(1)

    await asyncio.gather(
        writer.submit([link_lost_signal(overdue, at=clock.now() - timedelta(seconds=1))]),
        writer.submit([dc09_signal(at=clock.now())]),
    )

    lost, restore = await supervision_signals(repository)
    assert (lost.signal.restore, restore.signal.restore) == (False, True)
    assert lost.alarm_id is not None
    timeline = (await repository.get_alarm(lost.alarm_id)).timeline
    assert [e.kind for e in timeline] == [TimelineKind.CREATED, TimelineKind.RESTORED]
    assert (await the_device(repository)).link_lost_at is None


async def test_a_link_loss_raised_after_the_device_was_heard_again_is_restored_at_once(
    repository: SqlRepository, writer: GroupCommitWriter, clock: FakeClock
) -> None:
    await supervise(repository)
    clock.advance(DEADLINE + 1)
    # The watch reads the store, then the device's message commits before the watch's.
    (overdue,) = await repository.overdue_devices(clock.now())
    await writer.submit([dc09_signal(at=clock.now())])

    await writer.submit([link_lost_signal(overdue, at=clock.now())])

    assert (await the_device(repository)).link_lost_at is None
    lost, restore = await supervision_signals(repository)
    assert restore.signal.restore
    assert lost.alarm_id is not None
    alarm = (await repository.get_alarm(lost.alarm_id)).alarm
    assert alarm.restored_at == clock.now()
    assert await repository.overdue_devices(clock.now()) == []


async def test_a_second_link_lost_signal_repeats_the_alarm_and_keeps_the_first_loss_time(
    repository: SqlRepository, writer: GroupCommitWriter, clock: FakeClock
) -> None:
    await supervise(repository)
    clock.advance(DEADLINE + 1)
    (overdue,) = await raise_link_losses(repository, writer, clock.now())
    first_loss = clock.now()
    clock.advance(5)

    # A second watch (another node) that read the store before the first one committed.
    await writer.submit([link_lost_signal(overdue, at=clock.now())])

    assert (await the_device(repository)).link_lost_at == first_loss
    first, second = await supervision_signals(repository)
    assert first.alarm_id == second.alarm_id
    assert first.alarm_id is not None
    assert (await repository.get_alarm(first.alarm_id)).alarm.signal_count == 2


async def test_supervision_signals_do_not_count_as_hearing_the_device(
    repository: SqlRepository, writer: GroupCommitWriter, clock: FakeClock
) -> None:
    await supervise(repository)
    await writer.submit([dc09_signal(at=clock.now())])
    heard = clock.now()
    clock.advance(DEADLINE + 1)

    await raise_link_losses(repository, writer, clock.now())

    assert (await the_device(repository)).last_seen_at == heard


async def test_a_device_without_an_account_is_supervised_by_name(
    repository: SqlRepository,
    writer: GroupCommitWriter,
    engine: AsyncEngine,
    clock: FakeClock,
) -> None:
    async with engine.begin() as connection:
        await connection.execute(
            devices.insert().values(
                kind=DeviceKind.HIKVISION.value,
                name="cam-1",
                created_at=clock.now(),
                supervision_interval_seconds=INTERVAL.total_seconds(),
                supervision_since=clock.now(),
            )
        )
    clock.advance(DEADLINE + 1)

    (overdue,) = await raise_link_losses(repository, writer, clock.now())
    clock.advance(10)
    (record,) = await writer.submit([camera_signal(at=clock.now())])

    assert (overdue.key, overdue.account) == ("cam-1", None)
    assert record is not None
    lost, restore = await supervision_signals(repository, "cam-1")
    assert restore.alarm_id == lost.alarm_id
    assert lost.alarm_id is not None
    timeline = (await repository.get_alarm(lost.alarm_id)).timeline
    assert [e.kind for e in timeline] == [TimelineKind.CREATED, TimelineKind.RESTORED]
    assert await repository.overdue_devices(clock.now()) == []


async def test_a_lost_link_survives_a_restart(
    store_url: str,
    engine: AsyncEngine,
    taxonomy: Taxonomy,
    clock: FakeClock,
    published: list[AlarmEvent],
) -> None:
    before = SqlRepository(engine, clock)
    await supervise(before)
    async with open_writer(engine, taxonomy, clock, published.append) as writer:
        clock.advance(DEADLINE + 1)
        await raise_link_losses(before, writer, clock.now())
    await engine.dispose()
    clock.advance(3600)

    restarted = open_engine(store_url)
    try:
        await migrate(restarted)
        repository = SqlRepository(restarted, clock)
        assert await repository.overdue_devices(clock.now()) == []
        async with open_writer(restarted, taxonomy, clock, published.append) as writer:
            await writer.submit([dc09_signal(at=clock.now())])
            heard = clock.now()
            assert await repository.overdue_devices(heard + INTERVAL + GRACE) == []
            clock.advance(DEADLINE + 1)
            lost_again = await raise_link_losses(repository, writer, clock.now())

        assert [device.last_seen_at for device in lost_again] == [heard]
        first, restore, second = await supervision_signals(repository)
        assert [r.signal.restore for r in (first, restore, second)] == [False, True, False]
        assert first.alarm_id is not None
        assert second.alarm_id is not None
        # The first alarm is restored but still open for the operator: the new loss joins it.
        assert second.alarm_id == first.alarm_id
        timeline = (await repository.get_alarm(first.alarm_id)).timeline
        assert [e.kind for e in timeline] == [
            TimelineKind.CREATED,
            TimelineKind.RESTORED,
            TimelineKind.REPEATED,
        ]
        assert (await the_device(repository)).link_lost_at == clock.now()
    finally:
        await restarted.dispose()


async def test_stopping_supervision_of_a_lost_device_forgets_the_loss(
    repository: SqlRepository, writer: GroupCommitWriter, clock: FakeClock
) -> None:
    await supervise(repository)
    clock.advance(DEADLINE + 1)
    await raise_link_losses(repository, writer, clock.now())

    await repository.update_account("1234", AccountUpdate(clear_supervision=True))
    await writer.submit([dc09_signal(at=clock.now())])

    assert (await the_device(repository)).link_lost_at is None
    assert len(await supervision_signals(repository)) == 1


# -- statements per batch ------------------------------------------------------------------


@contextmanager
def counting_statements(engine: AsyncEngine) -> Iterator[list[str]]:
    statements: list[str] = []

    def count(*args: Any) -> None:
        statements.append(args[2])

    event.listen(engine.sync_engine, "before_cursor_execute", count)
    try:
        yield statements
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", count)


async def test_statements_per_batch_do_not_grow_with_its_size(
    repository: SqlRepository, writer: GroupCommitWriter, engine: AsyncEngine, clock: FakeClock
) -> None:
    counts = []
    for size in (3, 40):
        accounts = [f"{size}-{n}" for n in range(size)]
        for account in accounts:
            await supervise(repository, account)
        clock.advance(DEADLINE + 1)
        with counting_statements(engine) as losses:
            assert len(await raise_link_losses(repository, writer, clock.now())) == size
        clock.advance(10)
        heard = [
            item
            for account in accounts
            for item in (
                dc09_signal(at=clock.now(), account=account),
                dc09_signal(at=clock.now(), account=account, seq="0002", zone="002"),
                link_test(at=clock.now(), account=account),
            )
        ]
        with counting_statements(engine) as restores:
            await writer.submit(heard)
        counts.append((len(losses), len(restores)))
        async with engine.begin() as connection:  # keep the next round's devices apart
            await connection.execute(update(devices).values(supervision_interval_seconds=None))

    assert counts[0] == counts[1]
    restored = await repository.list_alarms(state=None, limit=500, after=None)
    assert sum(alarm.restored_at is not None for alarm in restored) == 43

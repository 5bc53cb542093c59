"""The group-commit writer (SignalSink): correlation, retransmissions, batching, failures."""

from __future__ import annotations

import asyncio
import logging
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from datetime import datetime

import pytest
from sqlalchemy import func, select, text, update
from sqlalchemy.ext.asyncio import AsyncEngine

from support.clock import FakeClock
from support.factories import BURGLARY, OPENING, camera_signal, dc09_signal, link_test
from watchfloor.core.alarm_types import (
    UNCLASSIFIED_SIGNAL,
    UNREGISTERED_TRANSMITTER,
    CodeSystem,
    SourceCode,
    Taxonomy,
)
from watchfloor.core.alarms import AlarmState, TimelineKind
from watchfloor.core.errors import ConflictError, StoreUnavailableError
from watchfloor.core.ports import AlarmEvent, AlarmEventKind, SignalSink
from watchfloor.core.retransmission import RETRANSMISSION_WINDOW
from watchfloor.core.signals import Signal, SignalRecord, SignalSource
from watchfloor.store import GroupCommitWriter, SqlRepository, open_engine, open_writer
from watchfloor.store.tables import alarms, signals


async def submit_one(writer: GroupCommitWriter, signal: Signal) -> SignalRecord:
    (record,) = await writer.submit([signal])
    assert record is not None
    return record


async def submit_each(writer: GroupCommitWriter, *unit: Signal) -> list[SignalRecord]:
    """Submit the signals as one unit; return their records."""
    records = [record for record in await writer.submit(unit) if record is not None]
    assert len(records) == len(unit)
    return records


@pytest.fixture
async def registered(repository: SqlRepository) -> None:
    await repository.add_account(account="1234", site="HQ", key=None, name="HQ panel")


@pytest.mark.usefixtures("registered")
async def test_a_signal_opens_an_alarm(
    writer: GroupCommitWriter,
    repository: SqlRepository,
    clock: FakeClock,
    published: list[AlarmEvent],
) -> None:
    record = await submit_one(writer, dc09_signal(at=clock.now()))

    assert record.type_code == BURGLARY
    assert record.alarm_id is not None
    detail = await repository.get_alarm(record.alarm_id)
    alarm = detail.alarm
    assert (alarm.type_code, alarm.type_name, alarm.priority) == (BURGLARY, "Burglary", 2)
    assert (alarm.site, alarm.device, alarm.zone) == ("HQ", "HQ panel", "001")
    assert (alarm.state, alarm.signal_count, alarm.first_at) == (AlarmState.NEW, 1, clock.now())
    assert [(e.kind, e.signal_id) for e in detail.timeline] == [(TimelineKind.CREATED, record.id)]
    assert published == [AlarmEvent(kind=AlarmEventKind.CREATED, alarm=alarm)]


@pytest.mark.usefixtures("registered")
async def test_a_repeat_raises_the_signal_count(
    writer: GroupCommitWriter,
    repository: SqlRepository,
    clock: FakeClock,
    published: list[AlarmEvent],
) -> None:
    first = await submit_one(writer, dc09_signal(at=clock.now(), seq="0001"))
    clock.advance(30)
    second = await submit_one(writer, dc09_signal(at=clock.now(), seq="0002"))

    assert second.alarm_id == first.alarm_id
    assert first.alarm_id is not None
    alarm = (await repository.get_alarm(first.alarm_id)).alarm
    assert (alarm.signal_count, alarm.last_at, alarm.version) == (2, clock.now(), 2)
    assert [e.kind for e in published] == [AlarmEventKind.CREATED, AlarmEventKind.UPDATED]
    assert published[-1].alarm == alarm


@pytest.mark.usefixtures("registered")
async def test_a_restore_goes_on_the_timeline(
    writer: GroupCommitWriter, repository: SqlRepository, clock: FakeClock
) -> None:
    opened = await submit_one(writer, dc09_signal(at=clock.now(), seq="0001"))
    clock.advance(60)
    restored = await submit_one(writer, dc09_signal(at=clock.now(), seq="0002", restore=True))

    assert restored.alarm_id == opened.alarm_id
    assert opened.alarm_id is not None
    detail = await repository.get_alarm(opened.alarm_id)
    assert detail.alarm.restored_at == clock.now()
    assert detail.alarm.signal_count == 1
    assert [(e.kind, e.signal_id) for e in detail.timeline] == [
        (TimelineKind.CREATED, opened.id),
        (TimelineKind.RESTORED, restored.id),
    ]


@pytest.mark.usefixtures("registered")
async def test_a_restore_without_an_open_alarm_is_only_logged(
    writer: GroupCommitWriter, clock: FakeClock, published: list[AlarmEvent]
) -> None:
    record = await submit_one(writer, dc09_signal(at=clock.now(), restore=True))

    assert (record.alarm_id, record.type_code) == (None, BURGLARY)
    assert published == []


@pytest.mark.usefixtures("registered")
async def test_a_log_only_type_stores_the_signal_without_an_alarm(
    writer: GroupCommitWriter,
    repository: SqlRepository,
    clock: FakeClock,
    published: list[AlarmEvent],
) -> None:
    record = await submit_one(writer, dc09_signal(at=clock.now(), code="401"))

    assert (record.alarm_id, record.type_code) == (None, OPENING)
    assert await repository.list_signals(device="1234", alarm_id=None, limit=5, after=None) == [
        record
    ]
    assert await repository.list_alarms(state=None, limit=5, after=None) == []
    assert published == []


@pytest.mark.usefixtures("registered")
async def test_an_unknown_code_raises_an_unclassified_signal_alarm(
    writer: GroupCommitWriter, clock: FakeClock
) -> None:
    record = await submit_one(writer, dc09_signal(at=clock.now(), code="999"))

    assert record.type_code == UNCLASSIFIED_SIGNAL
    assert record.alarm_id is not None


async def test_an_unregistered_account_raises_one_unregistered_transmitter_alarm(
    writer: GroupCommitWriter, repository: SqlRepository, clock: FakeClock
) -> None:
    first = await submit_one(writer, dc09_signal(at=clock.now(), account="7777", zone="001"))
    second = await submit_one(
        writer, dc09_signal(at=clock.now(), account="7777", zone="002", seq="0002")
    )

    assert first.type_code == second.type_code == UNREGISTERED_TRANSMITTER
    assert first.alarm_id == second.alarm_id
    assert first.alarm_id is not None
    alarm = (await repository.get_alarm(first.alarm_id)).alarm
    assert (alarm.site, alarm.device, alarm.zone, alarm.signal_count) == (None, "7777", None, 2)


async def test_a_camera_signal_is_classified_by_its_code(
    writer: GroupCommitWriter, clock: FakeClock
) -> None:
    record = await submit_one(writer, camera_signal(at=clock.now()))

    assert record.type_code == BURGLARY
    assert record.alarm_id is not None


@pytest.mark.usefixtures("registered")
async def test_a_retransmission_within_the_window_is_stored_once(
    writer: GroupCommitWriter,
    repository: SqlRepository,
    clock: FakeClock,
    published: list[AlarmEvent],
) -> None:
    signal = dc09_signal(at=clock.now())
    first = await submit_one(writer, signal)
    clock.advance(RETRANSMISSION_WINDOW.total_seconds() - 1)
    again = await submit_one(writer, dc09_signal(at=clock.now()))

    assert again == first
    assert (
        len(await repository.list_signals(device="1234", alarm_id=None, limit=5, after=None)) == 1
    )
    assert first.alarm_id is not None
    assert (await repository.get_alarm(first.alarm_id)).alarm.signal_count == 1
    assert len(published) == 1


def _two_event_frame(at: datetime) -> list[Signal]:
    """A SIA-DCS frame ``#1234|Nri1/BA05/FA06``: a burglary and a fire under one key."""
    burglary = replace(
        dc09_signal(at=at),
        code=SourceCode(system=CodeSystem.SIA_DCS, code="BA"),
        zone="05",
        raw='"SIA-DCS"0001L0#1234[#1234|Nri1/BA05/FA06]',
        token="SIA-DCS",
    )
    fire = replace(burglary, code=SourceCode(system=CodeSystem.SIA_DCS, code="FA"), zone="06")
    return [burglary, fire]


@pytest.mark.usefixtures("registered")
async def test_every_event_of_a_new_frame_is_stored(
    writer: GroupCommitWriter, repository: SqlRepository, clock: FakeClock
) -> None:
    records = await writer.submit(_two_event_frame(clock.now()))

    stored = await repository.list_signals(device="1234", alarm_id=None, limit=5, after=None)
    assert sorted(r.signal.code.code for r in stored) == ["BA", "FA"]
    assert len({r.id for r in records if r}) == 2
    alarm_ids = {r.alarm_id for r in records if r}
    assert len(alarm_ids) == 2  # a burglary alarm and a fire alarm


@pytest.mark.usefixtures("registered")
async def test_two_identical_events_of_one_frame_are_both_stored(
    writer: GroupCommitWriter, repository: SqlRepository, clock: FakeClock
) -> None:
    records = await writer.submit([dc09_signal(at=clock.now()), dc09_signal(at=clock.now())])

    assert records[0] != records[1]
    stored = await repository.list_signals(device="1234", alarm_id=None, limit=5, after=None)
    assert len(stored) == 2


@pytest.mark.usefixtures("registered")
async def test_a_repeated_frame_stores_none_of_its_events_each_resolving_to_its_twin(
    writer: GroupCommitWriter, repository: SqlRepository, clock: FakeClock
) -> None:
    first = await writer.submit(_two_event_frame(clock.now()))
    clock.advance(10)
    again = await writer.submit(_two_event_frame(clock.now()))

    assert again == first
    stored = await repository.list_signals(device="1234", alarm_id=None, limit=5, after=None)
    assert len(stored) == 2


@pytest.mark.usefixtures("registered")
async def test_a_frame_repeated_in_the_same_batch_resolves_to_its_twins(
    writer: GroupCommitWriter, repository: SqlRepository, clock: FakeClock
) -> None:
    first, again = await asyncio.gather(
        writer.submit(_two_event_frame(clock.now())),
        writer.submit(_two_event_frame(clock.now())),
    )

    assert writer.stats.batches == 1
    assert again == first
    assert first[0] != first[1]
    stored = await repository.list_signals(device="1234", alarm_id=None, limit=5, after=None)
    assert len(stored) == 2


@pytest.mark.usefixtures("registered")
async def test_a_repeat_after_the_window_is_stored_again(
    writer: GroupCommitWriter, repository: SqlRepository, clock: FakeClock
) -> None:
    first = await submit_one(writer, dc09_signal(at=clock.now()))
    clock.advance(RETRANSMISSION_WINDOW.total_seconds() + 1)
    later = await submit_one(writer, dc09_signal(at=clock.now()))

    assert later.id != first.id
    assert later.alarm_id == first.alarm_id
    assert first.alarm_id is not None
    assert (await repository.get_alarm(first.alarm_id)).alarm.signal_count == 2


@pytest.mark.usefixtures("registered")
async def test_a_resolved_alarm_is_not_joined(
    writer: GroupCommitWriter,
    engine: AsyncEngine,
    clock: FakeClock,
    published: list[AlarmEvent],
) -> None:
    first = await submit_one(writer, dc09_signal(at=clock.now(), seq="0001"))
    async with engine.begin() as connection:
        await connection.execute(
            update(alarms).where(alarms.c.id == first.alarm_id).values(state="resolved")
        )
    second = await submit_one(writer, dc09_signal(at=clock.now(), seq="0002"))

    assert second.alarm_id not in (None, first.alarm_id)
    assert [e.kind for e in published] == [AlarmEventKind.CREATED, AlarmEventKind.CREATED]


@pytest.mark.usefixtures("registered")
async def test_an_alarm_changed_several_times_in_a_batch_is_published_once(
    writer: GroupCommitWriter, clock: FakeClock, published: list[AlarmEvent]
) -> None:
    records = await writer.submit([dc09_signal(at=clock.now(), seq=f"000{n}") for n in (1, 2, 3)])

    assert len({r.alarm_id for r in records if r is not None}) == 1
    assert [(e.kind, e.alarm.signal_count) for e in published] == [(AlarmEventKind.CREATED, 3)]


@pytest.mark.usefixtures("registered")
async def test_an_alarm_opened_and_joined_in_one_batch_is_stored_in_its_final_state(
    writer: GroupCommitWriter,
    repository: SqlRepository,
    clock: FakeClock,
    published: list[AlarmEvent],
) -> None:
    opened, repeated, restored = await submit_each(
        writer,
        dc09_signal(at=clock.now(), seq="0001"),
        dc09_signal(at=clock.now(), seq="0002"),
        dc09_signal(at=clock.now(), seq="0003", restore=True),
    )

    assert opened.alarm_id is not None
    assert repeated.alarm_id == restored.alarm_id == opened.alarm_id
    detail = await repository.get_alarm(opened.alarm_id)
    alarm = detail.alarm
    assert (alarm.signal_count, alarm.version, alarm.restored_at) == (2, 3, clock.now())
    assert [(e.kind, e.signal_id) for e in detail.timeline] == [
        (TimelineKind.CREATED, opened.id),
        (TimelineKind.REPEATED, repeated.id),
        (TimelineKind.RESTORED, restored.id),
    ]
    assert [s.id for s in detail.signals] == [opened.id, repeated.id, restored.id]
    assert published == [AlarmEvent(kind=AlarmEventKind.CREATED, alarm=alarm)]


@pytest.mark.usefixtures("registered")
async def test_signals_of_one_batch_join_a_stored_alarm_in_order(
    writer: GroupCommitWriter,
    repository: SqlRepository,
    clock: FakeClock,
    published: list[AlarmEvent],
) -> None:
    first = await submit_one(writer, dc09_signal(at=clock.now(), seq="0001"))
    clock.advance(10)
    second, third, other_zone = await submit_each(
        writer,
        dc09_signal(at=clock.now(), seq="0002"),
        dc09_signal(at=clock.now(), seq="0003"),
        dc09_signal(at=clock.now(), seq="0004", zone="002"),
    )

    assert first.alarm_id is not None
    assert second.alarm_id == third.alarm_id == first.alarm_id
    detail = await repository.get_alarm(first.alarm_id)
    assert (detail.alarm.signal_count, detail.alarm.version) == (3, 3)
    assert [e.kind for e in detail.timeline] == [
        TimelineKind.CREATED,
        TimelineKind.REPEATED,
        TimelineKind.REPEATED,
    ]
    assert [(e.kind, e.alarm.id) for e in published[1:]] == [
        (AlarmEventKind.UPDATED, first.alarm_id),
        (AlarmEventKind.CREATED, other_zone.alarm_id),
    ]
    assert published[1].alarm == detail.alarm


@pytest.mark.usefixtures("registered")
async def test_a_retransmission_in_another_unit_of_the_batch_is_stored_once(
    writer: GroupCommitWriter, repository: SqlRepository, clock: FakeClock
) -> None:
    # Both units are queued before the writer runs, so they share one batch.
    first, again = await asyncio.gather(
        writer.submit([dc09_signal(at=clock.now())]), writer.submit([dc09_signal(at=clock.now())])
    )

    assert first == again
    assert writer.stats.batches == 1
    stored = await repository.list_signals(device="1234", alarm_id=None, limit=5, after=None)
    assert [record.id for record in stored] == [record.id for record in first if record]


@pytest.mark.usefixtures("registered")
async def test_each_source_of_a_batch_finds_its_devices_by_its_own_rule(
    writer: GroupCommitWriter, repository: SqlRepository, clock: FakeClock
) -> None:
    camera = camera_signal(at=clock.now(), device="HQ panel")
    patrol = replace(camera, source=SignalSource.PATROL, zone="2")

    records = await writer.submit([dc09_signal(at=clock.now()), camera, patrol])

    sites = []
    for record in records:
        assert record is not None
        assert record.alarm_id is not None
        sites.append((await repository.get_alarm(record.alarm_id)).alarm.site)
    # DC-09 by account; a camera only among devices of its kind; a patrol by name among all.
    assert sites == ["HQ", None, "HQ"]


async def test_a_link_test_updates_the_registered_device_only(
    writer: GroupCommitWriter, repository: SqlRepository, clock: FakeClock
) -> None:
    await repository.add_account(account="1234", site=None, key=None)

    results = await writer.submit(
        [link_test(at=clock.now(), skew=-12.5), link_test(at=clock.now(), account="0000")]
    )

    assert results == (None, None)
    device = await repository.find_account("1234")
    assert device is not None
    assert (device.last_seen_at, device.clock_skew_seconds) == (clock.now(), -12.5)
    assert await repository.list_signals(device=None, alarm_id=None, limit=5, after=None) == []


@pytest.mark.usefixtures("registered")
async def test_a_signal_marks_its_device_seen(
    writer: GroupCommitWriter, repository: SqlRepository, clock: FakeClock
) -> None:
    clock.advance(5)
    await writer.submit([dc09_signal(at=clock.now())])

    device = await repository.find_account("1234")
    assert device is not None
    assert device.last_seen_at == clock.now()


async def test_publish_sees_the_commit_from_a_new_connection(
    store_url: str, engine: AsyncEngine, taxonomy: Taxonomy, clock: FakeClock
) -> None:
    seen: list[tuple[int, int]] = []

    def publish(event: AlarmEvent) -> None:
        # A connection of its own, in another thread and event loop, while the writer waits
        # for this call: it sees the rows only if they were committed before the call.
        with ThreadPoolExecutor(max_workers=1) as pool:
            seen.append(pool.submit(asyncio.run, count_rows(store_url, event.alarm.id)).result())

    async with open_writer(engine, taxonomy, clock, publish) as writer:
        await writer.submit([dc09_signal(at=clock.now())])

    assert seen == [(1, 1)]


async def count_rows(url: str, alarm_id: int) -> tuple[int, int]:
    engine = open_engine(url)
    try:
        async with engine.connect() as connection:
            alarm_rows = await connection.scalar(
                select(func.count()).select_from(alarms).where(alarms.c.id == alarm_id)
            )
            signal_rows = await connection.scalar(
                select(func.count()).select_from(signals).where(signals.c.alarm_id == alarm_id)
            )
        return (alarm_rows or 0, signal_rows or 0)
    finally:
        await engine.dispose()


async def test_a_failing_publish_does_not_fail_the_submit(
    engine: AsyncEngine, taxonomy: Taxonomy, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    def publish(event: AlarmEvent) -> None:
        raise RuntimeError("subscriber bug")

    async with open_writer(engine, taxonomy, clock, publish) as writer:
        record = await submit_one(writer, dc09_signal(at=clock.now()))

    assert record.alarm_id is not None
    assert any("publishing" in r.getMessage() for r in caplog.records if r.levelno == logging.ERROR)


async def test_concurrent_submits_share_transactions(
    writer: GroupCommitWriter, repository: SqlRepository, clock: FakeClock
) -> None:
    batch = [dc09_signal(at=clock.now(), account=f"{n:04d}") for n in range(200)]

    results = await asyncio.gather(*(writer.submit([signal]) for signal in batch))

    ids = {record.id for (record,) in results if record is not None}
    assert len(ids) == 200
    stats = writer.stats
    assert stats.batches < 200
    assert (stats.signals_committed, stats.queue_depth, stats.failed_batches) == (200, 0, 0)
    stored = await repository.list_signals(device=None, alarm_id=None, limit=500, after=None)
    assert {record.id for record in stored} == ids


async def test_max_batch_bounds_a_transaction_but_never_splits_a_unit(
    engine: AsyncEngine, taxonomy: Taxonomy, clock: FakeClock
) -> None:
    async with open_writer(engine, taxonomy, clock, lambda event: None, max_batch=8) as writer:
        await asyncio.gather(
            *(writer.submit([dc09_signal(at=clock.now(), account=f"{n:04d}")]) for n in range(40))
        )
        assert writer.stats.batches >= 5
        big = [dc09_signal(at=clock.now(), account="9999", seq=f"{n:04d}") for n in range(20)]
        assert len(await writer.submit(big)) == 20
        assert writer.stats.last_batch_size == 20


@dataclass(frozen=True, slots=True)
class Fault:
    """SQL that makes every insert into ``signals`` fail, and SQL that heals it."""

    install: tuple[str, ...]
    remove: tuple[str, ...]


# On PostgreSQL the trigger is deferred, so the failure comes from COMMIT itself.
FAULTS = {
    "sqlite": Fault(
        install=(
            "CREATE TRIGGER injected_fault BEFORE INSERT ON signals "
            "BEGIN SELECT RAISE(ABORT, 'injected fault'); END",
        ),
        remove=("DROP TRIGGER injected_fault",),
    ),
    "postgresql": Fault(
        install=(
            "CREATE FUNCTION injected_fault() RETURNS trigger LANGUAGE plpgsql "
            "AS $$ BEGIN RAISE EXCEPTION 'injected fault'; END $$",
            "CREATE CONSTRAINT TRIGGER injected_fault AFTER INSERT ON signals "
            "DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION injected_fault()",
        ),
        remove=("DROP TRIGGER injected_fault ON signals",),
    ),
}


async def run_sql(engine: AsyncEngine, statements: tuple[str, ...]) -> None:
    async with engine.begin() as connection:
        for statement in statements:
            await connection.execute(text(statement))


@pytest.mark.usefixtures("registered")
async def test_a_failed_commit_fails_every_waiter_and_the_writer_goes_on(
    writer: GroupCommitWriter,
    repository: SqlRepository,
    engine: AsyncEngine,
    clock: FakeClock,
    published: list[AlarmEvent],
    caplog: pytest.LogCaptureFixture,
) -> None:
    fault = FAULTS[engine.dialect.name]
    await run_sql(engine, fault.install)

    results = await asyncio.gather(
        *(writer.submit([dc09_signal(at=clock.now(), zone=f"{n}")]) for n in range(5)),
        return_exceptions=True,
    )

    assert all(isinstance(result, StoreUnavailableError) for result in results)
    assert await repository.list_alarms(state=None, limit=10, after=None) == []
    assert published == []
    failures = [r for r in caplog.records if r.name == "watchfloor.store.writer"]
    assert len(failures) == writer.stats.failed_batches >= 1
    assert all(r.levelno == logging.ERROR and r.exc_info for r in failures)

    await run_sql(engine, fault.remove)
    record = await submit_one(writer, dc09_signal(at=clock.now()))

    assert record.alarm_id is not None
    assert [e.kind for e in published] == [AlarmEventKind.CREATED]


# After each new alarm, every other alarm's version moves on: the batch's view goes stale.
STALE_VERSIONS = {
    "sqlite": Fault(
        install=(
            "CREATE TRIGGER stale_versions AFTER INSERT ON alarms "
            "BEGIN UPDATE alarms SET version = version + 1 WHERE id <> NEW.id; END",
        ),
        remove=("DROP TRIGGER stale_versions",),
    ),
    "postgresql": Fault(
        install=(
            "CREATE FUNCTION stale_versions() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
            "UPDATE alarms SET version = version + 1 WHERE id <> NEW.id; RETURN NULL; END $$",
            "CREATE TRIGGER stale_versions AFTER INSERT ON alarms "
            "FOR EACH ROW EXECUTE FUNCTION stale_versions()",
        ),
        remove=("DROP TRIGGER stale_versions ON alarms",),
    ),
}


@pytest.mark.usefixtures("registered")
async def test_a_stale_alarm_version_fails_the_batch(
    writer: GroupCommitWriter,
    repository: SqlRepository,
    engine: AsyncEngine,
    clock: FakeClock,
    published: list[AlarmEvent],
) -> None:
    first = await submit_one(writer, dc09_signal(at=clock.now(), seq="0001"))
    await run_sql(engine, STALE_VERSIONS[engine.dialect.name].install)

    with pytest.raises(StoreUnavailableError) as failure:
        await writer.submit(
            [
                dc09_signal(at=clock.now(), seq="0002"),
                dc09_signal(at=clock.now(), seq="0003", zone="002"),
                dc09_signal(at=clock.now(), seq="0004"),
            ]
        )

    assert isinstance(failure.value.__cause__, ConflictError)
    assert first.alarm_id is not None
    assert (await repository.get_alarm(first.alarm_id)).alarm.signal_count == 1
    assert len(await repository.list_alarms(state=None, limit=10, after=None)) == 1
    assert len(published) == 1


async def test_submit_after_the_writer_stopped_is_refused(
    engine: AsyncEngine, taxonomy: Taxonomy, clock: FakeClock
) -> None:
    async with open_writer(engine, taxonomy, clock, lambda event: None) as writer:
        pass

    with pytest.raises(StoreUnavailableError):
        await writer.submit([dc09_signal(at=clock.now())])


async def test_callers_still_queued_when_the_writer_stops_fail(
    engine: AsyncEngine, taxonomy: Taxonomy, clock: FakeClock, repository: SqlRepository
) -> None:
    async with open_writer(engine, taxonomy, clock, lambda event: None) as writer:
        queued = asyncio.create_task(writer.submit([dc09_signal(at=clock.now())]))
        await asyncio.sleep(0)  # one turn of the loop: the unit is queued, not yet taken

    with pytest.raises(StoreUnavailableError):
        await queued
    assert await repository.list_signals(device=None, alarm_id=None, limit=5, after=None) == []


async def test_a_cancelled_caller_not_yet_batched_stores_nothing(
    writer: GroupCommitWriter, repository: SqlRepository, clock: FakeClock
) -> None:
    cancelled = asyncio.create_task(writer.submit([dc09_signal(at=clock.now(), account="1")]))
    await asyncio.sleep(0)  # one turn of the loop: the unit is queued, not yet taken
    cancelled.cancel()
    kept = await submit_one(writer, dc09_signal(at=clock.now(), account="2"))

    with pytest.raises(asyncio.CancelledError):
        await cancelled
    stored = await repository.list_signals(device=None, alarm_id=None, limit=5, after=None)
    assert stored == [kept]


def test_the_writer_is_a_signal_sink(writer: GroupCommitWriter) -> None:
    sink: SignalSink = writer  # checked by mypy against the port
    assert sink is writer


async def test_an_empty_submit_returns_at_once(writer: GroupCommitWriter) -> None:
    assert await writer.submit([]) == ()
    assert writer.stats.batches == 0

"""Flood control in the intake: above a device's rate, new alarms fold into its newest."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from support.clock import FakeClock
from support.factories import BURGLARY, FIRE, dc09_signal
from watchfloor.core.alarm_types import Taxonomy
from watchfloor.core.alarms import Alarm, TimelineKind
from watchfloor.core.ports import AlarmEvent, AlarmEventKind
from watchfloor.core.signals import Signal, SignalRecord
from watchfloor.store import GroupCommitWriter, SqlRepository, open_writer

from .test_supervision import counting_statements

THRESHOLD = 20  # the writer's default: 20 signals a minute


@pytest.fixture
async def registered(repository: SqlRepository) -> None:
    await repository.add_account(account="1234", site="HQ", key=None, name="HQ panel")


def zone_signals(clock: FakeClock, count: int, *, every: float, first: int = 1) -> list[Signal]:
    """Burglaries in ``count`` different zones of one panel, ``every`` seconds apart."""
    signals = []
    for n in range(first, first + count):
        signals.append(dc09_signal(at=clock.now(), seq=f"{n:04d}", zone=f"{n:03d}"))
        clock.advance(every)
    return signals


async def submit(
    writer: GroupCommitWriter, signals: list[Signal], *, one_unit: bool
) -> list[SignalRecord]:
    """Submit the signals as one unit (one batch), or each as a batch of its own."""
    units = [signals] if one_unit else [[signal] for signal in signals]
    records = [record for unit in units for record in await writer.submit(unit)]
    assert all(record is not None for record in records)
    return [record for record in records if record is not None]


async def all_alarms(repository: SqlRepository) -> list[Alarm]:
    return list(reversed(await repository.list_alarms(state=None, limit=500, after=None)))


# Both ways: counted from the store batch by batch, and counted in memory within one batch.
SUBMISSIONS = pytest.mark.parametrize("one_unit", [False, True], ids=["batches", "one-batch"])


@SUBMISSIONS
@pytest.mark.usefixtures("registered")
async def test_a_flooding_device_folds_new_alarms_into_its_newest(
    writer: GroupCommitWriter,
    repository: SqlRepository,
    clock: FakeClock,
    published: list[AlarmEvent],
    one_unit: bool,
) -> None:
    records = await submit(writer, zone_signals(clock, THRESHOLD + 3, every=2), one_unit=one_unit)

    alarms = await all_alarms(repository)
    assert len(alarms) == THRESHOLD
    *calm, newest = alarms
    assert all((a.flooded, a.signal_count) == (False, 1) for a in calm)
    assert (newest.zone, newest.flooded, newest.signal_count) == ("020", True, 4)
    assert [r.alarm_id for r in records[THRESHOLD - 1 :]] == [newest.id] * 4
    detail = await repository.get_alarm(newest.id)
    assert [(e.kind, e.signal_id, e.detail) for e in detail.timeline] == [
        (TimelineKind.CREATED, records[THRESHOLD - 1].id, detail.timeline[0].detail),
        *(
            (TimelineKind.FLOOD, record.id, f"flood: Burglary 130 zone 0{n} folded in")
            for n, record in zip((21, 22, 23), records[THRESHOLD:], strict=True)
        ),
    ]
    assert published[-1].alarm == newest
    assert published[-1].kind is (AlarmEventKind.CREATED if one_unit else AlarmEventKind.UPDATED)


@SUBMISSIONS
@pytest.mark.usefixtures("registered")
async def test_the_same_signals_spread_over_more_than_the_window_do_not_flood(
    writer: GroupCommitWriter, repository: SqlRepository, clock: FakeClock, one_unit: bool
) -> None:
    # Four seconds apart: never more than 16 within a minute.
    await submit(writer, zone_signals(clock, THRESHOLD + 3, every=4), one_unit=one_unit)

    alarms = await all_alarms(repository)
    assert len(alarms) == THRESHOLD + 3
    assert not any(alarm.flooded for alarm in alarms)


@pytest.mark.usefixtures("registered")
async def test_a_flood_ends_when_the_device_calms_down(
    writer: GroupCommitWriter, repository: SqlRepository, clock: FakeClock
) -> None:
    await submit(writer, zone_signals(clock, THRESHOLD + 1, every=1), one_unit=False)
    clock.advance(61)
    await submit(writer, zone_signals(clock, 1, every=1, first=50), one_unit=False)

    alarms = await all_alarms(repository)
    assert len(alarms) == THRESHOLD + 1
    assert (alarms[-1].zone, alarms[-1].flooded) == ("050", False)


@SUBMISSIONS
@pytest.mark.usefixtures("registered")
async def test_life_safety_opens_its_own_alarm_during_a_flood(
    writer: GroupCommitWriter, repository: SqlRepository, clock: FakeClock, one_unit: bool
) -> None:
    flood = zone_signals(clock, THRESHOLD + 1, every=1)
    fire = dc09_signal(at=clock.now(), seq="0100", code="110", zone="100")
    after = zone_signals(clock, 2, every=1, first=101)

    records = await submit(writer, [*flood, fire, *after], one_unit=one_unit)

    fire_alarm = (await repository.get_alarm(records[THRESHOLD + 1].alarm_id or 0)).alarm
    assert (fire_alarm.type_code, fire_alarm.priority) == (FIRE, 1)
    assert (fire_alarm.signal_count, fire_alarm.flooded) == (1, False)
    # Nothing folds into the fire alarm either: the next burglary opens the flood's new
    # target, and the one after folds into that.
    assert records[-2].alarm_id == records[-1].alarm_id not in (None, fire_alarm.id)
    target = (await repository.get_alarm(records[-1].alarm_id or 0)).alarm
    assert (target.type_code, target.zone, target.flooded) == (BURGLARY, "101", True)
    assert len(await all_alarms(repository)) == THRESHOLD + 2


@SUBMISSIONS
@pytest.mark.usefixtures("registered")
async def test_repeats_and_restores_during_a_flood_keep_to_their_own_alarm(
    writer: GroupCommitWriter, repository: SqlRepository, clock: FakeClock, one_unit: bool
) -> None:
    flood = zone_signals(clock, THRESHOLD + 1, every=1)
    repeat = dc09_signal(at=clock.now(), seq="0200", zone="001")
    restore = dc09_signal(at=clock.now(), seq="0201", zone="002", restore=True)

    records = await submit(writer, [*flood, repeat, restore], one_unit=one_unit)

    first, second = (await all_alarms(repository))[:2]
    assert (records[-2].alarm_id, records[-1].alarm_id) == (first.id, second.id)
    assert (first.signal_count, first.flooded) == (2, False)
    assert (second.restored_at, second.flooded) == (clock.now(), False)
    timeline = (await repository.get_alarm(first.id)).timeline
    assert [e.kind for e in timeline] == [TimelineKind.CREATED, TimelineKind.REPEATED]


@pytest.mark.usefixtures("registered")
async def test_a_batch_that_repeats_and_floods_one_stored_alarm_changes_it_once(
    writer: GroupCommitWriter,
    repository: SqlRepository,
    clock: FakeClock,
    published: list[AlarmEvent],
) -> None:
    await submit(writer, zone_signals(clock, THRESHOLD, every=1), one_unit=False)
    # The newest alarm (zone 020) is both the flood target and open under a key of the batch.
    folded = zone_signals(clock, 1, every=1, first=21)[0]
    repeat = dc09_signal(at=clock.now(), seq="0300", zone="020")

    records = await submit(writer, [folded, repeat], one_unit=True)

    newest = (await all_alarms(repository))[-1]
    assert records[0].alarm_id == records[1].alarm_id == newest.id
    assert (newest.zone, newest.signal_count, newest.flooded, newest.version) == ("020", 3, True, 3)
    assert [(e.kind, e.alarm) for e in published[THRESHOLD:]] == [(AlarmEventKind.UPDATED, newest)]


@pytest.mark.usefixtures("registered")
async def test_flood_control_can_be_disabled(
    engine: AsyncEngine, taxonomy: Taxonomy, repository: SqlRepository, clock: FakeClock
) -> None:
    async with open_writer(
        engine, taxonomy, clock, lambda event: None, flood_threshold=None
    ) as writer:
        await submit(writer, zone_signals(clock, THRESHOLD + 3, every=1), one_unit=True)

    alarms = await all_alarms(repository)
    assert len(alarms) == THRESHOLD + 3
    assert not any(alarm.flooded for alarm in alarms)


@pytest.mark.usefixtures("registered")
async def test_the_threshold_and_window_are_the_writer_s(
    engine: AsyncEngine, taxonomy: Taxonomy, repository: SqlRepository, clock: FakeClock
) -> None:
    async with open_writer(
        engine,
        taxonomy,
        clock,
        lambda event: None,
        flood_threshold=2,
        flood_window=timedelta(seconds=10),
    ) as writer:
        await submit(writer, zone_signals(clock, 4, every=1), one_unit=False)
        clock.advance(10)
        await submit(writer, zone_signals(clock, 1, every=1, first=5), one_unit=False)

    assert [(a.zone, a.signal_count, a.flooded) for a in await all_alarms(repository)] == [
        ("001", 1, False),
        ("002", 3, True),
        ("005", 1, False),
    ]


@pytest.mark.parametrize(("threshold", "window"), [(0, timedelta(seconds=60)), (20, timedelta(0))])
async def test_a_writer_refuses_a_meaningless_flood_limit(
    engine: AsyncEngine,
    taxonomy: Taxonomy,
    clock: FakeClock,
    threshold: int,
    window: timedelta,
) -> None:
    with pytest.raises(ValueError, match="flood"):
        async with open_writer(
            engine,
            taxonomy,
            clock,
            lambda event: None,
            flood_threshold=threshold,
            flood_window=window,
        ):
            pass


@pytest.fixture
async def panels(repository: SqlRepository) -> list[str]:
    accounts = ["2001", "2002"]
    for account in accounts:
        await repository.add_account(account=account, site="HQ", key=None)
    return accounts


async def test_statements_per_flooding_batch_do_not_grow_with_its_size(
    writer: GroupCommitWriter, engine: AsyncEngine, clock: FakeClock, panels: list[str]
) -> None:
    counts = []
    for account, size in zip(panels, (THRESHOLD + 5, 3 * THRESHOLD), strict=True):
        batch = [
            dc09_signal(at=clock.now(), account=account, seq=f"{n:04d}", zone=f"{n:03d}")
            for n in range(size)
        ]
        with counting_statements(engine) as statements:
            records = await writer.submit(batch)
        assert len({r.alarm_id for r in records if r is not None}) == THRESHOLD
        counts.append(len(statements))

    assert counts[0] == counts[1]

"""Open/close supervision in the store: openings and closings kept at intake, the watch's
failed-to-close / unexpected-opening / late-to-open alarms, exceptions, daylight saving and
restarts. Real SQLite and PostgreSQL, the shipped taxonomy, time from a FakeClock."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from support.clock import FakeClock
from support.factories import dc09_signal
from watchfloor.core.alarm_types import Taxonomy
from watchfloor.core.alarms import Alarm
from watchfloor.core.arming import DueArming
from watchfloor.core.signals import SignalSource
from watchfloor.receivers.open_close import OpenCloseWatch
from watchfloor.store import GroupCommitWriter, SqlRepository, open_writer
from watchfloor.store.arming import ArmingSchedules
from watchfloor.store.tables import site_arming, site_schedules, sites
from watchfloor.taxonomy import load_taxonomy

FAILED_TO_CLOSE, LATE_TO_OPEN, UNEXPECTED_OPENING = 806, 807, 808
WEEKDAYS = [{"weekday": day, "opens": "08:00", "closes": "18:00"} for day in range(5)]
#: Friday 4 December 2026 (London is on GMT: local time is UTC).
FRIDAY = datetime(2026, 12, 4, tzinfo=UTC)


@pytest.fixture
def taxonomy() -> Taxonomy:
    return load_taxonomy()


def at(day: datetime, hh_mm: str) -> datetime:
    hours, minutes = hh_mm.split(":")
    return day + timedelta(hours=int(hours), minutes=int(minutes))


async def schedule_site(
    repository: SqlRepository,
    engine: AsyncEngine,
    clock: FakeClock,
    *,
    windows: Sequence[Mapping[str, object]] = WEEKDAYS,
    exceptions: Sequence[Mapping[str, object]] = (),
    time_zone: str = "Europe/London",
    open_grace: float | None = None,
) -> None:
    await repository.add_account(account="1234", site="Shop", key=None, name="shop panel")
    async with engine.begin() as connection:
        await connection.execute(
            update(sites).where(sites.c.name == "Shop").values(time_zone=time_zone)
        )
        site_id = await connection.scalar(select(sites.c.id).where(sites.c.name == "Shop"))
        await connection.execute(
            site_schedules.insert().values(
                site_id=site_id,
                partition="",
                windows=json.dumps([dict(w) for w in windows]),
                exceptions=json.dumps([dict(e) for e in exceptions]),
                close_grace_seconds=900.0,
                open_grace_seconds=open_grace,
                updated_at=clock.now(),
            )
        )


class Site:
    """The panel of site "Shop" and the open/close watch, over a writer of their own."""

    def __init__(self, watch: OpenCloseWatch, sink: GroupCommitWriter, clock: FakeClock) -> None:
        self.watch = watch
        self.sink = sink
        self._clock = clock
        self._seq = 0

    async def arm_or_disarm(self, moment: datetime, *, closing: bool) -> None:
        self._clock.set(moment)
        self._seq += 1
        signal = dc09_signal(
            at=moment, code="401", zone="007", restore=closing, seq=f"{self._seq:04d}"
        )
        await self.sink.submit([signal])

    async def close(self, moment: datetime) -> None:
        await self.arm_or_disarm(moment, closing=True)

    async def open(self, moment: datetime) -> None:
        await self.arm_or_disarm(moment, closing=False)

    async def check(self, moment: datetime) -> int:
        self._clock.set(moment)
        return await self.watch.check()


@asynccontextmanager
async def running(engine: AsyncEngine, taxonomy: Taxonomy, clock: FakeClock) -> AsyncIterator[Site]:
    """Start a writer and a watch (a platform's worth of open/close supervision)."""
    async with open_writer(engine, taxonomy, clock, lambda _: None) as writer:
        watch = OpenCloseWatch(schedules=ArmingSchedules(engine), sink=writer, clock=clock)
        yield Site(watch, writer, clock)


async def alarms_of(repository: SqlRepository) -> list[Alarm]:
    found = await repository.list_alarms(state=None, limit=50, after=None)
    return sorted(found, key=lambda alarm: alarm.id)


async def test_failed_to_close_is_raised_once_after_grace_and_restored_by_the_closing(
    repository: SqlRepository, engine: AsyncEngine, taxonomy: Taxonomy, clock: FakeClock
) -> None:
    clock.set(FRIDAY)
    await schedule_site(repository, engine, clock)
    async with running(engine, taxonomy, clock) as site:
        await site.open(at(FRIDAY, "08:02"))
        assert await site.check(at(FRIDAY, "18:14")) == 0
        assert await site.check(at(FRIDAY, "18:16")) == 1
        assert await site.check(at(FRIDAY, "18:30")) == 0  # once, not every period
        (alarm,) = await alarms_of(repository)
        assert (alarm.type_code, alarm.site, alarm.device) == (
            FAILED_TO_CLOSE,
            "Shop",
            "shop panel",
        )
        await site.close(at(FRIDAY, "18:40"))
        detail = await repository.get_alarm(alarm.id)
        assert [t.kind for t in detail.timeline] == ["created", "restored"]
        assert [s.signal.source for s in detail.signals] == [SignalSource.SUPERVISION] * 2
        # Armed on time the next working day: nothing more.
        await site.open(at(FRIDAY + timedelta(days=3), "08:00"))
        await site.close(at(FRIDAY + timedelta(days=3), "17:55"))
        assert await site.check(at(FRIDAY + timedelta(days=3), "19:00")) == 0
    async with engine.connect() as connection:
        row = (await connection.execute(select(site_arming))).one()
    assert (row.armed, row.failed_close_for) == (True, at(FRIDAY, "18:00"))


async def test_a_site_never_heard_arming_raises_nothing(
    repository: SqlRepository, engine: AsyncEngine, taxonomy: Taxonomy, clock: FakeClock
) -> None:
    clock.set(FRIDAY)
    await schedule_site(repository, engine, clock)
    async with running(engine, taxonomy, clock) as site:
        assert await site.check(at(FRIDAY, "23:00")) == 0
    assert await alarms_of(repository) == []


async def test_unexpected_opening_outside_the_schedule_is_raised_once_and_restored(
    repository: SqlRepository, engine: AsyncEngine, taxonomy: Taxonomy, clock: FakeClock
) -> None:
    clock.set(FRIDAY)
    await schedule_site(repository, engine, clock)
    async with running(engine, taxonomy, clock) as site:
        await site.open(at(FRIDAY, "08:00"))
        await site.close(at(FRIDAY, "17:50"))
        assert await site.check(at(FRIDAY, "18:20")) == 0
        saturday = FRIDAY + timedelta(days=1)
        await site.open(at(saturday, "03:00"))
        assert await site.check(at(saturday, "03:00")) == 1
        assert await site.check(at(saturday, "03:01")) == 0
        (alarm,) = await alarms_of(repository)
        assert (alarm.type_code, alarm.priority) == (UNEXPECTED_OPENING, 3)
        await site.close(at(saturday, "03:10"))
        detail = await repository.get_alarm(alarm.id)
        assert [t.kind for t in detail.timeline] == ["created", "restored"]


async def test_an_opening_seen_late_is_still_raised_after_the_site_armed_again(
    repository: SqlRepository, engine: AsyncEngine, taxonomy: Taxonomy, clock: FakeClock
) -> None:
    clock.set(FRIDAY)
    await schedule_site(repository, engine, clock)
    async with running(engine, taxonomy, clock) as site:
        await site.close(at(FRIDAY, "17:50"))
        await site.open(at(FRIDAY, "23:00"))
        await site.close(at(FRIDAY, "23:05"))  # before the watch looked
        assert await site.check(at(FRIDAY, "23:06")) == 1
        assert [a.type_code for a in await alarms_of(repository)] == [UNEXPECTED_OPENING]


async def test_late_to_open_when_supervised_and_restored_by_the_opening(
    repository: SqlRepository, engine: AsyncEngine, taxonomy: Taxonomy, clock: FakeClock
) -> None:
    clock.set(FRIDAY - timedelta(days=1))
    await schedule_site(repository, engine, clock, open_grace=1800.0)
    async with running(engine, taxonomy, clock) as site:
        await site.close(at(FRIDAY - timedelta(days=1), "18:00"))
        assert await site.check(at(FRIDAY, "08:29")) == 0
        assert await site.check(at(FRIDAY, "08:31")) == 1
        assert await site.check(at(FRIDAY, "08:45")) == 0
        await site.open(at(FRIDAY, "08:50"))
        (alarm,) = await alarms_of(repository)
        assert alarm.type_code == LATE_TO_OPEN
        detail = await repository.get_alarm(alarm.id)
        assert [t.kind for t in detail.timeline] == ["created", "restored"]


async def test_a_holiday_has_no_closing_to_fail_but_an_opening_on_it_is_unexpected(
    repository: SqlRepository, engine: AsyncEngine, taxonomy: Taxonomy, clock: FakeClock
) -> None:
    clock.set(FRIDAY - timedelta(days=1))
    holiday = [{"day": "2026-12-04", "opens": None, "closes": None, "note": "Works outing"}]
    await schedule_site(repository, engine, clock, exceptions=holiday, open_grace=1800.0)
    async with running(engine, taxonomy, clock) as site:
        await site.close(at(FRIDAY - timedelta(days=1), "17:55"))
        assert await site.check(at(FRIDAY, "09:00")) == 0  # nobody is due to open
        await site.open(at(FRIDAY, "10:00"))
        assert await site.check(at(FRIDAY, "10:00")) == 1
        assert await site.check(at(FRIDAY, "18:16")) == 0  # no closing time on a holiday
        assert await site.check(at(FRIDAY, "23:59")) == 0
        assert [a.type_code for a in await alarms_of(repository)] == [UNEXPECTED_OPENING]


async def test_a_late_night_moves_the_close_deadline(
    repository: SqlRepository, engine: AsyncEngine, taxonomy: Taxonomy, clock: FakeClock
) -> None:
    clock.set(FRIDAY)
    late = [{"day": "2026-12-04", "opens": "08:00", "closes": "22:00", "note": "Stocktake"}]
    await schedule_site(repository, engine, clock, exceptions=late)
    async with running(engine, taxonomy, clock) as site:
        await site.open(at(FRIDAY, "08:05"))
        assert await site.check(at(FRIDAY, "18:16")) == 0
        assert await site.check(at(FRIDAY, "22:14")) == 0
        assert await site.check(at(FRIDAY, "22:16")) == 1
        (alarm,) = await alarms_of(repository)
        assert alarm.type_code == FAILED_TO_CLOSE


@pytest.mark.parametrize(
    ("night", "disarmed", "deadline"),
    [
        # Spring forward (29 March 2026, 01:00 GMT -> 02:00 BST): closing at 01:30 local does
        # not exist and moves to 02:00 BST = 01:00 UTC; deadline 01:15 UTC, not 01:45.
        pytest.param(
            datetime(2026, 3, 28, tzinfo=UTC),
            datetime(2026, 3, 28, 20, 5, tzinfo=UTC),
            datetime(2026, 3, 29, 1, 15, tzinfo=UTC),
            id="spring-forward",
        ),
        # Fall back (25 October 2026, 02:00 BST -> 01:00 GMT): 01:30 local happens twice; the
        # first is 00:30 UTC, deadline 00:45 UTC, not 01:45.
        pytest.param(
            datetime(2026, 10, 24, tzinfo=UTC),
            datetime(2026, 10, 24, 19, 5, tzinfo=UTC),
            datetime(2026, 10, 25, 0, 45, tzinfo=UTC),
            id="fall-back",
        ),
    ],
)
async def test_daylight_saving_night_in_london_keeps_the_wall_clock_close(
    repository: SqlRepository,
    engine: AsyncEngine,
    taxonomy: Taxonomy,
    clock: FakeClock,
    night: datetime,
    disarmed: datetime,
    deadline: datetime,
) -> None:
    clock.set(night)
    saturday_night = [{"weekday": 5, "opens": "20:00", "closes": "01:30"}]
    await schedule_site(repository, engine, clock, windows=saturday_night)
    async with running(engine, taxonomy, clock) as site:
        await site.open(disarmed)
        assert await site.check(deadline - timedelta(seconds=1)) == 0
        assert await site.check(deadline) == 1
        (alarm,) = await alarms_of(repository)
        assert (alarm.type_code, alarm.first_at) == (FAILED_TO_CLOSE, deadline)


async def test_a_deadline_passed_while_stopped_is_raised_once_after_the_restart(
    repository: SqlRepository, engine: AsyncEngine, taxonomy: Taxonomy, clock: FakeClock
) -> None:
    clock.set(FRIDAY)
    await schedule_site(repository, engine, clock)
    async with running(engine, taxonomy, clock) as site:
        await site.open(at(FRIDAY, "08:05"))
        assert await site.check(at(FRIDAY, "18:00")) == 0
    clock.set(at(FRIDAY, "19:30"))  # stopped over the deadline
    async with running(engine, taxonomy, clock) as restarted:
        assert await restarted.check(at(FRIDAY, "19:30")) == 1
    async with running(engine, taxonomy, clock) as again:
        assert await again.check(at(FRIDAY, "20:00")) == 0
    assert [a.type_code for a in await alarms_of(repository)] == [FAILED_TO_CLOSE]


async def test_an_arming_between_the_watch_read_and_its_commit_restores_at_once(
    repository: SqlRepository, engine: AsyncEngine, taxonomy: Taxonomy, clock: FakeClock
) -> None:
    clock.set(FRIDAY)
    await schedule_site(repository, engine, clock)
    async with running(engine, taxonomy, clock) as site:
        await site.open(at(FRIDAY, "08:05"))
        clock.set(at(FRIDAY, "18:16"))
        due = await ArmingSchedules(engine).due_arming(clock.now())
        await site.close(at(FRIDAY, "18:16"))  # armed before the watch's signal committed
        stale = OpenCloseWatch(schedules=_Fixed(due), sink=site.sink, clock=clock)
        assert await stale.check() == 1
        (alarm,) = await alarms_of(repository)
        detail = await repository.get_alarm(alarm.id)
        assert [t.kind for t in detail.timeline] == ["created", "restored"]
        assert await site.check(at(FRIDAY, "18:30")) == 0


class _Fixed:
    """What a watch read before the store changed."""

    def __init__(self, due: list[DueArming]) -> None:
        self._due = due

    async def due_arming(self, now: datetime) -> list[DueArming]:
        return self._due

"""The store of staff reports, units and dispatches, on SQLite and PostgreSQL."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from sqlalchemy import insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from support.clock import FakeClock
from support.factories import FIRE
from watchfloor.core.alarm_types import CodeSystem, SourceCode
from watchfloor.core.alarms import AlarmAction, TimelineKind, apply_action
from watchfloor.core.dispatching import Dispatching
from watchfloor.core.errors import ConflictError, InvalidTransitionError, NotFoundError
from watchfloor.core.notifications import DeadLetter
from watchfloor.core.signals import Signal, SignalSource
from watchfloor.core.units import UnitStatus, change_status
from watchfloor.store import GroupCommitWriter, SqlRepository
from watchfloor.store._rows import signal_values
from watchfloor.store.dispatch import SqlDispatchStore
from watchfloor.store.tables import signals


def _report(clock: FakeClock, key: str, *, site: str = "Depot", user: str = "guard") -> Signal:
    return Signal(
        source=SignalSource.PATROL,
        received_at=clock.now(),
        device=f"patrol:{user}",
        code=SourceCode(system=CodeSystem.TAXONOMY, code=str(FIRE)),
        zone=None,
        text="smoke",
        raw="{}",
        site=site,
        idempotency_key=key,
    )


async def test_a_report_resent_any_time_later_is_stored_once(
    writer: GroupCommitWriter, repository: SqlRepository, clock: FakeClock
) -> None:
    key = str(uuid.uuid4())
    (first,) = await writer.submit([_report(clock, key)])
    clock.advance(timedelta(days=3).total_seconds())
    (again, other) = await writer.submit([_report(clock, key), _report(clock, str(uuid.uuid4()))])
    assert first is not None
    assert again is not None
    assert other is not None
    assert again.id == first.id
    assert other.id != first.id
    assert other.alarm_id == first.alarm_id  # same guard, type and site: one alarm
    stored = await repository.list_signals(
        device="patrol:guard", alarm_id=None, limit=10, after=None
    )
    assert len(stored) == 2
    alarm = (await repository.get_alarm(first.alarm_id or 0)).alarm
    assert (alarm.site, alarm.type_code, alarm.signal_count) == ("Depot", FIRE, 2)


async def test_one_key_of_two_guards_is_two_reports(
    writer: GroupCommitWriter, clock: FakeClock
) -> None:
    key = str(uuid.uuid4())
    a, b = await writer.submit([_report(clock, key), _report(clock, key, user="gus")])
    assert a is not None
    assert b is not None
    assert a.id != b.id


async def test_the_database_refuses_a_second_row_for_one_report_key(
    engine: AsyncEngine, clock: FakeClock
) -> None:
    # What keeps two nodes from storing one resend twice: the partial unique index.
    row = signal_values(_report(clock, "k"), alarm_id=None, device_id=None, type_code=FIRE)
    async with engine.begin() as connection:
        await connection.execute(insert(signals), [row])
    with pytest.raises(IntegrityError):
        async with engine.begin() as connection:
            await connection.execute(insert(signals), [row])


async def test_dispatch_and_progress_are_stored_with_the_timeline(
    engine: AsyncEngine,
    writer: GroupCommitWriter,
    repository: SqlRepository,
    clock: FakeClock,
) -> None:
    store = SqlDispatchStore(engine, clock)
    published: list[object] = []
    dispatching = Dispatching(
        units=store, repository=repository, clock=clock, publish=published.append
    )
    unit = await store.add_unit(name="Patrol 1", user="guard")
    with pytest.raises(ConflictError):
        await store.add_unit(name="Patrol 1", user=None)
    (record,) = await writer.submit([_report(clock, "r1")])
    assert record is not None
    assert record.alarm_id is not None
    alarm_id = record.alarm_id
    with pytest.raises(InvalidTransitionError):
        await dispatching.dispatch(alarm_id, [unit.id], actor="olga")
    previous = (await repository.get_alarm(alarm_id)).alarm
    await repository.save_alarm(
        previous,
        apply_action(previous, AlarmAction.ACKNOWLEDGE, at=clock.now(), actor="olga"),
        [],
    )
    clock.advance(40)
    alarm = await dispatching.dispatch(alarm_id, [unit.id, unit.id], actor="olga")
    assert alarm.dispatched_at == clock.now()
    assert len(published) == 1
    (dispatch,) = await store.dispatches_of(alarm_id)
    assert (await store.get_unit(unit.id)).dispatch == dispatch

    clock.advance(5)
    acknowledged = await dispatching.acknowledge(dispatch.id, actor="guard")
    assert acknowledged.acknowledged_at == clock.now()
    clock.advance(5)
    assert (await dispatching.acknowledge(dispatch.id, actor="guard")) == acknowledged
    clock.advance(300)
    await dispatching.report_status(unit.id, UnitStatus.ON_SCENE, actor="guard")
    cleared = await dispatching.report_status(unit.id, UnitStatus.AVAILABLE, actor="guard")
    assert cleared.dispatch is None
    (done,) = await store.dispatches_of(alarm_id)
    assert done.on_scene_at is not None
    assert done.cleared_at is not None

    timeline = (await repository.get_alarm(alarm_id)).timeline
    assert [e.detail for e in timeline if e.kind is TimelineKind.UNIT] == [
        "Patrol 1: dispatch acknowledged",
        "Patrol 1: on scene",
        "Patrol 1: available",
    ]
    (fact,) = await repository.alarm_facts(
        start=clock.now() - timedelta(days=1), end=clock.now() + timedelta(days=1)
    )
    assert fact.arrived_at == done.on_scene_at
    assert [d.unit.name for d in await store.units_of_user("guard")] == ["Patrol 1"]


async def test_a_stale_unit_is_not_overwritten(engine: AsyncEngine, clock: FakeClock) -> None:
    store = SqlDispatchStore(engine, clock)
    unit = await store.add_unit(name="P", user=None)
    off, _ = change_status(unit, UnitStatus.OFF_DUTY, at=clock.now(), dispatch=None)
    await store.save_unit(unit, off, None, [])
    with pytest.raises(ConflictError):
        await store.save_unit(unit, off, None, [])


async def test_missing_units_and_dispatches_are_not_found(
    engine: AsyncEngine, clock: FakeClock
) -> None:
    store = SqlDispatchStore(engine, clock)
    with pytest.raises(NotFoundError):
        await store.get_unit(1)
    with pytest.raises(NotFoundError):
        await store.get_dispatch(1)
    assert await store.list_units() == []


async def test_dead_letters_newest_first(engine: AsyncEngine, clock: FakeClock) -> None:
    store = SqlDispatchStore(engine, clock)
    for alarm_id in (1, 2):
        await store.add_dead_letter(
            DeadLetter(
                id=0,
                rule="ops",
                channel="webhook",
                destination="http://x",
                alarm_id=alarm_id,
                body="{}",
                attempts=6,
                last_error="HTTP 500",
                failed_at=clock.now(),
            )
        )
    letters = await store.list_dead_letters(limit=10)
    assert [letter.alarm_id for letter in letters] == [2, 1]

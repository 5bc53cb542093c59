"""Alarm handling in the store: compare-and-set saves, overdue alarms, filters, test periods."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import datetime, timedelta

import pytest

from support.clock import FakeClock
from support.factories import BURGLARY, FIRE, FIRE_ACK_WITHIN, camera_signal, dc09_signal
from watchfloor.core.alarms import (
    Alarm,
    AlarmAction,
    AlarmOrder,
    AlarmState,
    Outcome,
    TimelineEntry,
    TimelineKind,
    apply_action,
    queue_key,
)
from watchfloor.core.errors import ConflictError, NotFoundError
from watchfloor.core.signals import Signal
from watchfloor.store import GroupCommitWriter, SqlRepository


async def open_alarm(writer: GroupCommitWriter, repository: SqlRepository, signal: Signal) -> Alarm:
    (record,) = await writer.submit([signal])
    assert record is not None
    assert record.alarm_id is not None
    return (await repository.get_alarm(record.alarm_id)).alarm


def entry(at: datetime, kind: TimelineKind, actor: str, detail: str = "") -> TimelineEntry:
    return TimelineEntry(at=at, kind=kind, actor=actor, detail=detail)


async def acknowledge(repository: SqlRepository, alarm: Alarm, at: datetime, actor: str) -> Alarm:
    updated = apply_action(alarm, AlarmAction.ACKNOWLEDGE, at=at, actor=actor)
    return await repository.save_alarm(
        alarm, updated, [entry(at, TimelineKind.ACKNOWLEDGED, actor)]
    )


@pytest.fixture
async def registered(repository: SqlRepository) -> None:
    await repository.add_account(account="1234", site="HQ", key=None, name="HQ panel")


# -- save_alarm ----------------------------------------------------------------------------


@pytest.mark.usefixtures("registered")
async def test_save_alarm_round_trips_every_field(
    writer: GroupCommitWriter, repository: SqlRepository, clock: FakeClock
) -> None:
    previous = await open_alarm(writer, repository, dc09_signal(at=clock.now()))
    now = clock.now()
    updated = replace(
        previous,
        priority=1,
        state=AlarmState.HELD,
        signal_count=7,
        last_at=now + timedelta(seconds=1),
        restored_at=now + timedelta(seconds=2),
        acknowledged_at=now + timedelta(seconds=3),
        dispatched_at=now + timedelta(seconds=4),
        resolved_at=now + timedelta(seconds=5),
        closed_at=now + timedelta(seconds=6),
        outcome=Outcome.FALSE,
        held_from=AlarmState.DISPATCHED,
        claimed_by="carol",
        acknowledged_by="alice",
        resolved_by="bob",
        ack_deadline=now + timedelta(minutes=3),
        escalation_count=3,
        escalation_level="duty_manager",
        sop_done=frozenset({0, 2, 5}),
        version=previous.version + 1,
    )
    entries = [
        entry(now, TimelineKind.CLAIMED, "carol", "taken over from alice"),
        entry(now + timedelta(seconds=1), TimelineKind.SOP_STEP, "carol", "done: 1. call"),
    ]

    stored = await repository.save_alarm(previous, updated, entries)

    detail = await repository.get_alarm(previous.id)
    assert stored == updated
    assert detail.alarm == updated
    assert [e.kind for e in detail.timeline] == [
        TimelineKind.CREATED,
        TimelineKind.CLAIMED,
        TimelineKind.SOP_STEP,
    ]
    assert detail.timeline[1:] == tuple(entries)


@pytest.mark.usefixtures("registered")
async def test_save_alarm_clears_fields_set_to_none(
    writer: GroupCommitWriter, repository: SqlRepository, clock: FakeClock
) -> None:
    alarm = await open_alarm(writer, repository, dc09_signal(at=clock.now(), code="110"))
    assert alarm.ack_deadline == clock.now() + FIRE_ACK_WITHIN
    acknowledged = await acknowledge(repository, alarm, clock.now(), "alice")
    resolving = apply_action(
        acknowledged,
        AlarmAction.RESOLVE,
        at=clock.now(),
        actor="alice",
        outcome=Outcome.GENUINE,
    )
    resolved = await repository.save_alarm(acknowledged, resolving, [])

    reopened = apply_action(resolved, AlarmAction.REOPEN, at=clock.now(), actor="bob")
    stored = await repository.save_alarm(resolved, reopened, [])

    assert stored == reopened
    assert (stored.ack_deadline, stored.resolved_at, stored.outcome) == (None, None, None)
    assert (await repository.get_alarm(alarm.id)).alarm == reopened


@pytest.mark.usefixtures("registered")
async def test_a_stale_version_is_a_conflict_and_writes_nothing(
    writer: GroupCommitWriter, repository: SqlRepository, clock: FakeClock
) -> None:
    read = await open_alarm(writer, repository, dc09_signal(at=clock.now()))
    winner = await acknowledge(repository, read, clock.now(), "alice")

    with pytest.raises(ConflictError):
        await acknowledge(repository, read, clock.now(), "bob")

    detail = await repository.get_alarm(read.id)
    assert detail.alarm == winner
    assert [(e.kind, e.actor) for e in detail.timeline] == [
        (TimelineKind.CREATED, "system"),
        (TimelineKind.ACKNOWLEDGED, "alice"),
    ]


@pytest.mark.usefixtures("registered")
async def test_a_repeat_makes_an_operators_read_stale(
    writer: GroupCommitWriter, repository: SqlRepository, clock: FakeClock
) -> None:
    read = await open_alarm(writer, repository, dc09_signal(at=clock.now(), seq="0001"))
    await writer.submit([dc09_signal(at=clock.now(), seq="0002")])

    with pytest.raises(ConflictError):
        await acknowledge(repository, read, clock.now(), "alice")

    assert (await repository.get_alarm(read.id)).alarm.state is AlarmState.NEW


@pytest.mark.usefixtures("registered")
async def test_save_alarm_of_a_missing_alarm_is_not_found(
    writer: GroupCommitWriter, repository: SqlRepository, clock: FakeClock
) -> None:
    alarm = await open_alarm(writer, repository, dc09_signal(at=clock.now()))
    missing = replace(alarm, id=424242)

    with pytest.raises(NotFoundError):
        await acknowledge(repository, missing, clock.now(), "alice")

    assert (await repository.get_alarm(alarm.id)).alarm == alarm


@pytest.mark.usefixtures("registered")
async def test_save_alarm_refuses_another_alarm_or_the_same_version(
    writer: GroupCommitWriter, repository: SqlRepository, clock: FakeClock
) -> None:
    alarm = await open_alarm(writer, repository, dc09_signal(at=clock.now()))

    with pytest.raises(ValueError, match="higher version"):
        await repository.save_alarm(alarm, replace(alarm, claimed_by="alice"), [])
    with pytest.raises(ValueError, match="higher version"):
        await repository.save_alarm(alarm, replace(alarm, id=alarm.id + 1, version=2), [])


@pytest.mark.usefixtures("registered")
async def test_of_two_concurrent_saves_from_one_read_exactly_one_is_stored(
    writer: GroupCommitWriter, repository: SqlRepository, clock: FakeClock
) -> None:
    read = await open_alarm(writer, repository, dc09_signal(at=clock.now()))

    results = await asyncio.gather(
        acknowledge(repository, read, clock.now(), "alice"),
        acknowledge(repository, read, clock.now(), "bob"),
        return_exceptions=True,
    )

    stored = [r for r in results if isinstance(r, Alarm)]
    failed = [r for r in results if isinstance(r, BaseException)]
    assert len(stored) == 1
    assert len(failed) == 1
    assert isinstance(failed[0], ConflictError)
    detail = await repository.get_alarm(read.id)
    assert detail.alarm == stored[0]
    assert [e.actor for e in detail.timeline if e.kind is TimelineKind.ACKNOWLEDGED] == [
        stored[0].acknowledged_by
    ]


@pytest.mark.usefixtures("registered")
async def test_reopening_while_a_newer_alarm_holds_the_key_is_a_conflict(
    writer: GroupCommitWriter, repository: SqlRepository, clock: FakeClock
) -> None:
    first = await open_alarm(writer, repository, dc09_signal(at=clock.now(), seq="0001"))
    resolved = await repository.save_alarm(
        first,
        apply_action(
            first, AlarmAction.RESOLVE, at=clock.now(), actor="alice", outcome=Outcome.FALSE
        ),
        [],
    )
    second = await open_alarm(writer, repository, dc09_signal(at=clock.now(), seq="0002"))
    assert second.id != first.id

    with pytest.raises(ConflictError):
        await repository.save_alarm(
            resolved, apply_action(resolved, AlarmAction.REOPEN, at=clock.now(), actor="bob"), []
        )

    assert (await repository.get_alarm(first.id)).alarm == resolved


# -- held alarms ---------------------------------------------------------------------------


@pytest.mark.usefixtures("registered")
async def test_a_held_alarm_still_collects_repeats(
    writer: GroupCommitWriter, repository: SqlRepository, clock: FakeClock
) -> None:
    alarm = await open_alarm(writer, repository, dc09_signal(at=clock.now(), seq="0001"))
    acknowledged = await acknowledge(repository, alarm, clock.now(), "alice")
    held = await repository.save_alarm(
        acknowledged,
        apply_action(acknowledged, AlarmAction.HOLD, at=clock.now(), actor="alice"),
        [entry(clock.now(), TimelineKind.HELD, "alice")],
    )
    clock.advance(30)

    (record,) = await writer.submit([dc09_signal(at=clock.now(), seq="0002")])

    assert record is not None
    assert record.alarm_id == alarm.id
    stored = (await repository.get_alarm(alarm.id)).alarm
    assert (stored.state, stored.held_from) == (AlarmState.HELD, AlarmState.ACKNOWLEDGED)
    assert (stored.signal_count, stored.version) == (2, held.version + 1)
    assert len(await repository.list_alarms(state=None, limit=10, after=None)) == 1


# -- overdue_alarms ------------------------------------------------------------------------


@pytest.mark.usefixtures("registered")
async def test_overdue_alarms_from_the_deadline_on_oldest_deadline_first(
    writer: GroupCommitWriter, repository: SqlRepository, clock: FakeClock
) -> None:
    t0 = clock.now()
    # Received out of order, so that id order and deadline order differ.
    late = await open_alarm(
        writer, repository, dc09_signal(at=t0 + timedelta(seconds=20), code="110", zone="003")
    )
    early = await open_alarm(writer, repository, dc09_signal(at=t0, code="110", zone="001"))
    middle = await open_alarm(
        writer, repository, dc09_signal(at=t0 + timedelta(seconds=10), code="110", zone="002")
    )
    # A burglary in the test taxonomy has no deadline: it never escalates.
    await open_alarm(writer, repository, dc09_signal(at=t0, code="130"))
    deadline = t0 + FIRE_ACK_WITHIN

    assert await repository.overdue_alarms(deadline - timedelta(microseconds=1)) == []
    assert await repository.overdue_alarms(deadline) == [early]
    everything = t0 + timedelta(hours=1)
    assert [a.id for a in await repository.overdue_alarms(everything)] == [
        early.id,
        middle.id,
        late.id,
    ]
    assert await repository.overdue_alarms(everything, limit=1) == [early]


@pytest.mark.usefixtures("registered")
async def test_acknowledged_alarms_are_not_overdue(
    writer: GroupCommitWriter, repository: SqlRepository, clock: FakeClock
) -> None:
    first = await open_alarm(writer, repository, dc09_signal(at=clock.now(), code="110"))
    second = await open_alarm(
        writer, repository, dc09_signal(at=clock.now(), code="110", zone="002")
    )
    await acknowledge(repository, first, clock.now(), "alice")
    # Even with a deadline left behind by a bug or a manual edit: only new alarms escalate.
    await repository.save_alarm(
        second,
        replace(
            second,
            state=AlarmState.ACKNOWLEDGED,
            acknowledged_by="bob",
            version=second.version + 1,
        ),
        [],
    )

    assert await repository.overdue_alarms(clock.now() + timedelta(hours=1)) == []


# -- list_alarms ---------------------------------------------------------------------------


async def test_list_alarms_filters_by_site_device_and_type(
    writer: GroupCommitWriter, repository: SqlRepository, clock: FakeClock
) -> None:
    await repository.add_account(account="1", site="HQ", key=None, name="HQ panel")
    await repository.add_account(account="2", site="Depot", key=None, name="Depot panel")
    at = clock.now()
    hq_burglary = await open_alarm(writer, repository, dc09_signal(at=at, account="1"))
    hq_fire = await open_alarm(writer, repository, dc09_signal(at=at, account="1", code="110"))
    depot_burglary = await open_alarm(writer, repository, dc09_signal(at=at, account="2"))
    unregistered_camera = await open_alarm(writer, repository, camera_signal(at=at))
    await acknowledge(repository, hq_fire, at, "alice")

    async def ids(
        *,
        state: AlarmState | None = None,
        site: str | None = None,
        device: str | None = None,
        type_code: int | None = None,
        after: int | None = None,
    ) -> list[int]:
        found = await repository.list_alarms(
            state=state, limit=10, after=after, site=site, device=device, type_code=type_code
        )
        return [alarm.id for alarm in found]

    assert await ids(site="HQ") == [hq_fire.id, hq_burglary.id]
    assert await ids(site="Nowhere") == []
    assert await ids(device="Depot panel") == [depot_burglary.id]
    assert await ids(device="cam-1") == [unregistered_camera.id]
    # The device filter names the device as shown, not the key its signals carry.
    assert await ids(device="2") == []
    assert await ids(type_code=BURGLARY) == [
        unregistered_camera.id,
        depot_burglary.id,
        hq_burglary.id,
    ]
    assert await ids(site="HQ", type_code=FIRE) == [hq_fire.id]
    assert await ids(state=AlarmState.NEW, site="HQ") == [hq_burglary.id]
    assert await ids(type_code=BURGLARY, after=depot_burglary.id) == [hq_burglary.id]


@pytest.mark.usefixtures("registered")
async def test_the_queue_lists_open_alarms_by_priority_and_age_then_the_others_newest_first(
    writer: GroupCommitWriter, repository: SqlRepository, clock: FakeClock
) -> None:
    t0 = clock.now()

    async def raised(seconds: int, code: str) -> Alarm:
        signal = dc09_signal(
            at=t0 + timedelta(seconds=seconds),
            code=code,
            zone=f"{seconds:03d}",
            seq=f"{seconds:04d}",
        )
        return await open_alarm(writer, repository, signal)

    async def resolve(alarm: Alarm) -> Alarm:
        resolved = apply_action(
            alarm, AlarmAction.RESOLVE, at=t0, actor="alice", outcome=Outcome.FALSE
        )
        return await repository.save_alarm(alarm, resolved, [])

    old_burglary = await raised(0, "130")
    old_fire = await raised(1, "110")
    new_burglary = await raised(2, "130")
    new_fire = await raised(3, "110")
    resolved_fire = await resolve(await raised(4, "110"))
    resolved_burglary = await resolve(await raised(5, "130"))
    await acknowledge(repository, new_burglary, t0, "alice")  # still open: still queued

    async def page(limit: int, after: int | None = None) -> list[int]:
        found = await repository.list_alarms(
            state=None, limit=limit, after=after, order=AlarmOrder.QUEUE
        )
        return [alarm.id for alarm in found]

    queue = [old_fire.id, new_fire.id, old_burglary.id, new_burglary.id]
    others = [resolved_burglary.id, resolved_fire.id]
    assert await page(10) == queue + others
    opened = await repository.list_alarms(state=None, limit=4, after=None, order=AlarmOrder.QUEUE)
    assert [a.id for a in sorted(opened, key=queue_key)] == queue
    paged: list[int] = []
    while found := await page(2, paged[-1] if paged else None):
        paged.extend(found)
    assert paged == queue + others
    assert await page(3, old_burglary.id) == [new_burglary.id, *others]
    newest = await repository.list_alarms(state=None, limit=10, after=None, order=AlarmOrder.NEWEST)
    assert [a.id for a in newest] == sorted(queue + others, reverse=True)
    # A cursor resolves to where its alarm stands now: closed meanwhile, the page goes on
    # with the others below it. One that names no alarm (purged) goes on below its id.
    await resolve(old_burglary)
    assert await page(10, old_burglary.id) == []
    assert await page(10, resolved_fire.id) == [old_burglary.id]
    assert await page(10, resolved_burglary.id + 100) == [
        resolved_burglary.id,
        resolved_fire.id,
        old_burglary.id,
    ]


# -- test periods --------------------------------------------------------------------------


@pytest.mark.usefixtures("registered")
async def test_a_device_on_test_raises_no_alarm_until_the_test_ends(
    writer: GroupCommitWriter, repository: SqlRepository, clock: FakeClock
) -> None:
    until = clock.now() + timedelta(hours=1)
    await repository.set_on_test(account="1234", until=until)
    device = await repository.find_account("1234")
    assert device is not None
    assert device.on_test_until == until

    (on_test,) = await writer.submit([dc09_signal(at=until - timedelta(seconds=1), seq="0001")])
    (after_test,) = await writer.submit([dc09_signal(at=until, seq="0002")])

    assert on_test is not None
    assert (on_test.alarm_id, on_test.type_code) == (None, BURGLARY)
    assert after_test is not None
    assert after_test.alarm_id is not None
    detail = await repository.get_alarm(after_test.alarm_id)
    assert (detail.alarm.signal_count, detail.signals) == (1, (after_test,))
    stored = await repository.list_signals(device="1234", alarm_id=None, limit=10, after=None)
    assert stored == [after_test, on_test]


@pytest.mark.usefixtures("registered")
async def test_a_device_on_test_does_not_join_its_open_alarm(
    writer: GroupCommitWriter, repository: SqlRepository, clock: FakeClock
) -> None:
    alarm = await open_alarm(writer, repository, dc09_signal(at=clock.now(), seq="0001"))
    await repository.set_on_test(account="1234", until=clock.now() + timedelta(hours=1))

    (record,) = await writer.submit([dc09_signal(at=clock.now(), seq="0002")])

    assert record is not None
    assert record.alarm_id is None
    assert (await repository.get_alarm(alarm.id)).alarm == alarm


@pytest.mark.usefixtures("registered")
async def test_a_site_on_test_puts_its_devices_on_test(
    writer: GroupCommitWriter, repository: SqlRepository, clock: FakeClock
) -> None:
    await repository.add_account(account="5678", site="HQ", key=None)
    await repository.add_account(account="9999", site="Depot", key=None)
    until = clock.now() + timedelta(hours=2)
    await repository.set_on_test(site="HQ", until=until)

    records = await writer.submit(
        [
            dc09_signal(at=clock.now(), account="1234"),
            dc09_signal(at=clock.now(), account="5678"),
            dc09_signal(at=clock.now(), account="9999"),
        ]
    )

    assert [r is not None and r.alarm_id is None for r in records] == [True, True, False]
    accounts = {d.account: d.on_test_until for d in await repository.list_accounts()}
    assert accounts == {"1234": until, "5678": until, "9999": None}


@pytest.mark.usefixtures("registered")
async def test_a_device_is_on_test_until_the_later_of_its_and_its_sites_end(
    repository: SqlRepository, clock: FakeClock
) -> None:
    device_until = clock.now() + timedelta(hours=1)
    site_until = clock.now() + timedelta(hours=3)

    await repository.set_on_test(account="1234", until=device_until)
    await repository.set_on_test(site="HQ", until=site_until)
    both = await repository.find_account("1234")
    await repository.set_on_test(site="HQ", until=None)
    device_only = await repository.find_account("1234")
    await repository.set_on_test(account="1234", until=None)
    ended = await repository.find_account("1234")

    assert both is not None
    assert device_only is not None
    assert ended is not None
    assert (both.on_test_until, device_only.on_test_until, ended.on_test_until) == (
        site_until,
        device_until,
        None,
    )


@pytest.mark.usefixtures("registered")
async def test_ending_a_test_raises_alarms_again(
    writer: GroupCommitWriter, repository: SqlRepository, clock: FakeClock
) -> None:
    await repository.set_on_test(site="HQ", until=clock.now() + timedelta(hours=1))
    (on_test,) = await writer.submit([dc09_signal(at=clock.now(), seq="0001")])
    await repository.set_on_test(site="HQ", until=None)

    (after_test,) = await writer.submit([dc09_signal(at=clock.now(), seq="0002")])

    assert on_test is not None
    assert on_test.alarm_id is None
    assert after_test is not None
    assert after_test.alarm_id is not None


async def test_set_on_test_of_an_unknown_account_or_site_is_not_found(
    repository: SqlRepository, clock: FakeClock
) -> None:
    await repository.add_account(account="1234", site="HQ", key=None)

    with pytest.raises(NotFoundError):
        await repository.set_on_test(account="9999", until=clock.now())
    with pytest.raises(NotFoundError):
        await repository.set_on_test(site="Nowhere", until=None)


async def test_set_on_test_needs_exactly_one_of_account_and_site(
    repository: SqlRepository, clock: FakeClock
) -> None:
    with pytest.raises(ValueError, match="exactly one"):
        await repository.set_on_test(until=clock.now())
    with pytest.raises(ValueError, match="exactly one"):
        await repository.set_on_test(account="1234", site="HQ", until=clock.now())


# -- alarm_facts ---------------------------------------------------------------------------


@pytest.mark.usefixtures("registered")
async def test_alarm_facts_cover_alarms_first_raised_in_the_window(
    writer: GroupCommitWriter, repository: SqlRepository, clock: FakeClock
) -> None:
    start = clock.now()
    end = start + timedelta(hours=1)
    moments = (
        start - timedelta(microseconds=1),
        start,
        end - timedelta(microseconds=1),
        end,
    )
    opened = [
        await open_alarm(writer, repository, dc09_signal(at=at, seq=f"000{i}", zone=f"00{i}"))
        for i, at in enumerate(moments)
    ]
    handled = await acknowledge(repository, opened[1], start + timedelta(seconds=30), "alice")
    dispatched = apply_action(
        handled, AlarmAction.DISPATCH, at=start + timedelta(seconds=40), actor="alice"
    )
    resolved = apply_action(
        dispatched,
        AlarmAction.RESOLVE,
        at=start + timedelta(minutes=5),
        actor="bob",
        outcome=Outcome.GENUINE,
        override_reason="keyholder unreachable",
    )
    await repository.save_alarm(handled, dispatched, [])
    await repository.save_alarm(dispatched, resolved, [])
    escalated = replace(opened[2], priority=1, escalation_count=2, version=opened[2].version + 1)
    await repository.save_alarm(opened[2], escalated, [])

    facts = await repository.alarm_facts(start=start, end=end)

    assert [fact.id for fact in facts] == [opened[1].id, opened[2].id]
    first, second = facts
    assert (first.type_code, first.type_name, first.site, first.priority) == (
        BURGLARY,
        "Burglary",
        "HQ",
        2,
    )
    assert (first.first_at, first.acknowledged_at, first.dispatched_at, first.resolved_at) == (
        start,
        start + timedelta(seconds=30),
        start + timedelta(seconds=40),
        start + timedelta(minutes=5),
    )
    assert (first.acknowledged_by, first.resolved_by, first.outcome) == (
        "alice",
        "bob",
        Outcome.GENUINE,
    )
    assert first.escalation_count == 0
    assert (second.priority, second.escalation_count) == (1, 2)
    assert (second.acknowledged_at, second.resolved_by, second.outcome) == (None, None, None)
    assert [f.id for f in await repository.alarm_facts(start=end, end=end + timedelta(1))] == [
        opened[3].id
    ]
    assert await repository.alarm_facts(start=end, end=end) == []

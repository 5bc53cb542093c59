"""Retention with a fake clock, on SQLite and PostgreSQL: what a purge removes, and keeps."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from functools import partial
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from support.clock import FakeClock
from support.factories import dc09_signal
from watchfloor.adapters.signing import AuditSigner, verify_with
from watchfloor.core.alarm_types import CodeSystem, SourceCode
from watchfloor.core.alarms import (
    Alarm,
    AlarmAction,
    Outcome,
    TimelineEntry,
    TimelineKind,
    apply_action,
)
from watchfloor.core.audit import AuditEntry
from watchfloor.core.retention import REDACTED, PurgeResult, RetentionPolicy
from watchfloor.core.signals import Signal, SignalSource, Snapshot
from watchfloor.store import GroupCommitWriter, SqlRepository
from watchfloor.store.audit import SqlAuditLog
from watchfloor.store.retention import purge_due
from watchfloor.store.tables import alarm_timeline, signal_snapshots, signals

POLICY = RetentionPolicy.of_days(signals=90, images=31, notes=180, closed_alarms=365)
DAY = 24 * 3600


def _entry(clock: FakeClock, done: PurgeResult) -> AuditEntry:
    return AuditEntry(
        at=clock.now(),
        actor="system",
        role=None,
        via="system",
        action="retention.purge",
        target=done.summary(),
    )


async def _alarm(
    writer: GroupCommitWriter, repository: SqlRepository, clock: FakeClock, seq: int, zone: str
) -> Alarm:
    (record,) = await writer.submit([dc09_signal(at=clock.now(), seq=f"{seq:04d}", zone=zone)])
    assert record is not None
    assert record.alarm_id is not None
    return (await repository.get_alarm(record.alarm_id)).alarm


async def _act(
    repository: SqlRepository, alarm: Alarm, action: AlarmAction, at: datetime, note: str = ""
) -> Alarm:
    updated = apply_action(
        alarm, action, at=at, actor="ann", outcome=Outcome.FALSE, override_reason="test"
    )
    kind = {
        AlarmAction.ACKNOWLEDGE: TimelineKind.ACKNOWLEDGED,
        AlarmAction.RESOLVE: TimelineKind.RESOLVED,
        AlarmAction.CLOSE: TimelineKind.CLOSED,
    }[action]
    return await repository.save_alarm(
        alarm, updated, [TimelineEntry(at=at, kind=kind, actor="ann", detail=note)]
    )


async def _close(repository: SqlRepository, alarm: Alarm, at: datetime) -> Alarm:
    alarm = await _act(repository, alarm, AlarmAction.ACKNOWLEDGE, at, "on it")
    alarm = await _act(repository, alarm, AlarmAction.RESOLVE, at, "keyholder Jo Bloggs attended")
    return await _act(repository, alarm, AlarmAction.CLOSE, at)


async def _count(engine: AsyncEngine, table: object, *where: object) -> int:
    async with engine.connect() as connection:
        query = select(func.count()).select_from(table)  # type: ignore[arg-type]
        for condition in where:
            query = query.where(condition)  # type: ignore[arg-type]
        return int((await connection.execute(query)).scalar_one())


async def test_purge_removes_only_what_is_due_and_audits_it(
    engine: AsyncEngine,
    writer: GroupCommitWriter,
    repository: SqlRepository,
    clock: FakeClock,
    tmp_path: Path,
) -> None:
    await repository.add_account(account="1234", site="HQ", key=None)
    old_closed = await _close(
        repository, await _alarm(writer, repository, clock, 1, "001"), clock.now()
    )
    still_open = await _alarm(writer, repository, clock, 2, "002")
    clock.advance(200 * DAY)
    recent_closed = await _close(
        repository, await _alarm(writer, repository, clock, 3, "003"), clock.now()
    )
    clock.advance(200 * DAY)
    # Now: the first alarm was closed 400 days ago, the third 200 days ago; the second is open.

    result = await purge_due(engine, POLICY.cutoffs(clock.now()), partial(_entry, clock))

    assert result == PurgeResult(signals=1, notes=2, closed_alarms=1)
    with_ids = {a.id for a in await repository.list_alarms(state=None, limit=10, after=None)}
    assert with_ids == {still_open.id, recent_closed.id}
    assert old_closed.id not in with_ids
    # The open alarm keeps its 400-day-old signal; the closed one lost its 200-day-old one.
    assert await _count(engine, signals, signals.c.alarm_id == still_open.id) == 1
    assert await _count(engine, signals, signals.c.alarm_id == recent_closed.id) == 0
    detail = await repository.get_alarm(recent_closed.id)
    texts = {e.kind: e.detail for e in detail.timeline}
    assert texts[TimelineKind.RESOLVED] == REDACTED
    assert texts[TimelineKind.ACKNOWLEDGED] == REDACTED
    assert detail.alarm.outcome == Outcome.FALSE

    audit_log = SqlAuditLog(engine, clock)
    [row] = await audit_log.search(limit=5)
    assert (row.entry.action, row.entry.target) == (
        "retention.purge",
        "signals:1,images:0,notes:2,closed_alarms:1",
    )
    signer = AuditSigner.load_or_create(tmp_path)
    assert (await audit_log.verify(partial(verify_with, frozenset({signer.key_id})))).ok
    again = await purge_due(engine, POLICY.cutoffs(clock.now()), partial(_entry, clock))
    assert again == PurgeResult()
    assert len(await audit_log.search(limit=5)) == 1


async def test_the_audit_chain_still_verifies_after_a_purge_of_audited_data(
    engine: AsyncEngine,
    writer: GroupCommitWriter,
    repository: SqlRepository,
    clock: FakeClock,
    tmp_path: Path,
) -> None:
    await repository.add_account(account="1234", site="HQ", key=None)
    alarm = await _alarm(writer, repository, clock, 1, "001")
    entry = AuditEntry(
        at=clock.now(),
        actor="ann",
        role="operator",
        via="token:desk",
        action="alarm.read",
        target=f"alarm:{alarm.id}",
    )
    async with repository.audited(entry) as bound:
        await bound.get_alarm(alarm.id)
    await _close(repository, alarm, clock.now())
    audit_log = SqlAuditLog(engine, clock)
    signer = AuditSigner.load_or_create(tmp_path)
    await audit_log.add_checkpoint(signer.key_id, signer.sign)
    clock.advance(400 * DAY)
    await purge_due(engine, POLICY.cutoffs(clock.now()), partial(_entry, clock))
    assert await repository.list_alarms(state=None, limit=10, after=None) == []
    report = await audit_log.verify(partial(verify_with, frozenset({signer.key_id})))
    assert report.ok, report.problems
    assert report.rows == 2


async def test_a_large_purge_runs_in_batches(
    engine: AsyncEngine, writer: GroupCommitWriter, repository: SqlRepository, clock: FakeClock
) -> None:
    await repository.add_account(account="1234", site="HQ", key=None)
    await writer.submit(
        [dc09_signal(at=clock.now(), seq=f"{n:04d}", code="401", zone="001") for n in range(7)]
    )
    clock.advance(100 * DAY)
    result = await purge_due(engine, POLICY.cutoffs(clock.now()), partial(_entry, clock), batch=3)
    assert result.signals == 7
    assert await _count(engine, signals) == 0
    assert len(await SqlAuditLog(engine, clock).search(limit=10)) == 3
    assert await _count(engine, alarm_timeline) == 0


async def test_images_go_before_their_signals_and_open_alarms_keep_theirs(
    engine: AsyncEngine, writer: GroupCommitWriter, repository: SqlRepository, clock: FakeClock
) -> None:
    await repository.add_account(account="1234", site="HQ", key=None)
    picture = (Snapshot(content_type="image/jpeg", data=b"\xff\xd8jpeg"),)
    logged = replace(dc09_signal(at=clock.now(), seq="0001", code="401"), snapshots=picture)
    alarmed = replace(dc09_signal(at=clock.now(), seq="0002", zone="009"), snapshots=picture)
    await writer.submit([logged, alarmed])
    clock.advance(40 * DAY)
    result = await purge_due(engine, POLICY.cutoffs(clock.now()), partial(_entry, clock))
    assert result == PurgeResult(images=1)
    assert await _count(engine, signal_snapshots) == 1
    assert await _count(engine, signals) == 2
    clock.advance(60 * DAY)
    result = await purge_due(engine, POLICY.cutoffs(clock.now()), partial(_entry, clock))
    assert result == PurgeResult(signals=1)
    # The open alarm keeps its signal and picture, however old.
    assert await _count(engine, signal_snapshots) == 1
    assert await _count(engine, signals) == 1


async def test_what_a_caller_said_goes_after_the_notes_period_even_on_an_open_alarm(
    engine: AsyncEngine, writer: GroupCommitWriter, repository: SqlRepository, clock: FakeClock
) -> None:
    said = "Jo Bloggs on 07700 900123: smoke from the back door"
    call = Signal(
        source=SignalSource.CALL,
        received_at=clock.now(),
        device="call-taker:ann",
        code=SourceCode(system=CodeSystem.TAXONOMY, code="110"),
        zone=None,
        text=said,
        raw=f'{{"report": "{said}"}}',
        site="Depot",
    )
    (record,) = await writer.submit([call])
    assert record is not None
    clock.advance(200 * DAY)
    result = await purge_due(engine, POLICY.cutoffs(clock.now()), partial(_entry, clock))
    assert result == PurgeResult(notes=1)
    [kept] = await repository.list_signals(device=None, alarm_id=None, limit=5, after=None)
    assert (kept.id, kept.signal.text, kept.signal.raw) == (record.id, None, REDACTED)

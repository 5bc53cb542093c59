"""The audit log in the store, on SQLite and PostgreSQL: appends, refusals, tamper detection."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import timedelta
from functools import partial
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine

from support.clock import FakeClock
from watchfloor.adapters.signing import AuditSigner, verify_with
from watchfloor.core.audit import AuditEntry, AuditOutcome
from watchfloor.core.errors import ConflictError, NotFoundError
from watchfloor.store.audit import SqlAuditLog
from watchfloor.store.repository import SqlRepository


def _entry(clock: FakeClock, action: str = "alarm.read", target: str = "alarm:1") -> AuditEntry:
    return AuditEntry(
        at=clock.now(), actor="ann", role="operator", via="token:desk", action=action, target=target
    )


@pytest.fixture
def audit_log(engine: AsyncEngine, clock: FakeClock) -> SqlAuditLog:
    return SqlAuditLog(engine, clock)


@pytest.fixture
def signer(tmp_path: Path) -> AuditSigner:
    return AuditSigner.load_or_create(tmp_path / "keys")


def _verifier(signer: AuditSigner) -> Callable[[str, bytes, str], bool]:
    return partial(verify_with, frozenset({signer.key_id}))


async def test_appends_chain_in_order(audit_log: SqlAuditLog, clock: FakeClock) -> None:
    first = await audit_log.record(_entry(clock))
    clock.advance(1)
    second = await audit_log.record(_entry(clock, target="alarm:2"))
    assert (first.seq, second.seq) == (1, 2)
    assert second.prev_hash == first.hash
    rows = await audit_log.search(limit=10)
    assert [r.seq for r in rows] == [2, 1]
    assert rows[0].entry == second.entry


async def test_concurrent_appends_make_one_valid_chain(
    audit_log: SqlAuditLog, clock: FakeClock, signer: AuditSigner
) -> None:
    await asyncio.gather(*(audit_log.record(_entry(clock, target=f"a:{n}")) for n in range(40)))
    report = await audit_log.verify(_verifier(signer))
    assert report.ok, report.problems
    assert report.rows == 40


async def test_the_database_refuses_update_and_delete(
    engine: AsyncEngine, audit_log: SqlAuditLog, clock: FakeClock, signer: AuditSigner
) -> None:
    await audit_log.record(_entry(clock))
    await audit_log.add_checkpoint(signer.key_id, signer.sign)
    for statement in (
        "UPDATE audit_log SET actor = 'mallory'",
        "DELETE FROM audit_log",
        "UPDATE audit_checkpoints SET count = 0",
        "DELETE FROM audit_checkpoints",
    ):
        with pytest.raises(DBAPIError, match="append-only"):
            async with engine.begin() as connection:
                await connection.execute(text(statement))
    assert (await audit_log.verify(_verifier(signer))).ok


async def _drop_triggers(engine: AsyncEngine) -> None:
    """What someone with full access to the database could do first."""
    async with engine.begin() as connection:
        if engine.dialect.name == "postgresql":
            await connection.execute(text("DROP TRIGGER audit_log_append_only ON audit_log"))
        else:
            await connection.execute(text("DROP TRIGGER audit_log_no_update"))
            await connection.execute(text("DROP TRIGGER audit_log_no_delete"))


async def _fill(audit_log: SqlAuditLog, clock: FakeClock, rows: int) -> None:
    for n in range(rows):
        clock.advance(1)
        await audit_log.record(_entry(clock, target=f"alarm:{n}"))


async def test_verify_names_a_row_changed_by_one_byte(
    engine: AsyncEngine, audit_log: SqlAuditLog, clock: FakeClock, signer: AuditSigner
) -> None:
    await _fill(audit_log, clock, 8)
    await _drop_triggers(engine)
    async with engine.begin() as connection:
        await connection.execute(text("UPDATE audit_log SET target = 'alarm:8' WHERE seq = 5"))
    report = await audit_log.verify(_verifier(signer))
    assert not report.ok
    assert report.first_broken == 5
    assert report.problems == ("row 5 was changed after it was written",)


async def test_verify_names_a_deleted_row(
    engine: AsyncEngine, audit_log: SqlAuditLog, clock: FakeClock, signer: AuditSigner
) -> None:
    await _fill(audit_log, clock, 8)
    await _drop_triggers(engine)
    async with engine.begin() as connection:
        await connection.execute(text("DELETE FROM audit_log WHERE seq = 3"))
    report = await audit_log.verify(_verifier(signer))
    assert report.first_broken == 4
    assert report.problems[0] == "row 3 is missing"


async def test_verify_detects_a_truncated_chain_through_the_checkpoint(
    engine: AsyncEngine, audit_log: SqlAuditLog, clock: FakeClock, signer: AuditSigner
) -> None:
    await _fill(audit_log, clock, 8)
    await audit_log.add_checkpoint(signer.key_id, signer.sign)
    await _drop_triggers(engine)
    async with engine.begin() as connection:
        await connection.execute(text("DELETE FROM audit_log WHERE seq > 5"))
    report = await audit_log.verify(_verifier(signer))
    assert not report.ok
    assert report.first_broken == 6
    assert "the log ends at row 5; rows after it were removed" in report.problems[0]


async def test_a_checkpoint_by_an_untrusted_key_fails(
    audit_log: SqlAuditLog, clock: FakeClock, signer: AuditSigner, tmp_path: Path
) -> None:
    await _fill(audit_log, clock, 2)
    stranger = AuditSigner.load_or_create(tmp_path / "stranger")
    await audit_log.add_checkpoint(stranger.key_id, stranger.sign)
    report = await audit_log.verify(_verifier(signer))
    assert "does not verify with a trusted key" in report.problems[0]
    assert (await audit_log.verify(partial(verify_with, frozenset({stranger.key_id})))).ok


async def test_an_audited_write_and_its_row_commit_together(
    repository: SqlRepository, audit_log: SqlAuditLog, clock: FakeClock
) -> None:
    async with repository.audited(_entry(clock, "account.add", "account:1234")) as bound:
        await bound.add_account(account="1234", site="HQ", key=None)
    assert await repository.find_account("1234") is not None
    [row] = await audit_log.search(limit=5)
    assert (row.entry.action, row.entry.outcome) == ("account.add", AuditOutcome.OK)


async def _add_new_then_existing(repository: SqlRepository, clock: FakeClock) -> None:
    async with repository.audited(_entry(clock, "account.add", "account:5678")) as bound:
        await bound.add_account(account="5678", site="HQ", key=None)
        await bound.add_account(account="1234", site="HQ", key=None)


async def test_a_failed_audited_action_rolls_back_and_is_recorded_as_failed(
    repository: SqlRepository, audit_log: SqlAuditLog, clock: FakeClock
) -> None:
    await repository.add_account(account="1234", site="HQ", key=None)
    with pytest.raises(ConflictError):
        await _add_new_then_existing(repository, clock)
    assert await repository.find_account("5678") is None
    [row] = await audit_log.search(limit=5)
    assert (row.entry.target, row.entry.outcome) == ("account:5678", AuditOutcome.FAILED)
    with pytest.raises(NotFoundError):
        async with repository.audited(_entry(clock, "alarm.read", "alarm:404")) as bound:
            await bound.get_alarm(404)
    assert [r.entry.outcome for r in await audit_log.search(limit=5)] == [
        AuditOutcome.FAILED,
        AuditOutcome.FAILED,
    ]


async def test_audited_units_do_not_nest(repository: SqlRepository, clock: FakeClock) -> None:
    async with repository.audited(_entry(clock)) as bound:
        with pytest.raises(RuntimeError, match="nest"):
            async with bound.audited(_entry(clock)):
                pass


async def test_search_filters_and_counts(audit_log: SqlAuditLog, clock: FakeClock) -> None:
    start = clock.now()
    await audit_log.record(_entry(clock, "search.alarms", "alarms"))
    clock.advance(60)
    await audit_log.record(_entry(clock, "export.statistics", "statistics:type"))
    await audit_log.record(_entry(clock, "alarm.read", "alarm:7"))
    assert [r.entry.action for r in await audit_log.search(limit=10, action="alarm.")] == [
        "alarm.read"
    ]
    assert [r.seq for r in await audit_log.search(limit=10, target="alarm:7")] == [3]
    assert [r.seq for r in await audit_log.search(limit=10, before=3)] == [2, 1]
    assert [r.seq for r in await audit_log.search(limit=10, end=start + timedelta(seconds=1))] == [
        1
    ]
    assert [
        r.seq for r in await audit_log.search(limit=10, start=start + timedelta(seconds=1))
    ] == [
        3,
        2,
    ]
    assert await audit_log.search(limit=10, actor="nobody") == []
    counts = await audit_log.count_actions(
        ["search.alarms", "export.statistics", "export.alarms"], since=start
    )
    assert counts == {"search.alarms": 1, "export.statistics": 1, "export.alarms": 0}


async def test_checkpoints_and_the_latest(
    audit_log: SqlAuditLog, clock: FakeClock, signer: AuditSigner
) -> None:
    assert await audit_log.latest_checkpoint() is None
    empty = await audit_log.add_checkpoint(signer.key_id, signer.sign)
    assert empty.count == 0
    await _fill(audit_log, clock, 3)
    latest = await audit_log.add_checkpoint(signer.key_id, signer.sign)
    assert latest.count == 3
    assert await audit_log.latest_checkpoint() == latest
    assert [c.count for c in await audit_log.checkpoints()] == [0, 3]
    assert (await audit_log.verify(_verifier(signer))).ok


def test_the_signing_key_is_kept_private_and_reused(tmp_path: Path) -> None:
    first = AuditSigner.load_or_create(tmp_path)
    path = tmp_path / "audit-signing-key.pem"
    assert path.stat().st_mode & 0o777 == 0o600
    assert AuditSigner.load_or_create(tmp_path).key_id == first.key_id
    signature = first.sign(b"m")
    assert verify_with(frozenset({first.key_id}), first.key_id, b"m", signature)
    assert not verify_with(frozenset({first.key_id}), first.key_id, b"n", signature)
    assert not verify_with(frozenset(), first.key_id, b"m", signature)
    assert not verify_with(frozenset({"zz"}), "zz", b"m", signature)

"""Refusals counted into the audit chain, on SQLite and PostgreSQL: exact counts, a valid chain."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncEngine

from support.clock import FakeClock
from watchfloor.adapters.refusals import RefusalAudit, open_refusal_audit
from watchfloor.adapters.signing import AuditSigner, verify_with
from watchfloor.core.audit import AuditEntry, AuditOutcome
from watchfloor.core.refusals import repeat_count
from watchfloor.store.audit import SqlAuditLog

INTERVAL = timedelta(minutes=5)


def _guess(clock: FakeClock, n: int, peer: str = "192.0.2.7") -> AuditEntry:
    return AuditEntry(
        at=clock.now(),
        actor="anonymous",
        role=None,
        via="none",
        action="token.rejected",
        target="GET /api/alarms",
        peer=peer,
        outcome=AuditOutcome.DENIED,
        digest=f"{n:064x}",
    )


async def _verified(audit_log: SqlAuditLog, tmp_path: Path) -> None:
    signer = AuditSigner.load_or_create(tmp_path / "keys")
    await audit_log.add_checkpoint(signer.key_id, signer.sign)
    report = await audit_log.verify(lambda *args: verify_with(frozenset({signer.key_id}), *args))
    assert report.ok, report.problems


async def test_concurrent_refusals_make_two_rows_and_a_valid_chain(
    engine: AsyncEngine, clock: FakeClock, tmp_path: Path
) -> None:
    audit_log = SqlAuditLog(engine, clock)
    refusals = RefusalAudit(audit_log.record, clock, interval=INTERVAL)

    await asyncio.gather(*(refusals.record(_guess(clock, n)) for n in range(500)))
    assert await refusals.close_due() == 0
    clock.advance(INTERVAL.total_seconds())
    assert await refusals.close_due() == 1

    rows = await audit_log.search(limit=1000)
    assert len(rows) == 2
    assert sum(repeat_count(r.entry) for r in rows) == 500
    await _verified(audit_log, tmp_path)


async def test_other_entries_pass_straight_through(engine: AsyncEngine, clock: FakeClock) -> None:
    audit_log = SqlAuditLog(engine, clock)
    refusals = RefusalAudit(audit_log.record, clock, interval=INTERVAL)
    read = AuditEntry(at=clock.now(), actor="ann", role="operator", via="t", action="alarm.read")
    for _ in range(3):
        await refusals.record(read)
    assert [r.entry for r in await audit_log.search(limit=10)] == [read] * 3


async def test_the_counts_still_open_are_written_when_the_block_ends(
    engine: AsyncEngine, clock: FakeClock, tmp_path: Path
) -> None:
    audit_log = SqlAuditLog(engine, clock)
    async with open_refusal_audit(audit_log.record, clock, interval=INTERVAL) as refusals:
        for n in range(30):
            await refusals.record(_guess(clock, n, peer="192.0.2.1"))
            await refusals.record(_guess(clock, n, peer="192.0.2.2"))
        assert len(await audit_log.search(limit=100)) == 2

    rows = [r.entry for r in reversed(await audit_log.search(limit=100))]
    assert [(e.peer, repeat_count(e)) for e in rows] == [
        ("192.0.2.1", 1),
        ("192.0.2.2", 1),
        ("192.0.2.1", 29),
        ("192.0.2.2", 29),
    ]
    await _verified(audit_log, tmp_path)

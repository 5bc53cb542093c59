"""The audit chain's rules: sealing, verification, and what tampering each check catches."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from watchfloor.core.audit import (
    GENESIS_HASH,
    AuditEntry,
    AuditOutcome,
    AuditRecord,
    ChainVerifier,
    Checkpoint,
    VerifyReport,
    canonical_row,
    checkpoint_message,
    content_digest,
    seal_entry,
)

T0 = datetime(2026, 11, 28, 3, 0, tzinfo=UTC)


def _entry(n: int) -> AuditEntry:
    return AuditEntry(
        at=T0 + timedelta(seconds=n),
        actor=f"user{n % 3}",
        role="operator",
        via="token:desk",
        action="alarm.read",
        target=f"alarm:{n}",
        peer="127.0.0.1",
    )


def _chain(length: int) -> list[AuditRecord]:
    records: list[AuditRecord] = []
    prev = GENESIS_HASH
    for seq in range(1, length + 1):
        record = seal_entry(seq, _entry(seq), prev)
        records.append(record)
        prev = record.hash
    return records


def _always(key_id: str, message: bytes, signature: str) -> bool:
    return signature == f"signed:{key_id}:{message.hex()}"


def _checkpoint(records: list[AuditRecord], count: int) -> Checkpoint:
    head = records[count - 1].hash if count else GENESIS_HASH
    message = checkpoint_message(count, head, T0)
    return Checkpoint(
        count=count, head_hash=head, at=T0, key_id="k", signature=f"signed:k:{message.hex()}"
    )


def _verify(records: list[AuditRecord], checkpoints: Sequence[Checkpoint] = ()) -> VerifyReport:
    verifier = ChainVerifier()
    verifier.want_hashes_at(c.count for c in checkpoints)
    for record in records:
        verifier.feed(record)
    return verifier.finish(checkpoints, _always)


def test_an_intact_chain_verifies() -> None:
    records = _chain(10)
    report = _verify(records, [_checkpoint(records, 5), _checkpoint(records, 10)])
    assert report.ok
    assert (report.rows, report.checkpoints, report.first_broken) == (10, 2, None)
    assert report.head_hash == records[-1].hash


def test_the_first_row_chains_from_genesis() -> None:
    assert _chain(1)[0].prev_hash == GENESIS_HASH
    assert _verify([]).ok


def test_canonical_row_is_stable_and_utc() -> None:
    entry = _entry(1)
    shifted = dataclasses.replace(entry, at=entry.at.astimezone(UTC).astimezone())
    assert canonical_row(1, entry) == canonical_row(1, shifted)
    assert canonical_row(1, entry).startswith(b'{"action":"alarm.read","actor":"user1"')
    with pytest.raises(ValueError, match="naive"):
        canonical_row(1, dataclasses.replace(entry, at=datetime(2026, 1, 1)))  # noqa: DTZ001


def test_a_changed_row_is_named() -> None:
    records = _chain(6)
    records[3] = dataclasses.replace(
        records[3], entry=dataclasses.replace(records[3].entry, actor="mallory")
    )
    report = _verify(records)
    assert not report.ok
    assert report.first_broken == 4
    assert report.problems == ("row 4 was changed after it was written",)


def test_a_changed_row_with_a_recomputed_hash_breaks_the_next_link() -> None:
    records = _chain(6)
    forged = seal_entry(
        4, dataclasses.replace(records[3].entry, target="alarm:99"), records[2].hash
    )
    records[3] = forged
    report = _verify(records)
    assert report.first_broken == 5
    assert "row 5 does not link to the row before it" in report.problems[0]


def test_a_deleted_row_is_named() -> None:
    records = _chain(6)
    del records[2]
    report = _verify(records)
    assert report.first_broken == 4
    assert report.problems[0] == "row 3 is missing"


def test_several_deleted_rows_are_named_as_a_range() -> None:
    records = _chain(8)
    del records[2:5]
    assert _verify(records).problems[0] == "rows 3 to 5 are missing"


def test_a_repeated_row_is_reported() -> None:
    records = _chain(4)
    records.append(records[1])
    assert "row 2 appears again after row 4" in _verify(records).problems


def test_a_truncated_chain_is_caught_by_a_checkpoint() -> None:
    records = _chain(10)
    checkpoints = [_checkpoint(records, 10)]
    report = _verify(records[:7], checkpoints)
    assert not report.ok
    assert report.first_broken == 8
    assert "the log ends at row 7; rows after it were removed" in report.problems[0]


def test_a_rewritten_chain_does_not_match_its_checkpoint() -> None:
    records = _chain(5)
    checkpoint = _checkpoint(records, 5)
    rewritten: list[AuditRecord] = []
    prev = GENESIS_HASH
    for record in records:
        entry = dataclasses.replace(record.entry, actor="someone else")
        rewritten.append(seal_entry(record.seq, entry, prev))
        prev = rewritten[-1].hash
    report = _verify(rewritten, [checkpoint])
    assert report.first_broken == 5
    assert "row 5 is not the row it signed" in report.problems[0]


def test_a_forged_checkpoint_signature_is_reported() -> None:
    records = _chain(3)
    forged = dataclasses.replace(_checkpoint(records, 3), signature="00")
    report = _verify(records, [forged])
    assert "the signature does not verify with a trusted key" in report.problems[0]


def test_content_digest_hides_the_content() -> None:
    digest = content_digest("caller said: Jane Doe, 07700 900123")
    assert len(digest) == 64
    assert "Jane" not in digest
    assert content_digest(b"x") == content_digest("x")


FIELDS = ("actor", "role", "via", "action", "target", "peer", "reason", "digest")


@given(
    length=st.integers(min_value=1, max_value=12),
    index=st.integers(min_value=0, max_value=11),
    field=st.sampled_from(FIELDS),
    value=st.text(max_size=20),
)
def test_any_change_to_any_field_of_any_row_is_detected(
    length: int, index: int, field: str, value: str
) -> None:
    records = _chain(length)
    index %= length
    original = records[index].entry
    changes: dict[str, object] = {field: value}
    changed = dataclasses.replace(original, **changes)  # type: ignore[arg-type]
    if changed == original:
        return
    records[index] = dataclasses.replace(records[index], entry=changed)
    report = _verify(records)
    assert report.first_broken == index + 1


@given(outcome=st.sampled_from(AuditOutcome), seconds=st.integers(0, 10**6))
def test_outcome_and_time_are_covered_by_the_hash(outcome: AuditOutcome, seconds: int) -> None:
    records = _chain(2)
    entry = dataclasses.replace(
        records[0].entry, outcome=outcome, at=records[0].entry.at + timedelta(seconds=seconds)
    )
    if entry == records[0].entry:
        return
    records[0] = dataclasses.replace(records[0], entry=entry)
    assert _verify(records).first_broken == 1

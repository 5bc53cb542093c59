"""The audit log's rules: what a row holds, how rows are chained, and how a chain is verified.

Theory of operation. Every read and write of alarm data through the API, every login and
every change of equipment, users or the taxonomy appends one ``AuditEntry``. The store
numbers entries 1, 2, 3 ... and seals each into an ``AuditRecord`` whose hash is
SHA-256(previous hash || canonical bytes of the row), the first row chaining from
``GENESIS_HASH``. Changing any byte of a row changes its hash and breaks the link to the next
row; deleting a row leaves a gap in the numbers and a broken link. Deleting rows at the end
leaves a shorter chain that is consistent in itself: that is what signed checkpoints are for.
A ``Checkpoint`` states (row count, head hash, time) and is signed with an Ed25519 key the
deployment keeps; a chain shorter than a checkpoint's count, or whose row at that count has
another hash, has been truncated or rewritten.

Rows hold no personal data: they name what was touched by kind and id (``alarm:42``) and,
where content matters (a note's text, an exported file), by its SHA-256 ``digest``. A purge
of the data therefore leaves the chain intact.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Final

__all__ = [
    "GENESIS_HASH",
    "AuditEntry",
    "AuditOutcome",
    "AuditRecord",
    "ChainVerifier",
    "Checkpoint",
    "VerifyReport",
    "canonical_row",
    "checkpoint_message",
    "content_digest",
    "seal_entry",
]

#: The "previous hash" of the first row.
GENESIS_HASH: Final = "0" * 64


class AuditOutcome(StrEnum):
    """How the audited action ended."""

    OK = "ok"
    #: Refused for lack of a permission, or a failed login.
    DENIED = "denied"
    #: Attempted but failed (not found, conflict, invalid transition ...).
    FAILED = "failed"


@dataclass(frozen=True, slots=True, kw_only=True)
class AuditEntry:
    """One audited action: who, what, when (UTC), from where, why, and how it ended.

    ``actor`` is a user name (or ``system``/``anonymous``); ``via`` how they authenticated
    (``token:<label>``, ``session``, ``cli``). ``action`` is a dotted verb such as
    ``alarm.read`` or ``login.failed``; ``target`` names the object (``alarm:42``) and
    ``digest`` is the SHA-256 of content that must not be copied here (see ``content_digest``).
    ``reason`` is what the actor gave (required for searches and exports).
    """

    at: datetime
    actor: str
    role: str | None
    via: str
    action: str
    target: str | None = None
    peer: str | None = None
    reason: str | None = None
    outcome: AuditOutcome = AuditOutcome.OK
    digest: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class AuditRecord:
    """A sealed row: its number in the chain, the entry, and the two hashes linking it."""

    seq: int
    entry: AuditEntry
    prev_hash: str
    hash: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Checkpoint:
    """A signed statement that the chain had ``count`` rows ending in ``head_hash`` at ``at``.

    ``key_id`` is the hex of the raw Ed25519 public key; ``signature`` the hex signature over
    ``checkpoint_message``.
    """

    count: int
    head_hash: str
    at: datetime
    key_id: str
    signature: str


def content_digest(content: str | bytes) -> str:
    """Return the SHA-256 hex of content the audit row refers to but must not contain."""
    data = content.encode("utf-8") if isinstance(content, str) else content
    return hashlib.sha256(data).hexdigest()


def _utc_text(at: datetime) -> str:
    if at.tzinfo is None:
        raise ValueError(f"naive datetime {at!r} in the audit log; pass aware UTC")
    return at.astimezone(UTC).isoformat(timespec="microseconds")


def canonical_row(seq: int, entry: AuditEntry) -> bytes:
    """Return the canonical bytes of a row: compact JSON, sorted keys, UTC time, UTF-8.

    The same row always gives the same bytes on every backend and platform, so a chain
    written on PostgreSQL verifies from an export, and one written today verifies in years.
    """
    document = {
        "seq": seq,
        "at": _utc_text(entry.at),
        "actor": entry.actor,
        "role": entry.role,
        "via": entry.via,
        "action": entry.action,
        "target": entry.target,
        "peer": entry.peer,
        "reason": entry.reason,
        "outcome": entry.outcome.value,
        "digest": entry.digest,
    }
    return json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode(
        "utf-8"
    )


def _link(prev_hash: str, seq: int, entry: AuditEntry) -> str:
    return hashlib.sha256(prev_hash.encode("ascii") + canonical_row(seq, entry)).hexdigest()


def seal_entry(seq: int, entry: AuditEntry, prev_hash: str) -> AuditRecord:
    """Seal an entry as row ``seq`` of the chain, after the row whose hash is ``prev_hash``."""
    return AuditRecord(seq=seq, entry=entry, prev_hash=prev_hash, hash=_link(prev_hash, seq, entry))


def checkpoint_message(count: int, head_hash: str, at: datetime) -> bytes:
    """Return the bytes a checkpoint's signature covers."""
    return f"watchfloor-audit-checkpoint/1|{count}|{head_hash}|{_utc_text(at)}".encode("ascii")


@dataclass(frozen=True, slots=True, kw_only=True)
class VerifyReport:
    """The result of verifying a chain and its checkpoints.

    ``first_broken`` is the number of the first row found wrong (a changed row, or the row
    after a gap); ``problems`` says what is wrong, first problem first. ``ok`` only when
    there are none.
    """

    rows: int
    head_hash: str
    checkpoints: int
    first_broken: int | None
    problems: tuple[str, ...]

    @property
    def ok(self) -> bool:
        """True when the chain and every checkpoint verified."""
        return not self.problems


#: Checks a signature: (public key hex, message, signature hex) -> valid.
VerifySignature = Callable[[str, bytes, str], bool]


class ChainVerifier:
    """Verifies a chain fed row by row in order of ``seq``, so any length fits in memory.

    Feed every row with ``feed``, then call ``finish`` with the checkpoints.
    """

    def __init__(self) -> None:
        self._expected_seq = 1
        self._prev_hash = GENESIS_HASH
        self._hashes_at: dict[int, str] = {}
        self._wanted: set[int] = set()
        self._first_broken: int | None = None
        self._problems: list[str] = []
        self._rows = 0

    def want_hashes_at(self, counts: Iterable[int]) -> None:
        """Remember the hashes of these rows (the checkpoints' counts) while feeding."""
        self._wanted.update(counts)

    def _broken(self, seq: int, problem: str) -> None:
        if self._first_broken is None:
            self._first_broken = seq
        self._problems.append(problem)

    def feed(self, record: AuditRecord) -> None:
        """Check one row against the previous one and against its own content."""
        self._rows += 1
        if record.seq != self._expected_seq:
            if record.seq > self._expected_seq:
                missing = (
                    f"row {self._expected_seq} is missing"
                    if record.seq == self._expected_seq + 1
                    else f"rows {self._expected_seq} to {record.seq - 1} are missing"
                )
            else:
                missing = f"row {record.seq} appears again after row {self._expected_seq - 1}"
            self._broken(record.seq, missing)
        if record.prev_hash != self._prev_hash:
            self._broken(
                record.seq,
                f"row {record.seq} does not link to the row before it "
                f"(previous hash {record.prev_hash[:12]}…, expected {self._prev_hash[:12]}…)",
            )
        recomputed = _link(record.prev_hash, record.seq, record.entry)
        if recomputed != record.hash:
            self._broken(record.seq, f"row {record.seq} was changed after it was written")
        if record.seq in self._wanted:
            self._hashes_at[record.seq] = record.hash
        # Continue from the stored hash, so that one changed row is reported once, not as a
        # broken link on every row after it.
        self._prev_hash = record.hash
        self._expected_seq = max(self._expected_seq, record.seq) + 1

    def finish(
        self, checkpoints: Iterable[Checkpoint], verify_signature: VerifySignature
    ) -> VerifyReport:
        """Check the checkpoints against the rows fed, and return the report."""
        problems = list(self._problems)
        first_broken = self._first_broken
        count = 0
        last_seq = self._expected_seq - 1
        for checkpoint in checkpoints:
            count += 1
            message = checkpoint_message(checkpoint.count, checkpoint.head_hash, checkpoint.at)
            label = f"checkpoint of {_utc_text(checkpoint.at)} ({checkpoint.count} rows)"
            if not verify_signature(checkpoint.key_id, message, checkpoint.signature):
                problems.append(f"{label}: the signature does not verify with a trusted key")
            if checkpoint.count > last_seq:
                problems.append(
                    f"{label}: the log ends at row {last_seq}; rows after it were removed"
                )
                first_broken = first_broken or last_seq + 1
            elif checkpoint.count > 0 and self._hashes_at.get(checkpoint.count) != (
                checkpoint.head_hash
            ):
                problems.append(f"{label}: row {checkpoint.count} is not the row it signed")
                first_broken = first_broken or checkpoint.count
        return VerifyReport(
            rows=self._rows,
            head_hash=self._prev_hash,
            checkpoints=count,
            first_broken=first_broken,
            problems=tuple(problems),
        )

"""Repeated refusals: the first of an interval written, the rest counted, the sum exact."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from watchfloor.core.audit import AuditEntry, AuditOutcome
from watchfloor.core.refusals import RefusalTally, repeat_count

START = datetime(2026, 1, 15, 3, 0, tzinfo=UTC)
MINUTE = timedelta(minutes=1)


def _refusal(
    at: datetime, *, peer: str | None = "10.0.0.9", actor: str = "anonymous", action: str = "x"
) -> AuditEntry:
    return AuditEntry(
        at=at,
        actor=actor,
        role=None,
        via="none",
        action=action,
        target="GET /api/alarms",
        peer=peer,
        outcome=AuditOutcome.DENIED,
        digest="d" * 64,
    )


def test_the_first_refusal_is_written_and_the_repeats_only_counted() -> None:
    tally = RefusalTally(interval=MINUTE)
    first = _refusal(START)

    assert tally.admit(first) == [first]
    assert tally.admit(_refusal(START + timedelta(seconds=1))) == []
    assert tally.admit(_refusal(START + timedelta(seconds=59))) == []
    assert tally.close_due(START + timedelta(seconds=59)) == []
    [summary] = tally.close_due(START + MINUTE)

    assert summary.reason == (
        "2 more from this source between 2026-01-15T03:00:00+00:00 and 2026-01-15T03:00:59+00:00"
    )
    assert (summary.action, summary.peer, summary.actor) == ("x", "10.0.0.9", "anonymous")
    assert (summary.outcome, summary.target, summary.digest) == (AuditOutcome.DENIED, None, None)
    assert summary.at == START + MINUTE
    assert repeat_count(summary) == 2
    assert repeat_count(first) == 1
    assert tally.open_keys == 0


def test_an_interval_without_repeats_leaves_no_summary() -> None:
    tally = RefusalTally(interval=MINUTE)
    tally.admit(_refusal(START))
    assert tally.close_due(START + MINUTE) == []
    assert tally.close_all(START + MINUTE) == []


def test_sources_actors_and_actions_are_counted_apart() -> None:
    tally = RefusalTally(interval=MINUTE)
    entries = [
        _refusal(START),
        _refusal(START, peer="10.0.0.10"),
        _refusal(START, actor="olga"),
        _refusal(START, action="y"),
    ]
    assert [row for entry in entries for row in tally.admit(entry)] == entries
    assert tally.open_keys == 4


def test_a_refusal_after_the_interval_opens_a_new_one_after_the_old_summary() -> None:
    tally = RefusalTally(interval=MINUTE)
    tally.admit(_refusal(START))
    tally.admit(_refusal(START + timedelta(seconds=30)))
    later = _refusal(START + timedelta(seconds=90))

    summary, written = tally.admit(later)

    assert repeat_count(summary) == 1
    assert summary.at == later.at
    assert written == later
    assert tally.admit(_refusal(START + timedelta(seconds=100))) == []


def test_shutdown_writes_every_open_count() -> None:
    tally = RefusalTally(interval=MINUTE)
    for peer in ("a", "b"):
        for second in range(3):
            tally.admit(_refusal(START + timedelta(seconds=second), peer=peer))
    summaries = tally.close_all(START + timedelta(seconds=5))
    assert sorted((s.peer, repeat_count(s)) for s in summaries) == [("a", 2), ("b", 2)]
    assert tally.open_keys == 0


def test_sources_beyond_the_limit_share_one_count_per_action() -> None:
    tally = RefusalTally(interval=MINUTE, max_sources=2)
    tally.admit(_refusal(START, peer="a"))
    tally.admit(_refusal(START, peer="b"))
    third = _refusal(START, peer="c")

    assert tally.admit(third) == [third]  # written in full: it opens the shared count
    assert tally.admit(_refusal(START, peer="d")) == []
    assert tally.admit(_refusal(START, peer="e")) == []
    summaries = {s.peer: s for s in tally.close_all(START + MINUTE)}

    assert set(summaries) == {None}
    shared = summaries[None]
    assert (shared.actor, shared.role, shared.via) == ("(other sources)", None, "none")
    assert repeat_count(shared) == 2


def test_a_full_table_first_closes_what_is_due() -> None:
    tally = RefusalTally(interval=MINUTE, max_sources=1)
    tally.admit(_refusal(START, peer="a"))
    tally.admit(_refusal(START, peer="a"))
    later = _refusal(START + MINUTE, peer="b")

    summary, written = tally.admit(later)

    assert (summary.peer, repeat_count(summary)) == ("a", 1)
    assert written == later
    assert tally.open_keys == 1


def test_summaries_count_only_refusals() -> None:
    tally = RefusalTally(interval=MINUTE)
    granted = AuditEntry(
        at=START, actor="olga", role="operator", via="token:desk", action="x", reason="1 more"
    )
    assert repeat_count(granted) == 1
    with pytest.raises(ValueError, match="positive"):
        RefusalTally(interval=timedelta(0))
    assert tally.open_keys == 0


@given(
    st.lists(
        st.tuples(st.sampled_from(["a", "b", None]), st.integers(min_value=0, max_value=600)),
        max_size=200,
    ),
    st.integers(min_value=1, max_value=3),
)
def test_the_rows_add_up_to_every_refusal(refusals: list[tuple[str | None, int]], cap: int) -> None:
    tally = RefusalTally(interval=MINUTE, max_sources=cap)
    rows: list[AuditEntry] = []
    for peer, second in sorted(refusals, key=lambda r: r[1]):
        rows += tally.admit(_refusal(START + timedelta(seconds=second), peer=peer))
        rows += tally.close_due(START + timedelta(seconds=second))
    rows += tally.close_all(START + timedelta(hours=1))
    assert sum(repeat_count(row) for row in rows) == len(refusals)
    # At most two rows (the first, a summary) per interval of a minute or more in ten minutes,
    # for each of three sources and the shared key of sources beyond the cap.
    assert len(rows) <= 2 * 11 * 4

"""Statistics checked against figures computed by hand on a fixed night."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from watchfloor.core.alarms import Outcome
from watchfloor.core.statistics import AlarmFact, Dimension, nearest_rank, summarise

NIGHT = datetime(2026, 3, 1, 22, 0, tzinfo=UTC)


def fact(
    id: int,
    *,
    site: str | None,
    minute: int,
    ack: int | None,
    resolve: int | None,
    outcome: Outcome | None = None,
    by: str | None = "ana",
    type_code: int = 300,
    escalations: int = 0,
) -> AlarmFact:
    first = NIGHT + timedelta(minutes=minute)
    return AlarmFact(
        id=id,
        type_code=type_code,
        type_name="Burglary" if type_code == 300 else "Fire",
        site=site,
        priority=3,
        first_at=first,
        acknowledged_at=first + timedelta(seconds=ack) if ack is not None else None,
        acknowledged_by=by if ack is not None else None,
        dispatched_at=None,
        resolved_at=first + timedelta(seconds=resolve) if resolve is not None else None,
        resolved_by=by if resolve is not None else None,
        outcome=outcome,
        escalation_count=escalations,
    )


# Depot: 4 alarms, acknowledged after 10, 20, 30, 40 s; resolved 3 (2 false) after 100, 200,
# 300 s. Harbour: 2 alarms, one acknowledged after 5 s by bob and resolved genuine after 50 s,
# one never acknowledged and escalated twice. One fire at 23:30 with no site.
FACTS = [
    fact(1, site="Depot", minute=0, ack=10, resolve=100, outcome=Outcome.FALSE),
    fact(2, site="Depot", minute=5, ack=20, resolve=200, outcome=Outcome.FALSE),
    fact(3, site="Depot", minute=10, ack=30, resolve=300, outcome=Outcome.GENUINE),
    fact(4, site="Depot", minute=15, ack=40, resolve=None),
    fact(5, site="Harbour", minute=20, ack=5, resolve=50, outcome=Outcome.GENUINE, by="bob"),
    fact(6, site="Harbour", minute=25, ack=None, resolve=None, escalations=2),
    fact(7, site=None, minute=90, ack=8, resolve=None, type_code=110),
]


def test_nearest_rank_by_hand() -> None:
    values = [10.0, 20.0, 30.0, 40.0]
    assert nearest_rank(values, 50) == 20.0  # ceil(0.5 * 4) = 2nd
    assert nearest_rank(values, 90) == 40.0  # ceil(3.6) = 4th
    assert nearest_rank(values, 1) == 10.0
    assert nearest_rank([], 50) is None


def test_by_site() -> None:
    rows, total = summarise(FACTS, Dimension.SITE)
    assert [r.label for r in rows] == ["(no site)", "Depot", "Harbour"]
    depot = rows[1]
    assert (depot.alarms, depot.acknowledged, depot.resolved, depot.false_alarms) == (4, 4, 3, 2)
    assert depot.false_rate == 2 / 3
    assert (depot.to_acknowledge.p50, depot.to_acknowledge.p90, depot.to_acknowledge.p99) == (
        20.0,
        40.0,
        40.0,
    )
    assert (depot.to_resolve.count, depot.to_resolve.p50, depot.to_resolve.p99) == (3, 200.0, 300.0)
    harbour = rows[2]
    assert (harbour.alarms, harbour.escalations, harbour.false_rate) == (2, 2, 0.0)
    assert rows[0].false_rate is None  # nothing resolved: no rate, not zero
    assert (total.alarms, total.acknowledged, total.resolved, total.escalations) == (7, 6, 4, 2)
    # All acknowledgement times sorted: 5, 8, 10, 20, 30, 40 -> p50 = 3rd = 10, p90 = 6th = 40.
    assert (total.to_acknowledge.p50, total.to_acknowledge.p90) == (10.0, 40.0)


def test_by_operator_type_and_hour() -> None:
    operators, _ = summarise(FACTS, Dimension.OPERATOR)
    assert [(r.label, r.alarms) for r in operators] == [
        ("(not acknowledged)", 1),
        ("ana", 5),
        ("bob", 1),
    ]
    types, _ = summarise(FACTS, Dimension.TYPE)
    assert [(r.key, r.label, r.alarms) for r in types] == [
        ("110", "110 Fire", 1),
        ("300", "300 Burglary", 6),
    ]
    hours, _ = summarise(FACTS, Dimension.HOUR)
    assert [(r.label, r.alarms) for r in hours] == [("22:00 UTC", 6), ("23:00 UTC", 1)]


def test_an_empty_window() -> None:
    rows, total = summarise([], Dimension.TYPE)
    assert rows == []
    assert (total.alarms, total.to_acknowledge.count, total.to_acknowledge.p50) == (0, 0, None)

"""Statistics for supervisors: counts, time to acknowledge and resolve, false-alarm rates.

Pure aggregation over ``AlarmFact`` rows read from the store for a time window. Percentiles
use the nearest-rank method (the smallest value with at least p % of the values at or below
it), which is what a person computes by hand from a sorted list, and never interpolates a
duration nobody experienced.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from types import MappingProxyType

from watchfloor.core.alarms import Outcome

__all__ = [
    "AlarmFact",
    "Dimension",
    "Durations",
    "StatisticsRow",
    "nearest_rank",
    "summarise",
]


class Dimension(StrEnum):
    """What statistics are grouped by."""

    TYPE = "type"
    SITE = "site"
    OPERATOR = "operator"
    HOUR = "hour"


@dataclass(frozen=True, slots=True, kw_only=True)
class AlarmFact:
    """What statistics need to know of one alarm."""

    id: int
    type_code: int
    type_name: str
    site: str | None
    priority: int
    first_at: datetime
    acknowledged_at: datetime | None
    acknowledged_by: str | None
    dispatched_at: datetime | None
    resolved_at: datetime | None
    resolved_by: str | None
    outcome: Outcome | None
    escalation_count: int
    #: When the first unit dispatched to the alarm arrived on scene (None: none did).
    arrived_at: datetime | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Durations:
    """Percentiles of a duration in seconds (None when there is nothing to measure)."""

    count: int
    p50: float | None
    p90: float | None
    p99: float | None


@dataclass(frozen=True, slots=True, kw_only=True)
class StatisticsRow:
    """One group: its key and label, counts, rates and durations."""

    key: str
    label: str
    alarms: int
    acknowledged: int
    resolved: int
    false_alarms: int
    false_rate: float | None
    escalations: int
    to_acknowledge: Durations
    to_resolve: Durations
    to_dispatch: Durations
    to_arrival: Durations


def nearest_rank(sorted_values: Sequence[float], percent: float) -> float | None:
    """Return the nearest-rank percentile of values sorted ascending (None if empty)."""
    if not sorted_values:
        return None
    rank = max(1, math.ceil(percent / 100 * len(sorted_values)))
    return sorted_values[rank - 1]


def _durations(values: Iterable[float]) -> Durations:
    ordered = sorted(values)
    return Durations(
        count=len(ordered),
        p50=nearest_rank(ordered, 50),
        p90=nearest_rank(ordered, 90),
        p99=nearest_rank(ordered, 99),
    )


_KEYS: Mapping[Dimension, Callable[[AlarmFact], tuple[str, str]]] = MappingProxyType(
    {
        Dimension.TYPE: lambda f: (str(f.type_code), f"{f.type_code} {f.type_name}"),
        Dimension.SITE: lambda f: (f.site or "", f.site or "(no site)"),
        Dimension.OPERATOR: lambda f: (
            f.acknowledged_by or "",
            f.acknowledged_by or "(not acknowledged)",
        ),
        Dimension.HOUR: lambda f: (f"{f.first_at.hour:02d}", f"{f.first_at.hour:02d}:00 UTC"),
    }
)


def _row(key: str, label: str, facts: Sequence[AlarmFact]) -> StatisticsRow:
    resolved = [f for f in facts if f.resolved_at is not None]
    false_alarms = sum(f.outcome is Outcome.FALSE for f in resolved)
    return StatisticsRow(
        key=key,
        label=label,
        alarms=len(facts),
        acknowledged=sum(f.acknowledged_at is not None for f in facts),
        resolved=len(resolved),
        false_alarms=false_alarms,
        false_rate=false_alarms / len(resolved) if resolved else None,
        escalations=sum(f.escalation_count for f in facts),
        to_acknowledge=_durations(
            (f.acknowledged_at - f.first_at).total_seconds()
            for f in facts
            if f.acknowledged_at is not None
        ),
        to_resolve=_durations(
            (f.resolved_at - f.first_at).total_seconds() for f in facts if f.resolved_at is not None
        ),
        to_dispatch=_durations(
            (f.dispatched_at - f.first_at).total_seconds()
            for f in facts
            if f.dispatched_at is not None
        ),
        to_arrival=_durations(
            (f.arrived_at - f.first_at).total_seconds() for f in facts if f.arrived_at is not None
        ),
    )


def summarise(
    facts: Iterable[AlarmFact], by: Dimension
) -> tuple[list[StatisticsRow], StatisticsRow]:
    """Return one row per group (ordered by key) and the row for everything together."""
    everything = list(facts)
    groups: dict[tuple[str, str], list[AlarmFact]] = {}
    for fact in everything:
        groups.setdefault(_KEYS[by](fact), []).append(fact)
    rows = [_row(key, label, group) for (key, label), group in sorted(groups.items())]
    return rows, _row("", "all", everything)

"""Routes for supervisors' statistics: JSON for the console's charts and CSV for export."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated, Literal

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel

from watchfloor.api.audit import audited_in
from watchfloor.api.auth import allowed
from watchfloor.api.csv_export import csv_response
from watchfloor.api.params import UtcTime
from watchfloor.api.services import Services
from watchfloor.core.principals import Permission, Principal
from watchfloor.core.statistics import Dimension, Durations, StatisticsRow, summarise

__all__ = ["StatisticsOut", "statistics_router"]

#: The longest window one request may cover: a year of alarms.
MAX_WINDOW = timedelta(days=366)
#: The earliest ``to`` that leaves room for the default 24-hour window before it.
EARLIEST_END = datetime.min.replace(tzinfo=UTC) + timedelta(hours=24)


class DurationsOut(BaseModel):
    """Percentiles of a duration in seconds."""

    count: int
    p50: float | None
    p90: float | None
    p99: float | None

    @classmethod
    def of(cls, durations: Durations) -> DurationsOut:
        """Build from core durations."""
        return cls(count=durations.count, p50=durations.p50, p90=durations.p90, p99=durations.p99)


class StatisticsRowOut(BaseModel):
    """One group of the statistics."""

    key: str
    label: str
    alarms: int
    acknowledged: int
    resolved: int
    false_alarms: int
    false_rate: float | None
    escalations: int
    to_acknowledge: DurationsOut
    to_resolve: DurationsOut
    to_dispatch: DurationsOut
    to_arrival: DurationsOut

    @classmethod
    def of(cls, row: StatisticsRow) -> StatisticsRowOut:
        """Build from a core row."""
        return cls(
            key=row.key,
            label=row.label,
            alarms=row.alarms,
            acknowledged=row.acknowledged,
            resolved=row.resolved,
            false_alarms=row.false_alarms,
            false_rate=row.false_rate,
            escalations=row.escalations,
            to_acknowledge=DurationsOut.of(row.to_acknowledge),
            to_resolve=DurationsOut.of(row.to_resolve),
            to_dispatch=DurationsOut.of(row.to_dispatch),
            to_arrival=DurationsOut.of(row.to_arrival),
        )


class StatisticsOut(BaseModel):
    """Statistics of the alarms first raised in [from, to), grouped by one dimension."""

    start: datetime
    end: datetime
    by: Dimension
    rows: list[StatisticsRowOut]
    total: StatisticsRowOut


_CSV_COLUMNS = (
    "key",
    "label",
    "alarms",
    "acknowledged",
    "resolved",
    "false_alarms",
    "false_rate",
    "escalations",
    "ack_p50_s",
    "ack_p90_s",
    "ack_p99_s",
    "resolve_p50_s",
    "resolve_p90_s",
    "resolve_p99_s",
    "dispatch_p50_s",
    "dispatch_p90_s",
    "dispatch_p99_s",
    "arrival_p50_s",
    "arrival_p90_s",
    "arrival_p99_s",
)


def _csv_row(row: StatisticsRowOut) -> list[object]:
    durations = (row.to_acknowledge, row.to_resolve, row.to_dispatch, row.to_arrival)
    return [
        row.key,
        row.label,
        row.alarms,
        row.acknowledged,
        row.resolved,
        row.false_alarms,
        "" if row.false_rate is None else f"{row.false_rate:.4f}",
        row.escalations,
        *("" if v is None else f"{v:g}" for d in durations for v in (d.p50, d.p90, d.p99)),
    ]


def statistics_router() -> APIRouter:
    """Return the statistics routes."""
    router = APIRouter(prefix="/api")

    @router.get(
        "/stats",
        summary="Counts, time to acknowledge and resolve (p50/p90/p99), "
        "false-alarm rate and escalations, by type, site, operator or hour",
        response_model=StatisticsOut,
    )
    async def statistics(
        request: Request,
        principal: Annotated[Principal, allowed(Permission.READ_STATISTICS)],
        services: Services,
        start: Annotated[
            UtcTime | None, Query(alias="from", description="default: 24 h before `to`")
        ] = None,
        end: Annotated[UtcTime | None, Query(alias="to", description="default: now")] = None,
        by: Dimension = Dimension.TYPE,
        format: Annotated[Literal["json", "csv"], Query()] = "json",
        reason: Annotated[
            str | None, Query(max_length=500, description="why; required for the CSV export")
        ] = None,
    ) -> Response | StatisticsOut:
        clock = services.handling.clock
        end = end or clock.now()
        if start is None:
            if end < EARLIEST_END:
                raise HTTPException(422, "to: too early for the default window, give from")
            start = end - timedelta(hours=24)
        if not start < end or end - start > MAX_WINDOW:
            raise HTTPException(422, "from/to: from must be before to, at most 366 days apart")
        reason = (reason or "").strip() or None
        if format == "csv" and reason is None:
            raise HTTPException(422, "reason: say why you export (the export is audited)")
        action = "export.statistics" if format == "csv" else "statistics.read"
        target = f"statistics:{by}"
        async with audited_in(
            services.alarms, request, principal, action, target, reason=reason
        ) as alarms:
            facts = await alarms.alarm_facts(start=start, end=end)
        rows, total = summarise(facts, by)
        result = StatisticsOut(
            start=start,
            end=end,
            by=by,
            rows=[StatisticsRowOut.of(r) for r in rows],
            total=StatisticsRowOut.of(total),
        )
        if format == "json":
            return result
        return csv_response(
            _CSV_COLUMNS,
            (_csv_row(r) for r in [*result.rows, result.total]),
            filename=f"watchfloor-stats-{by}-{start:%Y%m%d}-{end:%Y%m%d}.csv",
        )

    return router

"""Searches and exports of stored alarms: a reason is required, and each one is audited.

A search looks back through alarms by site, device, type, state and time, as a supervisor
does to answer a complaint, an insurer or the police. Because it reaches past the live queue
into stored data, it needs the permission to search and export and a reason that goes into
the audit log; the transparency register counts both.
"""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import Response
from pydantic import AwareDatetime

from watchfloor.api.audit import audited_in
from watchfloor.api.auth import allowed
from watchfloor.api.csv_export import csv_response
from watchfloor.api.schemas import AlarmList, AlarmOut
from watchfloor.api.services import Services
from watchfloor.core.alarms import AlarmState
from watchfloor.core.principals import Permission, Principal

__all__ = ["search_router"]

_CSV_COLUMNS = (
    "id",
    "origin",
    "type_code",
    "type_name",
    "category",
    "priority",
    "state",
    "site",
    "device",
    "zone",
    "signal_count",
    "first_at",
    "acknowledged_at",
    "resolved_at",
    "outcome",
)

Searcher = Annotated[Principal, allowed(Permission.EXPORT_DATA)]


def search_router() -> APIRouter:
    """Return the search and export routes."""
    router = APIRouter(prefix="/api/search")

    @router.get(
        "/alarms",
        summary="Search stored alarms (reason required, audited); format=csv exports them",
        response_model=AlarmList,
    )
    async def search_alarms(
        request: Request,
        principal: Searcher,
        services: Services,
        reason: Annotated[
            str, Query(min_length=1, max_length=500, description="why: goes to the audit log")
        ],
        site: Annotated[str | None, Query(max_length=200)] = None,
        device: Annotated[str | None, Query(max_length=200)] = None,
        type_code: Annotated[int | None, Query(ge=1, le=9999)] = None,
        state: AlarmState | None = None,
        start: Annotated[AwareDatetime | None, Query(alias="from")] = None,
        end: Annotated[AwareDatetime | None, Query(alias="to")] = None,
        limit: Annotated[int, Query(ge=1, le=10_000)] = 500,
        format: Literal["json", "csv"] = "json",
    ) -> Response | AlarmList:
        reason = reason.strip()
        if not reason:
            raise HTTPException(422, "reason: say why you search (the search is audited)")
        if start is not None and end is not None and not start < end:
            raise HTTPException(422, "from/to: from must be before to")
        filters = [
            f"{name}={value}"
            for name, value in (
                ("site", site),
                ("device", device),
                ("type", type_code),
                ("state", state),
                ("from", start and start.isoformat()),
                ("to", end and end.isoformat()),
            )
            if value is not None
        ]
        action = "export.alarms" if format == "csv" else "search.alarms"
        target = "alarms?" + "&".join(filters)
        async with audited_in(
            services.alarms, request, principal, action, target, reason=reason
        ) as alarms:
            found = await alarms.list_alarms(
                state=state,
                limit=limit,
                after=None,
                site=site,
                device=device,
                type_code=type_code,
                start=start,
                end=end,
            )
        result = AlarmList(items=[AlarmOut.of(a) for a in found])
        if format == "json":
            return result
        rows = (
            [values.get(column) for column in _CSV_COLUMNS]
            for values in (alarm.model_dump(mode="json") for alarm in result.items)
        )
        return csv_response(_CSV_COLUMNS, rows, filename="watchfloor-alarms.csv")

    return router

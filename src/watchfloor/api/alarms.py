"""Routes that read alarms and their signals (changes to alarms are ``api.handling``'s)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request

from watchfloor.api.audit import audited_in
from watchfloor.api.auth import allowed
from watchfloor.api.params import AfterId, AlarmId, NameQuery, OptionalId
from watchfloor.api.schemas import AlarmDetailOut, AlarmList, AlarmOut, SignalList, SignalOut
from watchfloor.api.services import Services
from watchfloor.api.sites import site_record_of
from watchfloor.core.alarms import AlarmOrder, AlarmState
from watchfloor.core.principals import Permission, Principal

__all__ = ["alarms_router"]

AlarmReader = Annotated[Principal, allowed(Permission.READ_ALARMS)]


def alarms_router() -> APIRouter:
    """Return the routes that list and read alarms and signals."""
    router = APIRouter(prefix="/api")

    @router.get(
        "/alarms",
        summary="List alarms: the queue (open alarms by priority, then oldest first; then "
        "the others, newest first), or newest first",
    )
    async def list_alarms(
        request: Request,
        principal: AlarmReader,
        services: Services,
        state: AlarmState | None = None,
        limit: Annotated[int, Query(ge=1, le=1000)] = 100,
        after: AfterId = None,
        order: AlarmOrder = AlarmOrder.QUEUE,
    ) -> AlarmList:
        target = f"alarms:{state or 'all'}"
        async with audited_in(services.alarms, request, principal, "alarm.list", target) as store:
            alarms = await store.list_alarms(state=state, limit=limit, after=after, order=order)
        return AlarmList(items=[AlarmOut.of(a) for a in alarms])

    @router.get("/alarms/{alarm_id}", summary="One alarm with its signals and timeline")
    async def get_alarm(
        alarm_id: AlarmId, request: Request, principal: AlarmReader, services: Services
    ) -> AlarmDetailOut:
        target = f"alarm:{alarm_id}"
        async with audited_in(services.alarms, request, principal, "alarm.read", target) as alarms:
            detail = await alarms.get_alarm(alarm_id)
        alarm_type = services.handling.taxonomy.types.get(detail.alarm.type_code)
        record = await site_record_of(request, principal, services.sites, detail)
        return AlarmDetailOut.of_detail(detail, alarm_type, record)

    @router.get("/signals", summary="List signals, newest first")
    async def list_signals(
        request: Request,
        principal: AlarmReader,
        services: Services,
        device: NameQuery = None,
        alarm: OptionalId = None,
        limit: Annotated[int, Query(ge=1, le=1000)] = 100,
        after: AfterId = None,
    ) -> SignalList:
        target = f"alarm:{alarm}" if alarm else f"device:{device}" if device else "signals:all"
        async with audited_in(services.alarms, request, principal, "signal.list", target) as alarms:
            records = await alarms.list_signals(
                device=device, alarm_id=alarm, limit=limit, after=after
            )
        return SignalList(items=[SignalOut.of(r) for r in records])

    return router

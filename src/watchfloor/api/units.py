"""Routes for units: their register, their own status reports, and dispatch to alarms.

A unit's crew learns of a dispatch at once: ``WS /api/units/mine/stream`` pushes the units
the caller reports for (as ``GET /api/units/mine`` lists them) when it opens and whenever
one of them changes, so that the phone page never has to poll.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncGenerator
from contextlib import AbstractAsyncContextManager
from dataclasses import replace
from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, HTTPException, Request, WebSocket
from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from watchfloor.api._websockets import open_stream, push_messages
from watchfloor.api.audit import audited_in, audited_use_case
from watchfloor.api.auth import allowed, audit_refusal
from watchfloor.api.params import AlarmId, BodyId, DispatchId, UnitId
from watchfloor.api.schemas import AlarmOut
from watchfloor.api.services import Services
from watchfloor.api.staff import Staff, StaffServices
from watchfloor.core.alarms import Alarm, AlarmState
from watchfloor.core.dispatching import Dispatching, UnitDetail
from watchfloor.core.errors import NotFoundError
from watchfloor.core.ports import EventQueue
from watchfloor.core.principals import Permission, Principal, may
from watchfloor.core.units import Dispatch, UnitStatus

__all__ = ["units_router"]

UnitReader = Annotated[Principal, allowed(Permission.READ_UNITS)]
UnitManager = Annotated[Principal, allowed(Permission.MANAGE_UNITS)]
UnitCrew = Annotated[Principal, allowed(Permission.UPDATE_OWN_UNIT)]
Handler = Annotated[Principal, allowed(Permission.HANDLE_ALARMS)]
AlarmReader = Annotated[Principal, allowed(Permission.READ_ALARMS)]


class UnitIn(BaseModel):
    """A unit to register, and the user whose phone page reports for it."""

    model_config = ConfigDict(extra="forbid")

    name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
    user: (
        Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
        | None
    ) = None


class StatusIn(BaseModel):
    """A unit's new status."""

    model_config = ConfigDict(extra="forbid")

    status: UnitStatus


class DispatchUnitsIn(BaseModel):
    """The units to send to an alarm."""

    model_config = ConfigDict(extra="forbid")

    unit_ids: list[BodyId] = Field(min_length=1, max_length=50)


class DispatchOut(BaseModel):
    """A unit's dispatch to an alarm, with the times of its progress.

    ``type_name``, ``site``, ``priority``, ``zone`` and, once site records are kept, the
    site's ``address`` and the zone's description (``zone_name``) tell the crew where to go
    and why, without the alarm's signals (a crew's role may not read alarms).
    """

    id: int
    alarm_id: int
    unit_id: int
    dispatched_at: datetime
    dispatched_by: str
    acknowledged_at: datetime | None
    en_route_at: datetime | None
    on_scene_at: datetime | None
    cleared_at: datetime | None
    type_name: str | None = None
    site: str | None = None
    priority: int | None = None
    zone: str | None = None
    zone_name: str | None = Field(
        default=None, description="the zone's description (null until site records are kept)"
    )
    address: str | None = Field(
        default=None, description="the site's address (null until site records are kept)"
    )

    @classmethod
    def of(cls, dispatch: Dispatch) -> DispatchOut:
        """Build from a core dispatch."""
        return cls(
            id=dispatch.id,
            alarm_id=dispatch.alarm_id,
            unit_id=dispatch.unit_id,
            dispatched_at=dispatch.dispatched_at,
            dispatched_by=dispatch.dispatched_by,
            acknowledged_at=dispatch.acknowledged_at,
            en_route_at=dispatch.en_route_at,
            on_scene_at=dispatch.on_scene_at,
            cleared_at=dispatch.cleared_at,
        )


class UnitOut(BaseModel):
    """A unit, its status and its current dispatch."""

    id: int
    name: str
    user: str | None
    status: UnitStatus
    status_at: datetime
    dispatch: DispatchOut | None


class UnitList(BaseModel):
    """Units, by name."""

    items: list[UnitOut]


class UnitsMessage(BaseModel):
    """One message of ``WS /api/units/mine/stream``: the caller's units as they now are."""

    event: Literal["units.mine"] = "units.mine"
    items: list[UnitOut]


class DispatchList(BaseModel):
    """An alarm's dispatches, oldest first."""

    items: list[DispatchOut]


async def _where(staff: StaffServices, alarm: Alarm) -> dict[str, object]:
    """What a crew needs to find the place of an alarm they are sent to."""
    address = None
    if staff.sites is not None and alarm.site is not None:
        with contextlib.suppress(NotFoundError):
            address = (await staff.sites.get_site(alarm.site)).address
    return {
        "site": alarm.site,
        "zone": alarm.zone,
        "zone_name": alarm.zone_name,
        "address": address,
    }


async def _unit_out(staff: StaffServices, detail: UnitDetail) -> UnitOut:
    dispatch = None
    if detail.dispatch is not None:
        dispatch = DispatchOut.of(detail.dispatch)
        alarm = (await staff.dispatching.repository.get_alarm(detail.dispatch.alarm_id)).alarm
        dispatch = dispatch.model_copy(
            update={
                "type_name": alarm.type_name,
                "priority": alarm.priority,
                **await _where(staff, alarm),
            }
        )
    unit = detail.unit
    return UnitOut(
        id=unit.id,
        name=unit.name,
        user=unit.user,
        status=unit.status,
        status_at=unit.status_at,
        dispatch=dispatch,
    )


async def _units_messages(
    staff: StaffServices, user: str, events: EventQueue
) -> AsyncGenerator[str, None]:
    """The user's units now, then again after each alarm change that changed them.

    A dispatch, and a unit's progress on one, publish the alarm concerned (dispatched), and
    the end of an alarm publishes it too: only those changes are looked at, so that a burst
    of new alarms costs the phones nothing.
    """
    shown: UnitsMessage | None = None
    while True:
        details = await staff.store.units_of_user(user)
        current = UnitsMessage(items=[await _unit_out(staff, detail) for detail in details])
        if current != shown:
            shown = current
            yield current.model_dump_json()
        watched = {u.dispatch.alarm_id for u in current.items if u.dispatch is not None}
        while True:
            event = await events.get()
            if event is None:
                return
            if event.alarm.state is AlarmState.DISPATCHED or event.alarm.id in watched:
                break


async def _check_crew(request: Request, principal: Principal, user: str | None, name: str) -> None:
    if user != principal.user and not may(principal.role, Permission.MANAGE_UNITS):
        problem = f"{principal.user} does not report for unit {name}"
        await audit_refusal(request, principal, "access.denied", reason=problem)
        raise HTTPException(403, problem)


def _audited_dispatching(
    request: Request,
    staff: StaffServices,
    principal: Principal,
    action: str,
    target: str | None = None,
    *,
    reason: str | None = None,
) -> AbstractAsyncContextManager[Dispatching]:
    """Unit and dispatch calls and their audit row in one transaction; changes published after."""
    dispatching = staff.dispatching
    return audited_use_case(
        lambda store, publish: replace(dispatching, units=store, publish=publish),
        staff.store,
        dispatching.publish,
        request,
        principal,
        action,
        target,
        reason=reason,
    )


def units_router() -> APIRouter:
    """Return the routes of units and dispatch."""
    router = APIRouter(prefix="/api")

    @router.get("/units", summary="Every unit with its status and current dispatch")
    async def list_units(request: Request, principal: UnitReader, staff: Staff) -> UnitList:
        async with audited_in(staff.store, request, principal, "unit.list") as store:
            details = await store.list_units()
        return UnitList(items=[await _unit_out(staff, d) for d in details])

    @router.post("/units", status_code=201, summary="Register a unit")
    async def add_unit(
        body: UnitIn, request: Request, principal: UnitManager, staff: Staff
    ) -> UnitOut:
        target = f"unit:{body.name}"
        async with audited_in(staff.store, request, principal, "unit.add", target) as store:
            unit = await store.add_unit(name=body.name, user=body.user)
        return await _unit_out(staff, UnitDetail(unit=unit, dispatch=None))

    @router.get("/units/mine", summary="The units the caller reports for, with their dispatch")
    async def my_units(request: Request, principal: UnitCrew, staff: Staff) -> UnitList:
        async with audited_in(staff.store, request, principal, "unit.list", "units:mine") as store:
            details = await store.units_of_user(principal.user)
        return UnitList(items=[await _unit_out(staff, d) for d in details])

    @router.websocket("/units/mine/stream")
    async def my_units_stream(websocket: WebSocket, services: Services) -> None:
        principal = await open_stream(
            websocket, Permission.UPDATE_OWN_UNIT, action="unit.stream.open", target="units:mine"
        )
        if principal is None:
            return
        async with services.events.subscribe() as queue:
            await websocket.accept()
            messages = _units_messages(services.staff, principal.user, queue)
            try:
                await push_messages(
                    websocket, messages, recheck_seconds=services.stream_recheck_seconds
                )
            finally:
                await messages.aclose()

    @router.post("/units/{unit_id}/status", summary="A unit reports its status")
    async def report_status(
        unit_id: UnitId,
        body: StatusIn,
        request: Request,
        principal: UnitCrew,
        staff: Staff,
    ) -> UnitOut:
        unit = (await staff.store.get_unit(unit_id)).unit
        await _check_crew(request, principal, unit.user, unit.name)
        if body.status is UnitStatus.DISPATCHED:
            raise HTTPException(422, "status: a unit is dispatched by an operator, not by itself")
        async with _audited_dispatching(
            request, staff, principal, "unit.status", f"unit:{unit_id}", reason=body.status
        ) as dispatching:
            detail = await dispatching.report_status(unit_id, body.status, actor=principal.user)
        return await _unit_out(staff, detail)

    @router.post(
        "/alarms/{alarm_id}/dispatch-units",
        summary="Dispatch available units to an acknowledged (or dispatched) alarm",
    )
    async def dispatch_units(
        alarm_id: AlarmId,
        body: DispatchUnitsIn,
        request: Request,
        principal: Handler,
        staff: Staff,
    ) -> AlarmOut:
        units = ",".join(map(str, body.unit_ids))
        async with _audited_dispatching(
            request,
            staff,
            principal,
            "alarm.dispatch_units",
            f"alarm:{alarm_id}",
            reason=f"units {units}",
        ) as dispatching:
            alarm = await dispatching.dispatch(alarm_id, body.unit_ids, actor=principal.user)
        return AlarmOut.of(alarm)

    @router.get("/alarms/{alarm_id}/dispatches", summary="The units dispatched to an alarm")
    async def alarm_dispatches(
        alarm_id: AlarmId, request: Request, principal: AlarmReader, staff: Staff
    ) -> DispatchList:
        await staff.dispatching.repository.get_alarm(alarm_id)
        target = f"alarm:{alarm_id}"
        async with audited_in(staff.store, request, principal, "dispatch.list", target) as store:
            found = await store.dispatches_of(alarm_id)
        return DispatchList(items=[DispatchOut.of(d) for d in found])

    @router.post("/dispatches/{dispatch_id}/acknowledge", summary="A unit acknowledges")
    async def acknowledge(
        dispatch_id: DispatchId, request: Request, principal: UnitCrew, staff: Staff
    ) -> DispatchOut:
        dispatch = await staff.store.get_dispatch(dispatch_id)
        unit = (await staff.store.get_unit(dispatch.unit_id)).unit
        await _check_crew(request, principal, unit.user, unit.name)
        async with _audited_dispatching(
            request, staff, principal, "dispatch.acknowledge", f"dispatch:{dispatch_id}"
        ) as dispatching:
            acknowledged = await dispatching.acknowledge(dispatch_id, actor=principal.user)
        return DispatchOut.of(acknowledged)

    return router

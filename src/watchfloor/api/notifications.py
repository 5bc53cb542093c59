"""Routes for notifications out: the CAP 1.2 feed for other agencies and the dead letters.

The CAP feed is an Atom index (``/api/cap/alerts``) of the alarms the ``cap`` rules select,
newest first, each entry linking to its CAP 1.2 alert (``/api/cap/alerts/{id}.xml``), the
way public alert hubs publish CAP. Each alert fetched is a notice sent, and passes the
notification log like any other.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response
from pydantic import BaseModel

from watchfloor.api.audit import audit_entry, audited_in, record
from watchfloor.api.auth import allowed
from watchfloor.api.params import AlarmId
from watchfloor.api.services import Services
from watchfloor.api.staff import Staff, StaffServices
from watchfloor.codecs.cap import FeedEntry, encode_alert, encode_atom_index
from watchfloor.core.alarms import Alarm
from watchfloor.core.errors import NotFoundError
from watchfloor.core.notifications import (
    Channel,
    DeliveryOutcome,
    SentNotice,
    cap_alert_of,
    notice_of,
)
from watchfloor.core.ports import AlarmEvent, AlarmEventKind
from watchfloor.core.principals import Permission, Principal

__all__ = ["notifications_router"]

NotificationManager = Annotated[Principal, allowed(Permission.MANAGE_NOTIFICATIONS)]
AlarmReader = Annotated[Principal, allowed(Permission.READ_ALARMS)]

_CAP_MEDIA_TYPE = "application/cap+xml"


class DeadLetterOut(BaseModel):
    """A notification that failed every attempt."""

    id: int
    rule: str
    channel: str
    destination: str
    alarm_id: int
    body: str
    attempts: int
    last_error: str
    failed_at: datetime


class DeadLetterList(BaseModel):
    """Dead letters, newest first."""

    items: list[DeadLetterOut]


def _published(staff: StaffServices, alarm: Alarm) -> bool:
    return any(rule.match.selects(alarm) for rule in staff.cap_rules)


def _event(alarm: Alarm) -> AlarmEvent:
    kind = AlarmEventKind.CREATED if alarm.version == 1 else AlarmEventKind.UPDATED
    return AlarmEvent(kind=kind, alarm=alarm)


def notifications_router() -> APIRouter:
    """Return the routes of the CAP feed and the dead letters."""
    router = APIRouter(prefix="/api")

    @router.get("/notifications/dead-letters", summary="Notifications that failed every attempt")
    async def dead_letters(
        request: Request,
        principal: NotificationManager,
        staff: Staff,
        limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    ) -> DeadLetterList:
        await record(request, audit_entry(request, principal, "notification.dead_letters"))
        letters = await staff.dead_letters.list_dead_letters(limit=limit)
        return DeadLetterList(
            items=[DeadLetterOut.model_validate(letter, from_attributes=True) for letter in letters]
        )

    @router.get(
        "/cap/alerts",
        summary="Atom index of the CAP 1.2 alerts the cap rules publish",
        response_class=Response,
    )
    async def cap_index(
        principal: AlarmReader,
        staff: Staff,
        services: Services,
        request: Request,
        limit: Annotated[int, Query(ge=1, le=500)] = 100,
    ) -> Response:
        async with audited_in(
            services.alarms, request, principal, "cap.index", "alarms:cap"
        ) as store:
            recent = await store.list_alarms(state=None, limit=limit, after=None)
        alarms = [a for a in recent if _published(staff, a)]
        entries = [
            FeedEntry(
                id=f"watchfloor-alarm-{a.id}",
                title=f"{a.type_name} at {a.site or 'unknown site'}: {a.state}",
                updated=a.last_at,
                link=str(request.url_for("cap_alert", alarm_id=a.id)),
            )
            for a in alarms
        ]
        body = encode_atom_index(
            feed_id=f"{staff.cap_sender}:alerts",
            title=f"{staff.cap_sender} alerts",
            updated=max((a.last_at for a in alarms), default=staff.clock.now()),
            entries=entries,
        )
        return Response(body, media_type="application/atom+xml")

    @router.get(
        "/cap/alerts/{alarm_id}.xml",
        name="cap_alert",
        summary="One alarm as a CAP 1.2 alert",
        response_class=Response,
    )
    async def cap_alert(
        alarm_id: AlarmId,
        request: Request,
        principal: AlarmReader,
        staff: Staff,
        services: Services,
    ) -> Response:
        target = f"alarm:{alarm_id}"
        async with audited_in(services.alarms, request, principal, "cap.read", target) as alarms:
            alarm = (await alarms.get_alarm(alarm_id)).alarm
            if not _published(staff, alarm):
                raise NotFoundError(f"alarm {alarm_id} is not published as CAP")
        notice = notice_of(_event(alarm))
        body = encode_alert(cap_alert_of(notice, sender=staff.cap_sender))
        staff.notification_log.record(
            SentNotice(
                rule="cap",
                channel=Channel.CAP,
                destination=principal.user,
                notice=notice,
                outcome=DeliveryOutcome.SENT,
                at=staff.clock.now(),
            )
        )
        return Response(body, media_type=_CAP_MEDIA_TYPE)

    return router

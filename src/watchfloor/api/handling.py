"""Routes for handling alarms: the lifecycle actions, claims, procedure steps, notes, bulk."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Request

from watchfloor.api.audit import audited_handling, audited_in
from watchfloor.api.auth import allowed
from watchfloor.api.params import AccountPath, AlarmId, SitePath, StepNumber
from watchfloor.api.schemas import (
    ActionIn,
    AlarmOut,
    AlarmTypeList,
    AlarmTypeOut,
    BulkIn,
    BulkOut,
    ClaimIn,
    NoteIn,
    StepIn,
    TestPeriodIn,
)
from watchfloor.api.services import Services
from watchfloor.core.alarms import OPEN_STATES, Alarm, AlarmAction, AlarmState
from watchfloor.core.audit import content_digest
from watchfloor.core.errors import (
    ConflictError,
    InvalidTransitionError,
    NotFoundError,
    ProcedureIncompleteError,
)
from watchfloor.core.handling import AlarmHandling
from watchfloor.core.principals import Permission, Principal, may

__all__ = ["MUTE_NOTE", "handling_router"]

#: The timeline's record of a mute; the console silences the alarm for this minute.
MUTE_NOTE = "sound muted for 1 minute"

Handler = Annotated[Principal, allowed(Permission.HANDLE_ALARMS)]
Supervisor = Annotated[Principal, allowed(Permission.SUPERVISE_ALARMS)]
TaxonomyReader = Annotated[Principal, allowed(Permission.READ_TAXONOMY)]


def _handling(services: Services) -> AlarmHandling:
    return services.handling


Handling = Annotated[AlarmHandling, Depends(_handling)]


def _require_supervisor(principal: Principal, what: str) -> None:
    if not may(principal.role, Permission.SUPERVISE_ALARMS):
        raise HTTPException(403, f"only a supervisor may {what}")


async def _act(
    handling: AlarmHandling,
    alarm_id: int,
    action: AlarmAction,
    principal: Principal,
    body: ActionIn,
) -> Alarm:
    return await handling.act(
        alarm_id,
        action,
        actor=principal.user,
        outcome=body.outcome,
        note=body.note,
        override_reason=body.override_reason,
    )


def handling_router() -> APIRouter:
    """Return the routes that change alarms."""
    router = APIRouter(prefix="/api")

    @router.post("/alarms/{alarm_id}/claim", summary="Hold an alarm so everyone sees who has it")
    async def claim(
        alarm_id: AlarmId,
        request: Request,
        principal: Handler,
        body: ClaimIn | None = None,
    ) -> AlarmOut:
        take_over = body.take_over if body else False
        if take_over:
            _require_supervisor(principal, "take over an alarm another operator holds")
        action = "alarm.take_over" if take_over else "alarm.claim"
        async with audited_handling(request, principal, action, f"alarm:{alarm_id}") as handling:
            alarm = await handling.claim(alarm_id, actor=principal.user, take_over=take_over)
        return AlarmOut.of(alarm)

    @router.post("/alarms/{alarm_id}/release", summary="Let go of an alarm you hold")
    async def release(alarm_id: AlarmId, request: Request, principal: Handler) -> AlarmOut:
        take_over = may(principal.role, Permission.SUPERVISE_ALARMS)
        target = f"alarm:{alarm_id}"
        async with audited_handling(request, principal, "alarm.release", target) as handling:
            alarm = await handling.claim(
                alarm_id, actor=principal.user, release=True, take_over=take_over
            )
        return AlarmOut.of(alarm)

    @router.post(
        "/alarms/{alarm_id}/sop/{step}", summary="Mark a procedure step (1-based) done or not done"
    )
    async def check_step(
        alarm_id: AlarmId, step: StepNumber, body: StepIn, request: Request, principal: Handler
    ) -> AlarmOut:
        target = f"alarm:{alarm_id}"
        try:
            async with audited_handling(request, principal, "alarm.sop_step", target) as handling:
                alarm = await handling.check_step(
                    alarm_id, step - 1, done=body.done, actor=principal.user
                )
        except IndexError as err:
            raise NotFoundError(str(err)) from err
        return AlarmOut.of(alarm)

    @router.post("/alarms/{alarm_id}/notes", summary="Add a note to the alarm's timeline")
    async def add_note(
        alarm_id: AlarmId, body: NoteIn, request: Request, principal: Handler
    ) -> AlarmOut:
        # The note's text is personal data kept under its own retention: the audit row
        # holds its digest only.
        async with audited_handling(
            request, principal, "alarm.note", f"alarm:{alarm_id}", digest=content_digest(body.text)
        ) as handling:
            alarm = await handling.add_note(alarm_id, body.text, actor=principal.user)
        return AlarmOut.of(alarm)

    @router.post(
        "/alarms/{alarm_id}/mute",
        summary="Silence the alarm's tone on the asking console for a minute (on its timeline)",
    )
    async def mute(alarm_id: AlarmId, request: Request, principal: Handler) -> AlarmOut:
        # The tone is the console's; the server only keeps the record of who silenced it.
        async with audited_handling(request, principal, "alarm.mute", f"alarm:{alarm_id}") as h:
            alarm = await h.add_note(alarm_id, MUTE_NOTE, actor=principal.user)
        return AlarmOut.of(alarm)

    @router.post(
        "/alarms/bulk",
        summary="Acknowledge or resolve every open alarm matching a "
        "filter, with a reason (supervisors)",
    )
    async def bulk(body: BulkIn, principal: Supervisor, request: Request) -> BulkOut:
        done: list[int] = []
        skipped: list[int] = []
        states = [body.state] if body.state else sorted(OPEN_STATES)
        async with audited_handling(
            request, principal, f"alarm.bulk_{body.action}", "alarms:bulk", reason=body.reason
        ) as handling:
            await _bulk(handling, body, principal, states, done, skipped)
        return BulkOut(done=done, skipped=skipped)

    @router.post(
        "/alarms/{alarm_id}/{action}",
        summary="Acknowledge, dispatch, hold, resume, "
        "resolve, close or reopen an alarm (409 with the current state if illegal)",
    )
    async def act(
        alarm_id: AlarmId,
        action: AlarmAction,
        request: Request,
        principal: Handler,
        body: ActionIn | None = None,
    ) -> AlarmOut:
        body = body or ActionIn()
        if body.override_reason:
            _require_supervisor(principal, "resolve with procedure steps not done")
        audit = {
            "reason": body.override_reason,
            "digest": content_digest(body.note) if body.note else None,
        }
        target = f"alarm:{alarm_id}"
        try:
            async with audited_handling(
                request, principal, f"alarm.{action}", target, **audit
            ) as handling:
                alarm = await _act(handling, alarm_id, action, principal, body)
        except ConflictError:
            # Someone changed the alarm first. Try once more on what it is now: if the action
            # no longer fits (acknowledged meanwhile), that is a 409 naming the current state.
            async with audited_handling(
                request, principal, f"alarm.{action}", target, **audit
            ) as handling:
                alarm = await _act(handling, alarm_id, action, principal, body)
        return AlarmOut.of(alarm)

    @router.put(
        "/accounts/{account}/test",
        summary="Put a transmitter on test until a time "
        "(null ends it): its signals are stored and shown, not alarmed",
    )
    async def account_on_test(
        account: AccountPath,
        body: TestPeriodIn,
        request: Request,
        principal: Supervisor,
        services: Services,
    ) -> TestPeriodIn:
        target = f"account:{account.upper()}"
        async with audited_in(
            services.accounts, request, principal, "account.test_mode", target
        ) as accounts:
            await accounts.set_on_test(account=account.upper(), until=body.until)
        return body

    @router.put("/sites/{site}/test", summary="Put a whole site on test until a time")
    async def site_on_test(
        site: SitePath,
        body: TestPeriodIn,
        request: Request,
        principal: Supervisor,
        services: Services,
    ) -> TestPeriodIn:
        target = f"site:{site}"
        async with audited_in(
            services.accounts, request, principal, "site.test_mode", target
        ) as accounts:
            await accounts.set_on_test(site=site, until=body.until)
        return body

    @router.get("/alarm-types", summary="The alarm types in force, with their procedures")
    async def alarm_types(principal: TaxonomyReader, handling: Handling) -> AlarmTypeList:
        return AlarmTypeList(items=[AlarmTypeOut.of(t) for t in handling.taxonomy.types.values()])

    return router


async def _bulk(
    handling: AlarmHandling,
    body: BulkIn,
    principal: Principal,
    states: list[AlarmState],
    done: list[int],
    skipped: list[int],
) -> None:
    for state in states:
        for alarm in await handling.repository.list_alarms(
            state=state,
            limit=body.limit,
            after=None,
            site=body.site,
            device=body.device,
            type_code=body.type_code,
        ):
            try:
                await handling.act(
                    alarm.id,
                    body.action,
                    actor=principal.user,
                    outcome=body.outcome,
                    note=f"bulk: {body.reason}",
                    override_reason=body.reason,
                )
            except (ConflictError, InvalidTransitionError, ProcedureIncompleteError):
                skipped.append(alarm.id)
            else:
                done.append(alarm.id)

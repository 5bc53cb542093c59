"""Routes of site records: sites, zone lists, call lists, schedules, passphrases and checks.

Contacts are personal data: every read of a call list (including the one inside an alarm's
``site_record``) is audited as ``site.contacts.read``. Passphrases are taken in clear only to
be hashed (argon2id, ``core.users.Credentials``); no route returns one or its hash.

A passphrase check answers ``match`` for the normal and the duress passphrase alike, with the
same status, body and audit row: whoever watches the operator's screen learns nothing. A
duress match also submits a signal of the taxonomy's "Duress code entered" type for the
site through the normal intake, which raises a priority-1 hold-up/duress alarm; its audit
row (``duress.raise``) is in the audit log, which only auditors read.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from typing import Annotated, Final

from fastapi import APIRouter, Depends, Request

from watchfloor.api.audit import audit_entry, audited_handling, audited_in
from watchfloor.api.auth import allowed
from watchfloor.api.params import AccountPath, AlarmId, SitePath
from watchfloor.api.schemas import AlarmOut
from watchfloor.api.services import Services, services_of
from watchfloor.api.site_schemas import (
    CallIn,
    CallOut,
    ContactIn,
    ContactList,
    ContactOut,
    EmergencyOut,
    PassphraseIn,
    ScheduleIn,
    SiteIn,
    SiteList,
    SiteOut,
    SitePatch,
    SiteRecordOut,
    VerifyIn,
    VerifyOut,
    ZoneIn,
    ZoneOut,
)
from watchfloor.api.staff import Staff
from watchfloor.core.alarm_types import CodeSystem, SourceCode
from watchfloor.core.errors import NotFoundError
from watchfloor.core.ports import AlarmDetail
from watchfloor.core.principals import Permission, Principal
from watchfloor.core.signals import Signal, SignalSource
from watchfloor.core.site_records import SiteStore
from watchfloor.core.sites import Site, is_callable, next_contact
from watchfloor.core.users import Credentials

__all__ = ["SiteServices", "site_record_of", "sites_router"]

#: The taxonomy type a duress passphrase raises ("Duress code entered", basis hold-up/duress).
DURESS_TYPE_CODE: Final = 225

SiteReader = Annotated[Principal, allowed(Permission.READ_SITES)]
SiteEditor = Annotated[Principal, allowed(Permission.MANAGE_SITES)]
Handler = Annotated[Principal, allowed(Permission.HANDLE_ALARMS)]


@dataclass(frozen=True, slots=True, kw_only=True)
class SiteServices:
    """The site records' store and the passphrase hashing."""

    store: SiteStore
    credentials: Credentials


def _sites(services: Services) -> SiteServices:
    return services.sites


Sites = Annotated[SiteServices, Depends(_sites)]


async def site_record_of(
    request: Request, principal: Principal, services: SiteServices, detail: AlarmDetail
) -> SiteRecordOut | None:
    """The record of an alarm's site, its call list read under audit; None without one."""
    site_name = detail.alarm.site
    if site_name is None:
        return None
    try:
        # The site's own record is no personal data; its call list is, and is read audited.
        site = await services.store.get_site(site_name)
    except NotFoundError:
        return None
    try:
        async with audited_in(
            services.store, request, principal, "site.contacts.read", f"site:{site_name}"
        ) as store:
            contacts = await store.list_contacts(site_name)
    except NotFoundError:  # removed meanwhile: recorded as a failed read
        return None
    now = services_of(request).handling.clock.now()
    following = next_contact(contacts, detail.calls, now, site.time_zone)
    e = site.emergency
    return SiteRecordOut(
        address=site.address,
        latitude=site.latitude,
        longitude=site.longitude,
        time_zone=site.time_zone,
        instructions=site.instructions,
        emergency=EmergencyOut(police=e.police, fire=e.fire, ambulance=e.ambulance),
        contacts=[
            ContactOut.of(c, callable_now=is_callable(c, now, site.time_zone)) for c in contacts
        ],
        next_contact=None if following is None else following.id,
        calls=[CallOut.of(call) for call in detail.calls],
    )


async def _verify(
    services: SiteServices, hashes: tuple[str | None, str | None], words: str
) -> tuple[bool, bool]:
    # Both checks always run, so that a duress match takes as long as any other answer.
    normal, duress = await asyncio.gather(
        services.credentials.verify_password(hashes[0], words),
        services.credentials.verify_password(hashes[1], words),
    )
    return normal, duress


def sites_router() -> APIRouter:
    """Return the routes of site records."""
    router = APIRouter(prefix="/api")

    @router.get("/sites", summary="List sites")
    async def list_sites(request: Request, principal: SiteReader, sites: Sites) -> SiteList:
        async with audited_in(sites.store, request, principal, "site.list", "sites:all") as store:
            found = await store.list_sites()
        return SiteList(items=[SiteOut.of(s) for s in found])

    @router.post("/sites", status_code=201, summary="Create a site with its record")
    async def add_site(
        body: SiteIn, request: Request, principal: SiteEditor, sites: Sites, services: Services
    ) -> SiteOut:
        site = body.apply(Site(name=body.name), services.handling.clock.now())
        async with audited_in(
            sites.store, request, principal, "site.create", f"site:{body.name}"
        ) as store:
            stored = await store.add_site(site)
        return SiteOut.of(stored)

    @router.get("/sites/{site}", summary="One site's record")
    async def get_site(
        site: SitePath, request: Request, principal: SiteReader, sites: Sites
    ) -> SiteOut:
        async with audited_in(
            sites.store, request, principal, "site.read", f"site:{site}"
        ) as store:
            found = await store.get_site(site)
        return SiteOut.of(found)

    @router.patch(
        "/sites/{site}", summary="Change a site's record (decommissioned: true retires it)"
    )
    async def patch_site(
        site: SitePath,
        body: SitePatch,
        request: Request,
        principal: SiteEditor,
        sites: Sites,
        services: Services,
    ) -> SiteOut:
        async with audited_in(
            sites.store, request, principal, "site.update", f"site:{site}"
        ) as store:
            current = await store.get_site(site)
            stored = await store.replace_site(body.apply(current, services.handling.clock.now()))
        return SiteOut.of(stored)

    @router.get("/sites/{site}/contacts", summary="A site's call list, in order")
    async def list_contacts(
        site: SitePath, request: Request, principal: SiteReader, sites: Sites, services: Services
    ) -> ContactList:
        async with audited_in(
            sites.store, request, principal, "site.contacts.read", f"site:{site}"
        ) as store:
            record = await store.get_site(site)
            contacts = await store.list_contacts(site)
        now = services.handling.clock.now()
        return ContactList(
            items=[
                ContactOut.of(c, callable_now=is_callable(c, now, record.time_zone))
                for c in contacts
            ]
        )

    @router.put("/sites/{site}/contacts", summary="Replace a site's call list (left out: deleted)")
    async def put_contacts(
        site: SitePath,
        body: list[ContactIn],
        request: Request,
        principal: SiteEditor,
        sites: Sites,
    ) -> ContactList:
        new = [c.to_core() for c in body]
        async with audited_in(
            sites.store, request, principal, "site.contacts.replace", f"site:{site}"
        ) as store:
            stored = await store.replace_contacts(site, new)
        return ContactList(items=[ContactOut.of(c) for c in stored])

    async def _put_schedule(
        site: str,
        partition: str | None,
        body: ScheduleIn,
        request: Request,
        principal: Principal,
        sites: SiteServices,
    ) -> ScheduleIn:
        target = f"site:{site}" + (f"/partition:{partition}" if partition else "")
        async with audited_in(
            sites.store, request, principal, "site.schedule.replace", target
        ) as store:
            record = await store.get_site(site)
            await store.replace_schedule(body.to_core(record, partition))
        return body

    @router.put("/sites/{site}/schedule", summary="Replace the whole site's arming schedule")
    async def put_schedule(
        site: SitePath, body: ScheduleIn, request: Request, principal: SiteEditor, sites: Sites
    ) -> ScheduleIn:
        return await _put_schedule(site, None, body, request, principal, sites)

    @router.put(
        "/sites/{site}/partitions/{partition}/schedule",
        summary="Replace one partition's arming schedule",
    )
    async def put_partition_schedule(
        site: SitePath,
        partition: SitePath,
        body: ScheduleIn,
        request: Request,
        principal: SiteEditor,
        sites: Sites,
    ) -> ScheduleIn:
        return await _put_schedule(site, partition, body, request, principal, sites)

    @router.post(
        "/sites/{site}/passphrase",
        status_code=204,
        summary="Set the site's (or a contact's) passphrase and duress passphrase",
    )
    async def set_passphrase(
        site: SitePath, body: PassphraseIn, request: Request, principal: SiteEditor, sites: Sites
    ) -> None:
        hashed = [
            None if value is None else await sites.credentials.hash_password(value)
            for value in (body.passphrase, body.duress_passphrase)
        ]
        target = f"site:{site}" + (f"/contact:{body.contact_id}" if body.contact_id else "")
        async with audited_in(
            sites.store, request, principal, "site.passphrase.set", target
        ) as store:
            await store.set_passphrases(
                site, body.contact_id, passphrase_hash=hashed[0], duress_hash=hashed[1]
            )

    @router.get("/accounts/{account}/zones", summary="A transmitter's zone list")
    async def list_zones(
        account: AccountPath, request: Request, principal: SiteReader, sites: Sites
    ) -> list[ZoneOut]:
        key = account.upper()
        async with audited_in(
            sites.store, request, principal, "zone.list", f"account:{key}"
        ) as store:
            zones = await store.list_zones(key)
        return [ZoneOut.of(z) for z in zones]

    @router.put("/accounts/{account}/zones", summary="Replace a transmitter's zone list")
    async def put_zones(
        account: AccountPath,
        body: list[ZoneIn],
        request: Request,
        principal: SiteEditor,
        sites: Sites,
    ) -> list[ZoneOut]:
        key = account.upper()
        new = [z.to_core(key) for z in body]
        async with audited_in(
            sites.store, request, principal, "zone.replace", f"account:{key}"
        ) as store:
            stored = await store.replace_zones(key, new)
        return [ZoneOut.of(z) for z in stored]

    @router.post(
        "/alarms/{alarm_id}/verify",
        summary="Check what a caller said against the site's (or a contact's) passphrase",
    )
    async def verify(
        alarm_id: AlarmId,
        body: VerifyIn,
        request: Request,
        principal: Handler,
        sites: Sites,
        services: Services,
        staff: Staff,
    ) -> VerifyOut:
        target = f"alarm:{alarm_id}" + (f"/contact:{body.contact_id}" if body.contact_id else "")
        async with audited_in(
            services.alarms, request, principal, "alarm.verify_passphrase", target
        ) as alarms:
            alarm = (await alarms.get_alarm(alarm_id)).alarm
        if alarm.site is None:
            raise NotFoundError(f"alarm {alarm_id} has no site")
        hashes = await sites.store.passphrase_hashes(alarm.site, body.contact_id)
        normal, duress = await _verify(sites, hashes, body.words)
        if duress and not normal:
            await _raise_duress(request, principal, staff, alarm.site, alarm_id, body.contact_id)
        return VerifyOut(result="match" if normal or duress else "no_match")

    @router.post("/alarms/{alarm_id}/calls", summary="Record a call to a contact on the alarm")
    async def record_call(
        alarm_id: AlarmId,
        body: CallIn,
        request: Request,
        principal: Handler,
        sites: Sites,
        services: Services,
    ) -> AlarmOut:
        alarm = (await services.alarms.get_alarm(alarm_id)).alarm
        if alarm.site is None:
            raise NotFoundError(f"alarm {alarm_id} has no site")
        contacts = await sites.store.list_contacts(alarm.site)
        contact = next((c for c in contacts if c.id == body.contact_id), None)
        if contact is None:
            raise NotFoundError(f"site {alarm.site} has no contact {body.contact_id}")
        target = f"alarm:{alarm_id}"
        async with audited_handling(request, principal, "alarm.call", target) as handling:
            updated = await handling.record_call(
                alarm_id, contact, body.outcome, actor=principal.user, phone_label=body.phone_label
            )
        return AlarmOut.of(updated)

    return router


async def _raise_duress(
    request: Request,
    principal: Principal,
    staff: Staff,
    site: str,
    alarm_id: int,
    contact_id: int | None,
) -> None:
    entry = audit_entry(request, principal, "duress.raise", f"site:{site}")
    raw = json.dumps({"alarm": alarm_id, "contact": contact_id, "check": "passphrase"})
    signal = Signal(
        source=SignalSource.CALL,
        received_at=staff.clock.now(),
        device=f"passphrase:{site}",
        code=SourceCode(system=CodeSystem.TAXONOMY, code=str(DURESS_TYPE_CODE)),
        zone=None,
        raw=raw,
        site=site,
    )
    await staff.sink.submit([signal], audit=entry)

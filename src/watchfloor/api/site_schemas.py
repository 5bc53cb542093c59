"""The JSON shapes of site records: sites, zones, contacts, schedules, checks and calls."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Annotated, Literal

from pydantic import BaseModel, Field, StringConstraints

from watchfloor.api.params import Name
from watchfloor.core.schedules import Schedule, ScheduleException, WeeklyWindow
from watchfloor.core.sites import (
    CallAttempt,
    CallOutcome,
    CallWindow,
    Contact,
    ContactRole,
    EmergencyNumbers,
    Phone,
    Site,
    Zone,
    ZoneKind,
)

__all__ = [
    "CallIn",
    "ContactIn",
    "ContactOut",
    "PassphraseIn",
    "ScheduleIn",
    "SiteIn",
    "SiteList",
    "SiteOut",
    "SitePatch",
    "SiteRecordOut",
    "VerifyIn",
    "VerifyOut",
    "ZoneIn",
    "ZoneOut",
]

Text = Annotated[str, StringConstraints(max_length=4000)]
Short = Annotated[str, StringConstraints(strip_whitespace=True, max_length=200)]
Passphrase = Annotated[str, StringConstraints(min_length=1, max_length=200)]
Clock = Annotated[str, StringConstraints(pattern=r"^([01][0-9]|2[0-3]):[0-5][0-9]$")]


class EmergencyOut(BaseModel):
    """A site's local emergency numbers."""

    police: Short | None = None
    fire: Short | None = None
    ambulance: Short | None = None


class SiteOut(BaseModel):
    """A site's record; passphrases show only as whether they are set."""

    name: str
    address: str | None
    latitude: float | None
    longitude: float | None
    time_zone: str
    customer_ref: str | None
    emergency: EmergencyOut
    instructions: str | None
    has_passphrase: bool
    has_duress_passphrase: bool
    decommissioned: bool
    updated_at: datetime | None

    @classmethod
    def of(cls, site: Site) -> SiteOut:
        """Build from a core site."""
        e = site.emergency
        return cls(
            name=site.name,
            address=site.address,
            latitude=site.latitude,
            longitude=site.longitude,
            time_zone=site.time_zone,
            customer_ref=site.customer_ref,
            emergency=EmergencyOut(police=e.police, fire=e.fire, ambulance=e.ambulance),
            instructions=site.instructions,
            has_passphrase=site.has_passphrase,
            has_duress_passphrase=site.has_duress,
            decommissioned=site.decommissioned_at is not None,
            updated_at=site.updated_at,
        )


class SiteList(BaseModel):
    """Every site."""

    items: list[SiteOut]


class SitePatch(BaseModel):
    """A change to a site's record: fields left out stay as they are, null clears."""

    address: Text | None = None
    latitude: float | None = None
    longitude: float | None = None
    time_zone: Short | None = None
    customer_ref: Short | None = None
    emergency: EmergencyOut | None = None
    instructions: Text | None = None
    decommissioned: bool | None = Field(
        default=None, description="true takes the site out of service (purged after retention)"
    )

    def apply(self, site: Site, now: datetime) -> Site:
        """Return the site with this change (validated: InvalidRecordError)."""
        given = self.model_fields_set
        values = {
            name: getattr(self, name) if name in given else getattr(site, name)
            for name in (
                "address",
                "latitude",
                "longitude",
                "customer_ref",
                "instructions",
            )
        }
        emergency = site.emergency
        if "emergency" in given:
            e = self.emergency or EmergencyOut()
            emergency = EmergencyNumbers(police=e.police, fire=e.fire, ambulance=e.ambulance)
        decommissioned_at = site.decommissioned_at
        if "decommissioned" in given:
            decommissioned_at = (decommissioned_at or now) if self.decommissioned else None
        return Site(
            name=site.name,
            time_zone=self.time_zone if self.time_zone is not None else site.time_zone,
            emergency=emergency,
            decommissioned_at=decommissioned_at,
            **values,
        )


class SiteIn(SitePatch):
    """A new site."""

    name: Name


class ZoneIn(BaseModel):
    """One zone of a device's zone list."""

    zone: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64)]
    description: Short
    kind: ZoneKind = ZoneKind.OTHER
    area: Short | None = None

    def to_core(self, device: str) -> Zone:
        """The core zone of a device."""
        return Zone(
            device=device,
            zone=self.zone,
            description=self.description,
            kind=self.kind,
            area=self.area,
        )


class ZoneOut(ZoneIn):
    """A zone as stored."""

    @classmethod
    def of(cls, zone: Zone) -> ZoneOut:
        """Build from a core zone."""
        return cls(zone=zone.zone, description=zone.description, kind=zone.kind, area=zone.area)


class PhoneIO(BaseModel):
    """A phone number with its label."""

    label: Short
    number: Short


class CallWindowIO(BaseModel):
    """When a contact may be called, in the site's time zone; ``to`` <= ``from``: overnight."""

    days: list[Annotated[int, Field(ge=0, le=6)]] = Field(description="0 is Monday")
    from_: Clock = Field(alias="from")
    to: Clock

    model_config = {"populate_by_name": True}


class ContactIn(BaseModel):
    """One contact of a call list; ``id`` of a stored contact keeps it (and its passphrases)."""

    id: int | None = Field(default=None, ge=1)
    name: Short
    role: ContactRole
    phones: list[PhoneIO] = Field(max_length=10)
    call_windows: list[CallWindowIO] = Field(default=[], max_length=14)

    def to_core(self) -> Contact:
        """The core contact (validated: InvalidRecordError)."""
        return Contact(
            id=self.id or 0,
            name=self.name,
            role=self.role,
            phones=tuple(Phone(label=p.label, number=p.number) for p in self.phones),
            call_windows=tuple(
                CallWindow(
                    days=frozenset(w.days),
                    start=time.fromisoformat(w.from_),
                    end=time.fromisoformat(w.to),
                )
                for w in self.call_windows
            ),
        )


class ContactOut(BaseModel):
    """A contact as operators see it: never a passphrase or its hash."""

    id: int
    name: str
    role: str
    phones: list[PhoneIO]
    call_windows: list[CallWindowIO]
    has_passphrase: bool
    callable_now: bool | None = None

    @classmethod
    def of(cls, contact: Contact, *, callable_now: bool | None = None) -> ContactOut:
        """Build from a core contact."""
        return cls(
            id=contact.id,
            name=contact.name,
            role=contact.role,
            phones=[PhoneIO(label=p.label, number=p.number) for p in contact.phones],
            call_windows=[
                CallWindowIO.model_validate(
                    {
                        "days": sorted(w.days),
                        "from": w.start.strftime("%H:%M"),
                        "to": w.end.strftime("%H:%M"),
                    }
                )
                for w in contact.call_windows
            ],
            has_passphrase=contact.has_passphrase,
            callable_now=callable_now,
        )


class ContactList(BaseModel):
    """A site's call list, in order."""

    items: list[ContactOut]


class WindowIO(BaseModel):
    """A weekly opening of a schedule."""

    weekday: int = Field(ge=0, le=6, description="0 is Monday")
    opens: Clock
    closes: Clock


class ExceptionIO(BaseModel):
    """One date's hours instead of the weekly windows; no hours: closed all day."""

    day: date
    opens: Clock | None = None
    closes: Clock | None = None
    note: Short | None = None


class ScheduleIn(BaseModel):
    """A site's (or partition's) arming schedule, in the site's time zone."""

    windows: list[WindowIO] = Field(max_length=50)
    exceptions: list[ExceptionIO] = Field(default=[], max_length=400)
    close_grace_minutes: float = Field(default=15, ge=0, le=1440)
    open_grace_minutes: float | None = Field(default=None, ge=0, le=1440)

    def to_core(self, site: Site, partition: str | None) -> Schedule:
        """The core schedule."""
        return Schedule(
            site=site.name,
            partition=partition,
            time_zone=site.time_zone,
            windows=tuple(
                WeeklyWindow(
                    weekday=w.weekday,
                    opens=time.fromisoformat(w.opens),
                    closes=time.fromisoformat(w.closes),
                )
                for w in self.windows
            ),
            exceptions=tuple(
                ScheduleException(
                    day=e.day,
                    opens=None if e.opens is None else time.fromisoformat(e.opens),
                    closes=None if e.closes is None else time.fromisoformat(e.closes),
                    note=e.note,
                )
                for e in self.exceptions
            ),
            close_grace=timedelta(minutes=self.close_grace_minutes),
            open_grace=None
            if self.open_grace_minutes is None
            else timedelta(minutes=self.open_grace_minutes),
        )


class PassphraseIn(BaseModel):
    """New passphrases of the site, or of one of its contacts (left out: unchanged)."""

    contact_id: int | None = Field(default=None, ge=1)
    passphrase: Passphrase | None = None
    duress_passphrase: Passphrase | None = None


class VerifyIn(BaseModel):
    """What a caller said, checked against the site's (or a contact's) passphrases."""

    contact_id: int | None = Field(default=None, ge=1)
    words: Passphrase


class VerifyOut(BaseModel):
    """Whether the words matched; a duress passphrase answers ``match`` too."""

    result: Literal["match", "no_match"]


class CallIn(BaseModel):
    """A call made to a contact while handling an alarm."""

    contact_id: int = Field(ge=1)
    outcome: CallOutcome
    phone_label: Short | None = None


class CallOut(BaseModel):
    """A call made on an alarm."""

    contact_id: int
    outcome: str
    at: datetime
    actor: str
    phone_label: str | None

    @classmethod
    def of(cls, call: CallAttempt) -> CallOut:
        """Build from a core call attempt."""
        return cls(
            contact_id=call.contact_id,
            outcome=call.outcome,
            at=call.at,
            actor=call.actor,
            phone_label=call.phone_label,
        )


class SiteRecordOut(BaseModel):
    """What an operator acts on, with an alarm: the site, its call list and the calls made."""

    address: str | None
    latitude: float | None
    longitude: float | None
    time_zone: str
    instructions: str | None
    emergency: EmergencyOut
    contacts: list[ContactOut]
    next_contact: int | None = Field(description="the id of the contact to call next")
    calls: list[CallOut]

"""The site record: a site's place and instructions, its zones, and the call list an operator works.

Theory of operation: a **site** carries what an operator acts on — address, position, IANA
time zone, emergency numbers, standing instructions. Each device has a **zone list** (zone →
description, kind, area). The **call list** is the site's ordered contacts; each contact has
phones and the windows, in the site's local time, in which they may be called (none: any
time). An operator works the list from an alarm: ``next_contact`` offers the first contact
that may be called now and has not been tried on this alarm; an answered call ends the list.
Passphrases (a normal and a duress one, for the site and for each contact) exist only as
argon2id hashes in the store; these values only say whether one is set.

Every value validates itself when built and raises ``InvalidRecordError`` listing every
problem, each naming its field. Nothing here describes a person beyond a name, a role and
phone numbers.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from enum import StrEnum
from typing import Final
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from watchfloor.core.errors import InvalidRecordError

__all__ = [
    "CallAttempt",
    "CallOutcome",
    "CallWindow",
    "Contact",
    "ContactRole",
    "EmergencyNumbers",
    "Phone",
    "Site",
    "Zone",
    "ZoneKind",
    "call_list_worked",
    "check_phone_number",
    "check_time_zone",
    "is_callable",
    "next_contact",
]

#: Free text longer than this is refused (instructions get more room).
MAX_TEXT: Final = 200
MAX_INSTRUCTIONS: Final = 4000
# E.164-ish: an optional +, then digits with spaces, dots, hyphens or parentheses between;
# 3 digits (a short emergency number such as 112) to 15 (E.164's maximum).
_PHONE: Final = re.compile(r"\+?[0-9(][0-9 .()\-]*")
_MIN_DIGITS: Final = 3
_MAX_DIGITS: Final = 15


class ZoneKind(StrEnum):
    """What a zone's detector is."""

    DOOR_CONTACT = "door_contact"
    PIR = "pir"
    SMOKE = "smoke"
    HEAT = "heat"
    PANIC_BUTTON = "panic_button"
    GLASS_BREAK = "glass_break"
    WATER = "water"
    GAS = "gas"
    TAMPER = "tamper"
    KEYPAD = "keypad"
    CAMERA_REGION = "camera_region"
    OTHER = "other"


class ContactRole(StrEnum):
    """Why a contact is on a site's call list."""

    KEYHOLDER = "keyholder"
    MANAGER = "manager"
    GUARD_COMPANY = "guard_company"
    OTHER = "other"


class CallOutcome(StrEnum):
    """How a call to a contact went."""

    ANSWERED = "answered"
    NO_ANSWER = "no_answer"
    VOICEMAIL = "voicemail"
    WRONG_PASSPHRASE = "wrong_passphrase"  # noqa: S105 - an outcome, not a secret
    DECLINED = "declined"


def check_time_zone(name: str) -> str | None:
    """Return a problem with an IANA time zone name, or None when ``zoneinfo`` knows it."""
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return f"{name!r} is not an IANA time zone name (such as Europe/London)"
    return None


def check_phone_number(number: str) -> str | None:
    """Return a problem with a phone number, or None when it is E.164-like (+44 20 7946 0000)."""
    digits = sum(char.isdigit() for char in number)
    if not _PHONE.fullmatch(number) or not _MIN_DIGITS <= digits <= _MAX_DIGITS:
        return (
            f"{number!r} is not a phone number (digits, an optional leading +, "
            f"{_MIN_DIGITS} to {_MAX_DIGITS} digits)"
        )
    return None


def _check_text(
    problems: list[str], name: str, value: str | None, *, limit: int = MAX_TEXT
) -> None:
    if value is not None and len(value) > limit:
        problems.append(f"{name}: longer than {limit} characters")


def _check_name(problems: list[str], name: str, value: str) -> None:
    if not value.strip():
        problems.append(f"{name}: must not be empty")
    _check_text(problems, name, value)


def _raise_if(problems: list[str]) -> None:
    if problems:
        raise InvalidRecordError(problems)


@dataclass(frozen=True, slots=True, kw_only=True)
class EmergencyNumbers:
    """The local emergency numbers of a site (None: not recorded)."""

    police: str | None = None
    fire: str | None = None
    ambulance: str | None = None

    def __post_init__(self) -> None:
        problems = [
            f"emergency.{name}: {problem}"
            for name, number in (
                ("police", self.police),
                ("fire", self.fire),
                ("ambulance", self.ambulance),
            )
            if number is not None and (problem := check_phone_number(number)) is not None
        ]
        _raise_if(problems)


@dataclass(frozen=True, slots=True, kw_only=True)
class Site:
    """A site's record: where it is, its time zone, whom to alert and what to know.

    ``has_passphrase``/``has_duress`` tell whether the site's own passphrases are set (their
    hashes stay in the store). ``decommissioned_at`` is set once the site is taken out of
    service; it is purged after the closed-alarm retention period.
    """

    name: str
    address: str | None = None
    latitude: float | None = None
    longitude: float | None = None
    time_zone: str = "UTC"
    customer_ref: str | None = None
    emergency: EmergencyNumbers = field(default_factory=EmergencyNumbers)
    instructions: str | None = None
    has_passphrase: bool = False
    has_duress: bool = False
    decommissioned_at: datetime | None = None
    updated_at: datetime | None = None

    def __post_init__(self) -> None:
        problems: list[str] = []
        _check_name(problems, "name", self.name)
        _check_text(problems, "address", self.address, limit=MAX_INSTRUCTIONS)
        _check_text(problems, "customer_ref", self.customer_ref)
        _check_text(problems, "instructions", self.instructions, limit=MAX_INSTRUCTIONS)
        if self.latitude is not None and not -90.0 <= self.latitude <= 90.0:
            problems.append(f"latitude: {self.latitude} is not within -90 to 90")
        if self.longitude is not None and not -180.0 <= self.longitude <= 180.0:
            problems.append(f"longitude: {self.longitude} is not within -180 to 180")
        if (self.latitude is None) != (self.longitude is None):
            problems.append("latitude, longitude: give both or neither")
        if (problem := check_time_zone(self.time_zone)) is not None:
            problems.append(f"time_zone: {problem}")
        _raise_if(problems)


@dataclass(frozen=True, slots=True, kw_only=True)
class Zone:
    """One zone of a device: ``device`` is its DC-09 account or device name, ``zone`` as sent."""

    device: str
    zone: str
    description: str
    kind: ZoneKind = ZoneKind.OTHER
    area: str | None = None

    def __post_init__(self) -> None:
        problems: list[str] = []
        _check_name(problems, "zone", self.zone)
        _check_name(problems, "description", self.description)
        _check_text(problems, "area", self.area)
        _raise_if(problems)


@dataclass(frozen=True, slots=True, kw_only=True)
class Phone:
    """One phone number of a contact, with a label (mobile, office, control room …)."""

    label: str
    number: str

    def __post_init__(self) -> None:
        problems: list[str] = []
        _check_name(problems, "phones.label", self.label)
        if (problem := check_phone_number(self.number)) is not None:
            problems.append(f"phones.number: {problem}")
        _raise_if(problems)


@dataclass(frozen=True, slots=True, kw_only=True)
class CallWindow:
    """When a contact may be called: on ``days`` (0 is Monday) from ``start`` until ``end``.

    Local time of the site. An ``end`` at or before ``start`` runs past midnight into the next
    day (``22:00`` to ``06:00``); ``start`` equal to ``end`` is a whole day from ``start``.
    """

    days: frozenset[int]
    start: time
    end: time

    def __post_init__(self) -> None:
        problems: list[str] = []
        if not self.days:
            problems.append("call_windows.days: name at least one day")
        if any(not 0 <= day <= 6 for day in self.days):
            problems.append("call_windows.days: days are 0 (Monday) to 6 (Sunday)")
        _raise_if(problems)

    def covers(self, local: datetime) -> bool:
        """Whether a local wall-clock time falls inside this window."""
        moment = local.time()
        if self.start < self.end:
            return local.weekday() in self.days and self.start <= moment < self.end
        # Past midnight: the evening part belongs to the day, the morning to the day before.
        yesterday = (local - timedelta(days=1)).weekday()
        return (local.weekday() in self.days and moment >= self.start) or (
            yesterday in self.days and moment < self.end
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class Contact:
    """A person or company on a site's call list, in ``position`` order.

    ``id`` is 0 until stored. ``has_passphrase``/``has_duress`` tell whether their
    passphrases are set; the hashes never leave the store.
    """

    id: int = 0
    name: str
    role: ContactRole
    phones: tuple[Phone, ...]
    call_windows: tuple[CallWindow, ...] = ()
    position: int = 0
    has_passphrase: bool = False
    has_duress: bool = False

    def __post_init__(self) -> None:
        problems: list[str] = []
        _check_name(problems, "name", self.name)
        if not self.phones:
            problems.append("phones: give at least one phone number")
        _raise_if(problems)


@dataclass(frozen=True, slots=True, kw_only=True)
class CallAttempt:
    """One call an operator made to a contact while handling an alarm."""

    contact_id: int
    outcome: CallOutcome
    at: datetime
    actor: str
    phone_label: str | None = None


def is_callable(contact: Contact, at: datetime, time_zone: str) -> bool:
    """Whether a contact may be called at ``at`` (aware), judged in the site's local time."""
    if not contact.call_windows:
        return True
    local = at.astimezone(ZoneInfo(time_zone))
    return any(window.covers(local) for window in contact.call_windows)


def next_contact(
    contacts: Sequence[Contact], attempts: Iterable[CallAttempt], at: datetime, time_zone: str
) -> Contact | None:
    """Return the contact to call next on an alarm, or None when the list is done.

    The first contact in list order that may be called now and has not been tried on this
    alarm. An answered call ends the list: nobody is offered after it.
    """
    tried: set[int] = set()
    for attempt in attempts:
        if attempt.outcome is CallOutcome.ANSWERED:
            return None
        tried.add(attempt.contact_id)
    return next(
        (c for c in contacts if c.id not in tried and is_callable(c, at, time_zone)),
        None,
    )


def call_list_worked(attempts: Iterable[CallAttempt]) -> bool:
    """Whether the call list of an alarm has been worked: a contact answered.

    A list with nobody reached is not worked; resolving past such a step needs a
    supervisor's override with a reason, as for any mandatory step.
    """
    return any(attempt.outcome is CallOutcome.ANSWERED for attempt in attempts)

"""Notifications out: which rule fires for which alarm change, and what each receiver gets.

Theory of operation: an administrator configures rules (``[[notify]]`` in the config file);
each names one channel with its target and a match on event, alarm type, category, priority,
site and escalation level. For every committed alarm change, ``matching_rules`` picks the
rules that fire. An alarm nobody acknowledged climbs the taxonomy's escalation ladder one
level at a time, each an ``alarm.escalated`` change: a rule with ``levels`` fires only once
the alarm has reached one of them, so that each level's people are told through their own
channel (the supervisors' pager at the first level, the duty manager's phone at the next).
What leaves watchfloor is a ``Notice``: the alarm's id, type, category, priority, site, the
zone's description from the zone list (``zone_name``: "rear door, ground floor" tells a
responder where; it describes equipment, not people), state and times, and nothing else.
Never the signals' free text, notes or reports, a caller's number, a guard's or operator's
name: a receiving agency needs to know what happened where, not who said it (data
minimisation). Every notice sent passes one ``NotificationLog``, where
the audit log records it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from types import MappingProxyType
from typing import Protocol

from watchfloor.codecs.cap import (
    CapAlert,
    CapCategory,
    CapCertainty,
    CapInfo,
    CapMsgType,
    CapSeverity,
    CapUrgency,
)
from watchfloor.core.alarms import Alarm, AlarmState
from watchfloor.core.ports import AlarmEvent, AlarmEventKind

__all__ = [
    "CAP_CATEGORY",
    "Channel",
    "DeadLetter",
    "DeadLetterStore",
    "DeliveryOutcome",
    "EmailTarget",
    "Match",
    "MqttTarget",
    "Notice",
    "NotificationLog",
    "NotificationRule",
    "SentNotice",
    "WebhookTarget",
    "cap_alert_of",
    "email_of",
    "encode_notice",
    "levels_off_the_ladder",
    "matching_rules",
    "mqtt_topic",
    "notice_of",
]


class Channel(StrEnum):
    """How a notice leaves: a signed webhook, an MQTT message, an e-mail, or the CAP feed."""

    WEBHOOK = "webhook"
    MQTT = "mqtt"
    EMAIL = "email"
    CAP = "cap"


@dataclass(frozen=True, slots=True, kw_only=True)
class Match:
    """Which alarm changes a rule fires for; an empty set matches everything.

    ``max_priority`` is the least urgent priority that still fires (1 is the most urgent).
    ``levels`` names escalation levels (``supervisor``, ``duty_manager`` ...): the rule fires
    only for alarms whose last level reached is one of them (none: any alarm).
    """

    events: frozenset[AlarmEventKind] = frozenset({AlarmEventKind.CREATED})
    type_codes: frozenset[int] = frozenset()
    categories: frozenset[str] = frozenset()
    sites: frozenset[str] = frozenset()
    max_priority: int = 5
    levels: frozenset[str] = frozenset()

    def matches(self, event: AlarmEvent) -> bool:
        """Return whether the change fires the rule."""
        return event.kind in self.events and self.selects(event.alarm)

    def selects(self, alarm: Alarm) -> bool:
        """Return whether the alarm is one the rule is about, whatever the change."""
        return (
            (not self.type_codes or alarm.type_code in self.type_codes)
            and (not self.categories or alarm.category in self.categories)
            and (not self.sites or alarm.site in self.sites)
            and alarm.priority <= self.max_priority
            and (not self.levels or alarm.escalation_level in self.levels)
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class WebhookTarget:
    """Where a webhook posts, and the secret it signs with (never shown)."""

    url: str
    secret: str = field(repr=False)


@dataclass(frozen=True, slots=True, kw_only=True)
class MqttTarget:
    """The broker an MQTT rule publishes to, under ``topic_prefix/<site>/<type code>``."""

    host: str
    port: int = 1883
    topic_prefix: str = "watchfloor"
    username: str | None = None
    password: str | None = field(default=None, repr=False)


@dataclass(frozen=True, slots=True, kw_only=True)
class EmailTarget:
    """The SMTP server an e-mail rule sends through, and to whom."""

    host: str
    port: int
    sender: str
    recipients: tuple[str, ...]
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    starttls: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class NotificationRule:
    """One configured notification: a name, a match and the channel's target.

    A ``cap`` rule has no target: its match selects the alarms the CAP feed publishes.
    """

    name: str
    channel: Channel
    match: Match = Match()
    target: WebhookTarget | MqttTarget | EmailTarget | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Notice:
    """What a receiver learns of an alarm change: nothing personal (see the module's text)."""

    event: AlarmEventKind
    alarm_id: int
    type_code: int
    type_name: str
    category: str
    priority: int
    site: str | None
    state: AlarmState
    first_at: datetime
    last_at: datetime
    acknowledged_at: datetime | None
    dispatched_at: datetime | None
    resolved_at: datetime | None
    version: int
    overdue: bool = False
    escalation_level: str | None = None
    zone_name: str | None = None


class DeliveryOutcome(StrEnum):
    """How one delivery attempt ended."""

    SENT = "sent"
    FAILED = "failed"
    DEAD_LETTER = "dead_letter"
    DROPPED = "dropped"


@dataclass(frozen=True, slots=True, kw_only=True)
class SentNotice:
    """One notice handed to (or refused by) a receiver: what the audit log records."""

    rule: str
    channel: Channel
    destination: str
    notice: Notice
    outcome: DeliveryOutcome
    at: datetime
    attempt: int = 1
    detail: str = ""


class NotificationLog(Protocol):
    """The one place every delivery outcome passes: log lines now, audit rows later."""

    def record(self, sent: SentNotice) -> None:
        """Record one outcome; must not block or raise."""
        ...


@dataclass(frozen=True, slots=True, kw_only=True)
class DeadLetter:
    """A notification that failed every attempt, kept for administrators (``id`` 0: new)."""

    id: int
    rule: str
    channel: str
    destination: str
    alarm_id: int
    body: str
    attempts: int
    last_error: str
    failed_at: datetime


class DeadLetterStore(Protocol):
    """Where undeliverable notifications are kept."""

    async def add_dead_letter(self, letter: DeadLetter) -> None:
        """Keep a notification that failed every attempt."""
        ...

    async def list_dead_letters(self, *, limit: int = 100) -> list[DeadLetter]:
        """Return the newest dead letters first."""
        ...


def notice_of(event: AlarmEvent) -> Notice:
    """Return the minimal notice of a committed alarm change."""
    alarm: Alarm = event.alarm
    return Notice(
        event=event.kind,
        alarm_id=alarm.id,
        type_code=alarm.type_code,
        type_name=alarm.type_name,
        category=alarm.category,
        priority=alarm.priority,
        site=alarm.site,
        state=alarm.state,
        first_at=alarm.first_at,
        last_at=alarm.last_at,
        acknowledged_at=alarm.acknowledged_at,
        dispatched_at=alarm.dispatched_at,
        resolved_at=alarm.resolved_at,
        version=alarm.version,
        overdue=alarm.overdue,
        escalation_level=alarm.escalation_level,
        zone_name=alarm.zone_name,
    )


def matching_rules(rules: Iterable[NotificationRule], event: AlarmEvent) -> list[NotificationRule]:
    """Return the rules (but CAP's, which is a feed) that fire for a change, in order."""
    return [r for r in rules if r.channel is not Channel.CAP and r.match.matches(event)]


def levels_off_the_ladder(rules: Iterable[NotificationRule], ladder: Iterable[str]) -> list[str]:
    """Return a problem for each escalation level a rule names that the ladder does not have.

    Such a rule would never fire: the check runs at start-up, with the taxonomy in force.
    """
    names = list(ladder)
    return [
        f"notify rule {rule.name!r}: level {level!r} is not on the escalation ladder "
        f"({', '.join(names)}; the taxonomy file's [escalation])"
        for rule in rules
        for level in sorted(rule.match.levels)
        if level not in names
    ]


def _time(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat()


def encode_notice(notice: Notice) -> bytes:
    """Return the JSON body of a webhook or MQTT message; keys sorted, UTF-8."""
    document = {
        "event": notice.event.value,
        "alarm": {
            "id": notice.alarm_id,
            "type_code": notice.type_code,
            "type_name": notice.type_name,
            "category": notice.category,
            "priority": notice.priority,
            "site": notice.site,
            "zone_name": notice.zone_name,
            "state": notice.state.value,
            "first_at": _time(notice.first_at),
            "last_at": _time(notice.last_at),
            "acknowledged_at": _time(notice.acknowledged_at),
            "dispatched_at": _time(notice.dispatched_at),
            "resolved_at": _time(notice.resolved_at),
            "overdue": notice.overdue,
            "escalation_level": notice.escalation_level,
            "version": notice.version,
        },
    }
    return json.dumps(document, sort_keys=True, separators=(",", ":")).encode()


_UNSAFE_SEGMENT = re.compile(r"[^A-Za-z0-9_-]+")


def mqtt_topic(prefix: str, notice: Notice) -> str:
    """Return ``<prefix>/<site>/<type code>``, the site reduced to a safe topic segment.

    MQTT wildcards (``+``, ``#``), separators and spaces never reach a segment: anything
    but letters, digits, ``_`` and ``-`` becomes ``_`` (a site named "North / Gate 2" is
    ``North_Gate_2``); no site is ``_``.
    """
    site = _UNSAFE_SEGMENT.sub("_", notice.site or "").strip("_") or "_"
    return f"{prefix}/{site}/{notice.type_code}"


def email_of(notice: Notice) -> tuple[str, str]:
    """Return the subject and plain-text body of a notice's e-mail."""
    site = notice.site or "(no site)"
    subject = f"[watchfloor] P{notice.priority} {notice.type_name} at {site} ({notice.state})"
    if notice.event is AlarmEventKind.ESCALATED and notice.escalation_level:
        level = notice.escalation_level.replace("_", " ")
        subject += f": not acknowledged, escalated to {level}"
    lines = [
        f"Alarm {notice.alarm_id}: {notice.type_name} ({notice.type_code}, {notice.category})",
        f"Site: {site}",
        f"Priority: {notice.priority}",
        f"State: {notice.state}"
        + (" (overdue: not acknowledged in time)" if notice.overdue else ""),
        f"First signal: {notice.first_at.isoformat()}",
        f"Last signal: {notice.last_at.isoformat()}",
    ]
    return subject, "\n".join(lines) + "\n"


#: Alarm category -> CAP category (CAP 1.2 §3.2.2); anything else is ``Other``.
CAP_CATEGORY: Mapping[str, CapCategory] = MappingProxyType(
    {
        "fire": CapCategory.FIRE,
        "intrusion": CapCategory.SECURITY,
        "panic": CapCategory.SECURITY,
        "access": CapCategory.SECURITY,
        "tamper": CapCategory.SECURITY,
        "video": CapCategory.SECURITY,
        "report": CapCategory.SECURITY,
        "call": CapCategory.RESCUE,
        "medical": CapCategory.HEALTH,
        "hazard": CapCategory.ENV,
        "fault": CapCategory.INFRA,
        "supervision": CapCategory.INFRA,
        "maintenance": CapCategory.INFRA,
    }
)

#: Priority (1 most urgent) -> CAP urgency and severity.
_CAP_GRAVITY: Mapping[int, tuple[CapUrgency, CapSeverity]] = MappingProxyType(
    {
        1: (CapUrgency.IMMEDIATE, CapSeverity.EXTREME),
        2: (CapUrgency.IMMEDIATE, CapSeverity.SEVERE),
        3: (CapUrgency.EXPECTED, CapSeverity.MODERATE),
        4: (CapUrgency.EXPECTED, CapSeverity.MINOR),
        5: (CapUrgency.FUTURE, CapSeverity.MINOR),
    }
)

_CLOSED_STATES = frozenset({AlarmState.RESOLVED, AlarmState.CLOSED})


def cap_alert_of(notice: Notice, *, sender: str) -> CapAlert:
    """Return the CAP alert for an alarm as it now stands.

    The first version is an ``Alert``; each later version is an ``Update`` that references
    the first, with urgency ``Past`` once the alarm is resolved or closed. Certainty is
    ``Observed`` once an operator acknowledged the alarm, ``Likely`` before.
    """
    urgency, severity = _CAP_GRAVITY.get(notice.priority, (CapUrgency.UNKNOWN, CapSeverity.UNKNOWN))
    if notice.state in _CLOSED_STATES:
        urgency = CapUrgency.PAST
    first = (sender, f"watchfloor-alarm-{notice.alarm_id}-1", notice.first_at)
    return CapAlert(
        identifier=f"watchfloor-alarm-{notice.alarm_id}-{notice.version}",
        sender=sender,
        sent=notice.last_at
        if notice.version == 1
        else max(
            t
            for t in (
                notice.last_at,
                notice.acknowledged_at,
                notice.dispatched_at,
                notice.resolved_at,
            )
            if t is not None
        ),
        msg_type=CapMsgType.ALERT if notice.version == 1 else CapMsgType.UPDATE,
        references=() if notice.version == 1 else (first,),
        info=CapInfo(
            category=CAP_CATEGORY.get(notice.category, CapCategory.OTHER),
            event=notice.type_name,
            urgency=urgency,
            severity=severity,
            certainty=(
                CapCertainty.LIKELY if notice.acknowledged_at is None else CapCertainty.OBSERVED
            ),
            area_desc=", ".join(p for p in (notice.site or "unknown site", notice.zone_name) if p),
            headline=f"{notice.type_name} at {notice.site or 'unknown site'}: {notice.state}",
        ),
    )

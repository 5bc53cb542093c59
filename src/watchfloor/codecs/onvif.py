"""ONVIF events: PullMessages replies and their notification messages, and what each one means.

Theory of operation (ONVIF Core Specification §9 "Event handling", WS-BaseNotification 1.3):
a PullPoint subscription answers ``PullMessages`` with ``CurrentTime``, ``TerminationTime`` and
zero or more ``wsnt:NotificationMessage`` elements. Each carries a topic
(``tns1:RuleEngine/CellMotionDetector/Motion``) and a ``tt:Message`` with a ``UtcTime``, an
optional ``PropertyOperation`` (Initialized, Changed, Deleted: §9.2.1.1 property events), and
``Source`` / ``Data`` lists of ``SimpleItem`` name/value pairs.

Topics are of two kinds (``TOPIC_KINDS``). A *state* topic reports a property that is on or
off (motion, tamper, a digital input, an image too dark): true raises, false restores. A
subscription starts with an ``Initialized`` message per property (§9.2.1.1), so an idle
``Initialized`` is no news and a repeated true is the same condition still present. An *edge*
topic reports occurrences (a line crossed, an object entering a field): every occurrence is an
event of its own and nothing is ever restored. ``decide`` applies these rules to the previous
state of the same topic and source, which the caller keeps.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from types import MappingProxyType
from typing import Final
from xml.etree.ElementTree import Element, ParseError
from xml.parsers import expat

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring

from watchfloor.codecs.errors import FormatError

__all__ = [
    "TOPIC_KINDS",
    "Action",
    "Decision",
    "OnvifEvent",
    "PropertyOperation",
    "PullMessagesReply",
    "TopicKind",
    "decide",
    "decode_notification",
    "decode_pull_messages",
    "strip_topic",
    "topic_kind",
]

_SOAP12 = "http://www.w3.org/2003/05/soap-envelope"
_SOAP11 = "http://schemas.xmlsoap.org/soap/envelope/"
_WSNT = "http://docs.oasis-open.org/wsn/b-2"
_TEV = "http://www.onvif.org/ver10/events/wsdl"
_TT = "http://www.onvif.org/ver10/schema"

_NOTIFICATION = f"{{{_WSNT}}}NotificationMessage"
_PULL_RESPONSE = f"{{{_TEV}}}PullMessagesResponse"
_FAULTS = frozenset({f"{{{_SOAP12}}}Fault", f"{{{_SOAP11}}}Fault"})
_BODIES = (f"{{{_SOAP12}}}Body", f"{{{_SOAP11}}}Body")

#: The largest reply decoded; a PullMessages reply with a MessageLimit of 100 is far smaller.
MAX_REPLY_BYTES: Final = 4 * 1024 * 1024


class PropertyOperation(StrEnum):
    """What a property event says of its property (ONVIF Core §9.2.1.1)."""

    INITIALIZED = "Initialized"
    CHANGED = "Changed"
    DELETED = "Deleted"


class TopicKind(StrEnum):
    """Whether a topic reports a condition that holds (state) or an occurrence (edge)."""

    STATE = "state"
    EDGE = "edge"


_STATE_TOPICS = (
    "VideoSource/MotionAlarm",
    "RuleEngine/CellMotionDetector/Motion",
    "RuleEngine/MotionRegionDetector/Motion",
    "RuleEngine/TamperDetector/Tamper",
    "Device/Trigger/DigitalInput",
    "VideoSource/SignalLoss",
    *(
        f"VideoSource/{condition}/{service}"
        for condition in ("GlobalSceneChange", "ImageTooBlurry", "ImageTooDark", "ImageTooBright")
        for service in ("ImagingService", "AnalyticsService", "RecordingService")
    ),
)
_EDGE_TOPICS = (
    "RuleEngine/LineDetector/Crossed",
    "RuleEngine/FieldDetector/ObjectsInside",
)

#: The known topics (namespace prefixes removed) and their kind. A topic not listed here is
#: handled as a state topic when it carries one of the state items, and ignored otherwise
#: (device telemetry such as ``Monitoring/ProcessorUsage``).
TOPIC_KINDS: Mapping[str, TopicKind] = MappingProxyType(
    {
        **dict.fromkeys(_STATE_TOPICS, TopicKind.STATE),
        **dict.fromkeys(_EDGE_TOPICS, TopicKind.EDGE),
    }
)

#: ``Data`` items that say whether the condition holds, in order of preference (ONVIF Core
#: §9.11 and the Analytics and Imaging service specifications; ``IsInside`` is the field
#: detector's).
_STATE_ITEMS = (
    "IsMotion",
    "State",
    "LogicalState",
    "IsTamper",
    "IsInside",
    "IsTooBlurry",
    "IsTooDark",
    "IsTooBright",
)
#: xs:boolean, plus the 0/1 and on/off forms cameras also send.
_BOOLEANS: Final = MappingProxyType(
    {
        "true": True,
        "1": True,
        "on": True,
        "active": True,
        "false": False,
        "0": False,
        "off": False,
        "inactive": False,
    }
)
#: ``Source`` items that name the zone of an event, in order of preference: the rule of an
#: analytics module, then the input or video source.
_ZONE_ITEMS = ("Rule", "InputToken", "VideoSourceConfigurationToken", "VideoSourceToken", "Source")

_PREFIX = re.compile(r"^[A-Za-z_][\w.\-]*:")
_FRACTION = re.compile(r"(\.\d+)")


@dataclass(frozen=True, slots=True, kw_only=True)
class OnvifEvent:
    """One ONVIF notification message.

    ``topic`` has its namespace prefixes removed (``RuleEngine/LineDetector/Crossed``).
    ``operation`` is None for a message that is not a property event. ``source`` and
    ``data`` are the ``SimpleItem`` name/value pairs in document order. ``active`` is the
    value of the first state item of ``data`` (``IsMotion``, ``State``, ``LogicalState`` ...),
    None when there is none. ``raw`` is the message's XML as received.
    """

    topic: str
    utc_time: datetime
    operation: PropertyOperation | None
    source: tuple[tuple[str, str], ...]
    data: tuple[tuple[str, str], ...]
    active: bool | None
    raw: str

    @property
    def zone(self) -> str | None:
        """The rule, input or video source the event is about, if the message names one."""
        items = dict(self.source)
        return next((items[name] for name in _ZONE_ITEMS if items.get(name)), None)

    @property
    def state_key(self) -> tuple[str, tuple[tuple[str, str], ...]]:
        """What identifies the property a state topic reports: the topic and its source."""
        return (self.topic, self.source)


@dataclass(frozen=True, slots=True, kw_only=True)
class PullMessagesReply:
    """A decoded ``PullMessagesResponse``.

    ``current_time`` and ``termination_time`` are the device's clock (None when absent or
    unreadable). ``events`` are the messages that decoded; ``rejected`` holds one error per
    message that did not, so that one bad message never costs the others.
    """

    current_time: datetime | None
    termination_time: datetime | None
    events: tuple[OnvifEvent, ...]
    rejected: tuple[FormatError, ...]


class Action(StrEnum):
    """What a notification message asks of the receiver."""

    RAISE = "raise"
    RESTORE = "restore"
    IGNORE = "ignore"


@dataclass(frozen=True, slots=True, kw_only=True)
class Decision:
    """The action for one message and the state of its property afterwards (None: unknown)."""

    action: Action
    state: bool | None
    reason: str


def strip_topic(topic: str) -> str:
    """Return a topic expression without namespace prefixes.

    ``tns1:Device/tnsaxis:Sensor/PIR`` becomes ``Device/Sensor/PIR``.

    Raises:
        FormatError: empty, or more than one topic (a ConcreteSet ``|`` union).
    """
    parts = [_PREFIX.sub("", part.strip()) for part in topic.strip().split("/")]
    if not all(parts) or any("|" in part or ":" in part for part in parts):
        raise FormatError(f"not a single ONVIF topic: {topic!r}")
    return "/".join(parts)


def topic_kind(event: OnvifEvent) -> TopicKind | None:
    """Return the kind of the event's topic, or None for an unknown topic with no state item."""
    kind = TOPIC_KINDS.get(event.topic)
    if kind is None and event.active is not None:
        return TopicKind.STATE
    return kind


def decide(event: OnvifEvent, previous: bool | None) -> Decision:
    """Decide what a message means, given the last known state of its property.

    Args:
        event: the message.
        previous: for a state topic, the state last seen for ``event.state_key`` (None when
            unknown: nothing seen since the subscription started, or since a restart).

    Returns:
        The action and the property's state afterwards. Edge topics leave the state as it
        was. Pure and deterministic.
    """
    kind = topic_kind(event)
    if kind is None:
        return Decision(action=Action.IGNORE, state=previous, reason="unknown topic, no state")
    if kind is TopicKind.EDGE:
        return _decide_edge(event, previous)
    return _decide_state(event, previous)


def _decide_edge(event: OnvifEvent, previous: bool | None) -> Decision:
    # Some cameras announce edge topics with an Initialized message at subscription time; it
    # reports no occurrence. IsInside false is an object leaving the field, not an alarm.
    if event.operation in (PropertyOperation.INITIALIZED, PropertyOperation.DELETED):
        return Decision(action=Action.IGNORE, state=previous, reason="edge topic announced")
    if event.active is False:
        return Decision(action=Action.IGNORE, state=previous, reason="edge topic cleared")
    return Decision(action=Action.RAISE, state=previous, reason="occurrence")


def _decide_state(event: OnvifEvent, previous: bool | None) -> Decision:
    if event.operation is PropertyOperation.DELETED:
        action = Action.RESTORE if previous else Action.IGNORE
        return Decision(action=action, state=None, reason="property deleted")
    if event.active is None:
        return Decision(action=Action.IGNORE, state=previous, reason="no state item")
    if event.active:
        if previous:
            return Decision(action=Action.IGNORE, state=True, reason="still active")
        return Decision(action=Action.RAISE, state=True, reason="became active")
    if previous is False:
        return Decision(action=Action.IGNORE, state=False, reason="still idle")
    if previous is None and event.operation is PropertyOperation.INITIALIZED:
        return Decision(action=Action.IGNORE, state=False, reason="idle at subscription")
    # A Changed-to-false nobody saw raised here may restore an alarm raised before a restart.
    return Decision(action=Action.RESTORE, state=False, reason="became idle")


def decode_notification(xml: bytes | str) -> OnvifEvent:
    """Decode one ``wsnt:NotificationMessage`` document (namespaces declared within it).

    Raises:
        FormatError: not XML, forbidden XML (a DTD or entities), or not a notification
            message with a topic, a ``tt:Message`` and its ``UtcTime``.
    """
    data = xml.encode() if isinstance(xml, str) else xml
    root = _parse(data)
    if root.tag != _NOTIFICATION:
        raise FormatError(f"not a wsnt:NotificationMessage but {root.tag!r}")
    return _decode_notification(root, raw=data.decode("utf-8", "replace"))


def decode_pull_messages(xml: bytes) -> PullMessagesReply:
    """Decode a SOAP envelope holding a ``PullMessagesResponse``.

    Raises:
        FormatError: not XML, forbidden XML, a SOAP fault, or not a PullMessagesResponse.
            A malformed notification inside a well-formed reply is not raised but listed
            in ``rejected``.
    """
    root = _parse(xml)
    body = next((found for tag in _BODIES if (found := root.find(tag)) is not None), None)
    response = None if body is None else next(iter(body), None)
    if response is None or response.tag in _FAULTS:
        raise FormatError("not a SOAP envelope with a reply in its body (or a SOAP fault)")
    if response.tag != _PULL_RESPONSE:
        raise FormatError(f"not a PullMessagesResponse but {response.tag!r}")
    spans = iter(_notification_spans(xml))
    events: list[OnvifEvent] = []
    rejected: list[FormatError] = []
    for child in response.findall(_NOTIFICATION):
        start, end = next(spans)
        try:
            events.append(
                _decode_notification(child, raw=xml[start:end].decode("utf-8", "replace"))
            )
        except FormatError as err:
            rejected.append(err)
    return PullMessagesReply(
        current_time=_optional_time(response.findtext(f"{{{_TEV}}}CurrentTime")),
        termination_time=_optional_time(response.findtext(f"{{{_TEV}}}TerminationTime")),
        events=tuple(events),
        rejected=tuple(rejected),
    )


def _parse(data: bytes) -> Element:
    if len(data) > MAX_REPLY_BYTES:
        raise FormatError(f"ONVIF reply of {len(data)} bytes exceeds {MAX_REPLY_BYTES}")
    try:
        return fromstring(data, forbid_dtd=True)
    except (ParseError, DefusedXmlException, ValueError, LookupError) as err:
        raise FormatError(f"ONVIF reply is not acceptable XML: {err}") from err


def _notification_spans(data: bytes) -> list[tuple[int, int]]:
    """Return where each NotificationMessage element lies in ``data``, as byte offsets.

    Run only on data the safe parser accepted (no DTD, hence no entities to expand); expat
    reports the offset of each start and end tag, which keeps ``raw`` exactly as received.
    """
    parser = expat.ParserCreate(namespace_separator="}")
    wanted = (_PULL_RESPONSE.removeprefix("{"), _NOTIFICATION.removeprefix("{"))
    spans: list[tuple[int, int]] = []
    open_tags: list[str] = []
    start = 0

    def on_start(tag: str, _attributes: object) -> None:
        nonlocal start
        if (open_tags[-1] if open_tags else None, tag) == wanted:
            start = parser.CurrentByteIndex
        open_tags.append(tag)

    def on_end(tag: str) -> None:
        open_tags.pop()
        if (open_tags[-1] if open_tags else None, tag) == wanted:
            spans.append((start, data.index(b">", parser.CurrentByteIndex) + 1))

    parser.StartElementHandler = on_start
    parser.EndElementHandler = on_end
    parser.Parse(data, True)
    return spans


def _decode_notification(element: Element, *, raw: str) -> OnvifEvent:
    topic_text = element.findtext(f"{{{_WSNT}}}Topic")
    if topic_text is None:
        raise FormatError("notification message without a wsnt:Topic")
    message = element.find(f"{{{_WSNT}}}Message/{{{_TT}}}Message")
    if message is None:
        raise FormatError("notification message without a tt:Message")
    utc_text = message.get("UtcTime")
    if utc_text is None:
        raise FormatError("tt:Message without its UtcTime")
    operation_text = message.get("PropertyOperation")
    try:
        operation = None if operation_text is None else PropertyOperation(operation_text)
    except ValueError as err:
        raise FormatError(f"unknown PropertyOperation {operation_text!r}") from err
    data = _simple_items(message, "Data")
    return OnvifEvent(
        topic=strip_topic(topic_text),
        utc_time=_time(utc_text),
        operation=operation,
        source=_simple_items(message, "Source"),
        data=data,
        active=_active(data),
        raw=raw,
    )


def _simple_items(message: Element, list_name: str) -> tuple[tuple[str, str], ...]:
    items: list[tuple[str, str]] = []
    for item in message.iterfind(f"{{{_TT}}}{list_name}/{{{_TT}}}SimpleItem"):
        name, value = item.get("Name"), item.get("Value")
        if name is None or value is None:
            raise FormatError(f"{list_name} SimpleItem without Name or Value")
        items.append((name, value))
    return tuple(items)


def _active(data: tuple[tuple[str, str], ...]) -> bool | None:
    items = dict(data)
    name = next((name for name in _STATE_ITEMS if name in items), None)
    if name is None:
        return None
    value = _BOOLEANS.get(items[name].strip().lower())
    if value is None:
        raise FormatError(f"state item {name} is not a boolean: {items[name]!r}")
    return value


def _time(text: str) -> datetime:
    # xs:dateTime; cameras send from 0 to 9 fractional digits and sometimes no zone (UTC by
    # ONVIF Core §5.3.3 "UtcTime"). Python 3.11 takes at most 6 digits.
    cleaned = _FRACTION.sub(lambda match: match[1][:7], text.strip().replace(" ", ""), count=1)
    try:
        moment = datetime.fromisoformat(cleaned)
    except ValueError as err:
        raise FormatError(f"not an xs:dateTime: {text!r}") from err
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def _optional_time(text: str | None) -> datetime | None:
    if text is None:
        return None
    try:
        return _time(text)
    except FormatError:
        return None

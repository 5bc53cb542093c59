"""Hikvision ISAPI events: ``EventNotificationAlert`` XML, alarm-server pushes, alertStream.

Theory of operation: cameras and NVRs describe each event in an ``EventNotificationAlert``
document. Firmware generations disagree on the details, so decoding is by local element name
whatever the namespace (``hikvision.com/ver20``, ``ver10``, ``isapi.org/ver20``,
``urn:psialliance-org`` or none), takes ``protocol`` or ``protocolType``, and the channel from
``dynChannelID`` (an NVR's camera channel) or else ``channelID``; either may be empty. A
``duration`` event reports that another event (its ``relationEvent``) goes on: it decodes as
that event. Heartbeats are ``videoloss``/``inactive`` with ``activePostCount`` 0.

A push to the alarm server is the XML alone, or ``multipart/form-data`` with the XML in one
part and JPEG pictures in others; pictures may instead be URLs inside the XML. The
``alertStream`` that a client pulls is ``multipart/mixed`` with one document per part, cut by
``AlertStreamSplitter``. XML is parsed with defusedxml: entity declarations and DTDs are
refused, so a "billion laughs" document is a FormatError and never expands.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring

from watchfloor.codecs._multipart import MultipartSplitter, Part, boundary_of, media_type_of
from watchfloor.codecs.errors import FormatError, UnsupportedMessageError

__all__ = [
    "AlertStreamSplitter",
    "EventState",
    "HikvisionAlert",
    "HikvisionPush",
    "Picture",
    "decode_alert",
    "decode_push",
]

_ROOT = "EventNotificationAlert"
_XML_TYPES = frozenset({"application/xml", "text/xml"})
_MULTIPART_TYPES = frozenset({"multipart/form-data", "multipart/mixed"})
_PICTURE_TYPES = frozenset({"image/jpeg", "image/jpg", "image/pjpeg"})
#: The most text kept of one field: a camera name or description, never a novel.
_MAX_FIELD = 256


class EventState(StrEnum):
    """Whether the event is going on (``active``) or has ended (``inactive``)."""

    ACTIVE = "active"
    INACTIVE = "inactive"


@dataclass(frozen=True, slots=True, kw_only=True)
class HikvisionAlert:
    """One decoded ``EventNotificationAlert``.

    ``event_type`` is lower-cased (firmwares write ``VMD`` and ``vmd``, ``IO`` and ``io``).
    ``channel`` is ``dynChannelID`` or else ``channelID``, None when both are absent or
    empty. ``at`` is the device's own ``dateTime`` with its offset, None when unparseable.
    ``targets`` are the ``detectionTarget`` values (``human``, ``vehicle``) and ``regions``
    the non-empty ``regionID`` values. ``picture_urls`` are the http(s) URLs of pictures
    the device offers instead of sending them inline.
    """

    event_type: str
    state: EventState
    channel: str | None
    channel_name: str | None
    at: datetime | None
    active_post_count: int | None
    description: str | None
    ip_address: str | None
    mac_address: str | None
    protocol: str | None
    targets: tuple[str, ...] = ()
    regions: tuple[str, ...] = ()
    picture_urls: tuple[str, ...] = ()

    @property
    def is_heartbeat(self) -> bool:
        """Whether this is the keep-alive: ``videoloss``/``inactive`` with no posts."""
        return (
            self.event_type == "videoloss"
            and self.state is EventState.INACTIVE
            and not self.active_post_count
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class Picture:
    """A picture sent with an event: its media type and bytes."""

    content_type: str
    data: bytes


@dataclass(frozen=True, slots=True, kw_only=True)
class HikvisionPush:
    """A decoded alarm-server push: the alert, its XML as sent, and its inline pictures."""

    alert: HikvisionAlert
    xml: bytes
    pictures: tuple[Picture, ...] = ()


def _local(tag: object) -> str:
    text = tag if isinstance(tag, str) else ""
    return text.rpartition("}")[2]


def _text(element: ET.Element | None) -> str | None:
    if element is None or element.text is None:
        return None
    text = element.text.strip()
    return text[:_MAX_FIELD] or None


def _parse(xml: bytes) -> ET.Element:
    try:
        return fromstring(xml, forbid_dtd=True)
    except (ET.ParseError, DefusedXmlException, ValueError, LookupError) as err:
        # ValueError / LookupError: an XML declaration naming an unknown or bad encoding.
        raise FormatError(f"malformed event XML: {err}") from err


def decode_alert(xml: bytes) -> HikvisionAlert:
    """Decode one ``EventNotificationAlert`` document, whatever its namespace.

    Args:
        xml: the document's bytes (any declared encoding; UTF-8 without a declaration).

    Returns:
        The alert.

    Raises:
        FormatError: not well-formed XML, a DTD or entity declaration, another root
            element, or no ``eventType``.
    """
    root = _parse(xml)
    if _local(root.tag) != _ROOT:
        raise FormatError(f"expected {_ROOT}, got {_local(root.tag)[:50]!r}")
    children: dict[str, ET.Element] = {}
    for child in root:
        children.setdefault(_local(child.tag), child)
    descendants = list(root.iter())

    def field(*names: str) -> str | None:
        return next((v for name in names if (v := _text(children.get(name)))), None)

    def every(name: str) -> tuple[str, ...]:
        found = (_text(e) for e in descendants if _local(e.tag) == name)
        return tuple(dict.fromkeys(value for value in found if value))

    event_type = (field("eventType") or "").lower()
    if not event_type:
        raise FormatError("event XML without an eventType")
    if event_type == "duration" and (related := every("relationEvent")):
        event_type = related[0].lower()
    state_text = (field("eventState") or "active").lower()
    return HikvisionAlert(
        event_type=event_type,
        state=EventState.INACTIVE if state_text == "inactive" else EventState.ACTIVE,
        channel=field("dynChannelID", "channelID"),
        channel_name=field("channelName"),
        at=_datetime(field("dateTime")),
        active_post_count=_count(field("activePostCount")),
        description=field("eventDescription"),
        ip_address=field("ipAddress", "ipv6Address"),
        mac_address=field("macAddress"),
        protocol=field("protocol", "protocolType"),
        targets=tuple(t.lower() for t in every("detectionTarget")),
        regions=every("regionID"),
        picture_urls=tuple(
            url
            for e in descendants
            if _local(e.tag).lower().endswith("url")
            and (url := (e.text or "").strip()).startswith(("http://", "https://"))
        ),
    )


def _datetime(text: str | None) -> datetime | None:
    if text is None:
        return None
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        return None


def _count(text: str | None) -> int | None:
    return int(text) if text is not None and text.isdigit() and len(text) < 10 else None


def decode_push(content_type: str, body: bytes) -> HikvisionPush:
    """Decode an alarm-server push: plain XML, or multipart with an XML part and pictures.

    Args:
        content_type: the request's Content-Type header value.
        body: the whole request body.

    Returns:
        The alert with its inline JPEG pictures, in the order sent.

    Raises:
        UnsupportedMessageError: a content type that is neither XML nor multipart.
        FormatError: malformed XML, a multipart body without a boundary, without its
            close delimiter (truncated) or without an XML part.
    """
    media_type = media_type_of(content_type)
    if media_type in _XML_TYPES:
        return HikvisionPush(alert=decode_alert(body), xml=body)
    if media_type not in _MULTIPART_TYPES:
        raise UnsupportedMessageError(
            f"unsupported content type {media_type[:80]!r}: expected XML or multipart"
        )
    splitter = MultipartSplitter(boundary_of(content_type), max_part=len(body) + 1)
    parts = splitter.feed(body)
    if not splitter.closed:
        raise FormatError("truncated multipart body: no close delimiter")
    xml_part = next((part for part in parts if _is_xml(part)), None)
    if xml_part is None:
        raise FormatError("multipart body without an event XML part")
    return HikvisionPush(
        alert=decode_alert(xml_part.body),
        xml=xml_part.body,
        pictures=tuple(
            Picture(content_type=part.content_type, data=part.body)
            for part in parts
            if part.content_type in _PICTURE_TYPES and part.body
        ),
    )


def _is_xml(part: Part) -> bool:
    if part.content_type in _XML_TYPES:
        return True
    # Some firmwares label the XML part with nothing but its form field name.
    return not part.content_type and part.body.lstrip().startswith(b"<")


class AlertStreamSplitter:
    """Cut an ``alertStream`` (``multipart/mixed``) into decoded alerts and pictures.

    The boundary comes from the response's Content-Type (it varies by device: ``boundary``,
    ``hikboundary`` ...). ``feed`` returns, in order, the alert (as a push without pictures:
    the XML is kept as received) or the picture of each completed part, or the ``FormatError`` of a part whose XML is malformed (so one bad part neither
    stops the stream nor hides the good ones). Parts of other types are skipped.
    """

    __slots__ = ("_splitter",)

    def __init__(self, content_type: str, *, max_part: int = 10 * 1024 * 1024) -> None:
        """Start a stream.

        Raises:
            UnsupportedMessageError: the stream is not multipart.
            FormatError: the content type names no boundary.
        """
        if media_type_of(content_type) not in _MULTIPART_TYPES:
            raise UnsupportedMessageError(
                f"alertStream is not multipart: {media_type_of(content_type)[:80]!r}"
            )
        self._splitter = MultipartSplitter(boundary_of(content_type), max_part=max_part)

    def feed(self, data: bytes) -> list[HikvisionPush | Picture | FormatError]:
        """Add bytes of the stream; return what the completed parts hold.

        Raises:
            FramingError: a part grew beyond ``max_part`` bytes (the stream is garbage).
        """
        found: list[HikvisionPush | Picture | FormatError] = []
        for part in self._splitter.feed(data):
            if _is_xml(part):
                try:
                    found.append(HikvisionPush(alert=decode_alert(part.body), xml=part.body))
                except FormatError as err:
                    found.append(err)
            elif part.content_type in _PICTURE_TYPES and part.body:
                found.append(Picture(content_type=part.content_type, data=part.body))
        return found

"""OASIS Common Alerting Protocol 1.2: alert documents and an Atom index of them. Pure.

Only the elements watchfloor fills are modelled; the encoder writes them in the order the
CAP 1.2 schema's sequences require (CAP 1.2 §3.2), in the namespace
``urn:oasis:names:tc:emergency:cap:1.2``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from xml.etree import ElementTree as ET

__all__ = [
    "CAP_NAMESPACE",
    "CapAlert",
    "CapCategory",
    "CapCertainty",
    "CapInfo",
    "CapMsgType",
    "CapSeverity",
    "CapUrgency",
    "FeedEntry",
    "encode_alert",
    "encode_atom_index",
    "format_cap_time",
]

CAP_NAMESPACE = "urn:oasis:names:tc:emergency:cap:1.2"
_ATOM_NAMESPACE = "http://www.w3.org/2005/Atom"


class CapMsgType(StrEnum):
    """``msgType`` (CAP 1.2 §3.2.1)."""

    ALERT = "Alert"
    UPDATE = "Update"
    CANCEL = "Cancel"


class CapCategory(StrEnum):
    """``category`` (CAP 1.2 §3.2.2); the subset an alarm receiving centre uses."""

    SAFETY = "Safety"
    SECURITY = "Security"
    RESCUE = "Rescue"
    FIRE = "Fire"
    HEALTH = "Health"
    ENV = "Env"
    TRANSPORT = "Transport"
    INFRA = "Infra"
    OTHER = "Other"


class CapUrgency(StrEnum):
    """``urgency`` (CAP 1.2 §3.2.2)."""

    IMMEDIATE = "Immediate"
    EXPECTED = "Expected"
    FUTURE = "Future"
    PAST = "Past"
    UNKNOWN = "Unknown"


class CapSeverity(StrEnum):
    """``severity`` (CAP 1.2 §3.2.2)."""

    EXTREME = "Extreme"
    SEVERE = "Severe"
    MODERATE = "Moderate"
    MINOR = "Minor"
    UNKNOWN = "Unknown"


class CapCertainty(StrEnum):
    """``certainty`` (CAP 1.2 §3.2.2)."""

    OBSERVED = "Observed"
    LIKELY = "Likely"
    POSSIBLE = "Possible"
    UNLIKELY = "Unlikely"
    UNKNOWN = "Unknown"


@dataclass(frozen=True, slots=True, kw_only=True)
class CapInfo:
    """The one ``info`` block of an alert, with its one ``area``."""

    category: CapCategory
    event: str
    urgency: CapUrgency
    severity: CapSeverity
    certainty: CapCertainty
    area_desc: str
    headline: str | None = None
    sender_name: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class CapAlert:
    """A CAP 1.2 ``alert``; ``status`` is always ``Actual`` and ``scope`` ``Restricted``.

    ``identifier`` and ``sender`` must not contain spaces, commas or ``<``/``&`` (CAP 1.2
    §3.2.1); ``references`` names earlier alerts as ``sender,identifier,sent`` triples.
    """

    identifier: str
    sender: str
    sent: datetime
    msg_type: CapMsgType
    info: CapInfo
    restriction: str = "for the receiving agencies of this control room"
    references: tuple[tuple[str, str, datetime], ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class FeedEntry:
    """One entry of an Atom index of CAP alerts: where to fetch it and what it says."""

    id: str
    title: str
    updated: datetime
    link: str


def format_cap_time(moment: datetime) -> str:
    """Return a time as CAP's ``dateTime`` wants it: seconds, explicit offset, no ``Z``.

    Raises:
        ValueError: a naive datetime.
    """
    if moment.tzinfo is None:
        raise ValueError("CAP times need a time zone")
    return moment.replace(microsecond=0).isoformat()


def _check_token(name: str, value: str) -> None:
    if not value or any(c in value for c in " ,<&"):
        raise ValueError(f"CAP {name} {value!r} must be non-empty without spaces, commas, < or &")


#: What XML 1.0 cannot carry at all (XML 1.0 §2.2): dropped from free text, never escaped.
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def _add(parent: ET.Element, tag: str, text: str) -> ET.Element:
    element = ET.SubElement(parent, f"{{{CAP_NAMESPACE}}}{tag}")
    element.text = _NOT_XML.sub("", text)
    return element


def encode_alert(alert: CapAlert) -> bytes:
    """Return the alert as a UTF-8 CAP 1.2 XML document.

    Raises:
        ValueError: an identifier or sender that CAP forbids, or a naive time.
    """
    _check_token("identifier", alert.identifier)
    _check_token("sender", alert.sender)
    ET.register_namespace("", CAP_NAMESPACE)
    root = ET.Element(f"{{{CAP_NAMESPACE}}}alert")
    _add(root, "identifier", alert.identifier)
    _add(root, "sender", alert.sender)
    _add(root, "sent", format_cap_time(alert.sent))
    _add(root, "status", "Actual")
    _add(root, "msgType", alert.msg_type.value)
    _add(root, "scope", "Restricted")
    _add(root, "restriction", alert.restriction)
    if alert.references:
        _add(
            root,
            "references",
            " ".join(f"{s},{i},{format_cap_time(t)}" for s, i, t in alert.references),
        )
    info = ET.SubElement(root, f"{{{CAP_NAMESPACE}}}info")
    _add(info, "language", "en")
    _add(info, "category", alert.info.category.value)
    _add(info, "event", alert.info.event)
    _add(info, "urgency", alert.info.urgency.value)
    _add(info, "severity", alert.info.severity.value)
    _add(info, "certainty", alert.info.certainty.value)
    if alert.info.sender_name:
        _add(info, "senderName", alert.info.sender_name)
    if alert.info.headline:
        _add(info, "headline", alert.info.headline)
    area = ET.SubElement(info, f"{{{CAP_NAMESPACE}}}area")
    _add(area, "areaDesc", alert.info.area_desc)
    document: bytes = ET.tostring(root, encoding="utf-8", xml_declaration=True)
    return document


def encode_atom_index(
    *, feed_id: str, title: str, updated: datetime, entries: list[FeedEntry]
) -> bytes:
    """Return an Atom feed listing CAP alerts, each entry linking to its alert document."""
    ET.register_namespace("", _ATOM_NAMESPACE)
    root = ET.Element(f"{{{_ATOM_NAMESPACE}}}feed")

    def add(parent: ET.Element, tag: str, text: str) -> ET.Element:
        element = ET.SubElement(parent, f"{{{_ATOM_NAMESPACE}}}{tag}")
        element.text = text
        return element

    add(root, "id", feed_id)
    add(root, "title", title)
    add(root, "updated", format_cap_time(updated))
    for entry in entries:
        item = ET.SubElement(root, f"{{{_ATOM_NAMESPACE}}}entry")
        add(item, "id", entry.id)
        add(item, "title", entry.title)
        add(item, "updated", format_cap_time(entry.updated))
        ET.SubElement(
            item,
            f"{{{_ATOM_NAMESPACE}}}link",
            {"rel": "alternate", "type": "application/cap+xml", "href": entry.link},
        )
    document: bytes = ET.tostring(root, encoding="utf-8", xml_declaration=True)
    return document

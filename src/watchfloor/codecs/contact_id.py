"""Ademco Contact ID events as DC-09 ADM-CID data blocks carry them."""

from __future__ import annotations

import re
from dataclasses import dataclass

from watchfloor.codecs.errors import FormatError

__all__ = ["QUALIFIERS", "ContactIdEvent", "decode_contact_id", "encode_contact_id"]

QUALIFIERS = frozenset({"1", "3", "6"})
"""1: new event or opening, 3: restore or closing, 6: previously reported, still present."""

# Corpus README: ADM-CID data is "#acct|QEEE GG ZZZ". Contact ID digits are 0-9 and B-F (hex),
# so event, group and zone are hex; the spaces are optional (some diallers omit them).
_DATA = re.compile(
    r"(?:#(?P<account>[^|]*)\||\|)?"
    r"(?P<qualifier>[0-9A-Fa-f])(?P<event>[0-9A-Fa-f]{3}) ?"
    r"(?P<partition>[0-9A-Fa-f]{2}) ?(?P<zone>[0-9A-Fa-f]{3})",
    re.ASCII,
)
_ACCOUNT = re.compile(r"[^|\[\]\x00-\x1f]+")
_HEX_DIGITS = frozenset("0123456789ABCDEFabcdef")


@dataclass(frozen=True, slots=True, kw_only=True)
class ContactIdEvent:
    """One Contact ID event.

    ``account`` is the account inside the data block (None when absent; it may differ from
    the DC-09 header's). ``zone`` is the zone or, for openings and closings, the user number.
    Hex digits are kept in upper case.
    """

    account: str | None
    qualifier: str
    event: str
    partition: str
    zone: str

    @property
    def restore(self) -> bool:
        """Whether this is a restore (or a closing): qualifier 3."""
        return self.qualifier == "3"


def decode_contact_id(data: str) -> ContactIdEvent:
    """Decode an ADM-CID data block such as ``#1234|1130 01 005`` or ``1130 01 005``.

    Unknown event codes decode fine: mapping them is the taxonomy's job, and an unknown code
    must still raise an alarm.

    Raises:
        FormatError: not ``[#acct|]QEEE GG ZZZ`` with qualifier 1, 3 or 6; reply DUH.
    """
    match = _DATA.fullmatch(data)
    if match is None:
        raise FormatError(f"Contact ID data does not parse: {data!r}")
    if match["qualifier"] not in QUALIFIERS:
        raise FormatError(f"Contact ID qualifier must be 1, 3 or 6, got {match['qualifier']!r}")
    return ContactIdEvent(
        account=match["account"] or None,
        qualifier=match["qualifier"],
        event=match["event"].upper(),
        partition=match["partition"].upper(),
        zone=match["zone"].upper(),
    )


def encode_contact_id(event: ContactIdEvent) -> str:
    """Encode an event as an ADM-CID data block, ``#acct|QEEE GG ZZZ``.

    Raises:
        ValueError: a field out of range.
    """
    if event.qualifier not in QUALIFIERS:
        raise ValueError(f"qualifier must be 1, 3 or 6, got {event.qualifier!r}")
    fields = (("event", event.event, 3), ("partition", event.partition, 2), ("zone", event.zone, 3))
    for name, value, size in fields:
        if len(value) != size or not _HEX_DIGITS.issuperset(value):
            raise ValueError(f"{name} must be {size} hex digits, got {value!r}")
    if event.account is not None and _ACCOUNT.fullmatch(event.account) is None:
        raise ValueError(f"account must be non-empty without '|', '[', ']', got {event.account!r}")
    prefix = "" if event.account is None else f"#{event.account}|"
    return f"{prefix}{event.qualifier}{event.event} {event.partition} {event.zone}"

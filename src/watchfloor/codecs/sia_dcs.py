"""SIA DCS events as DC-09 SIA-DCS data blocks carry them."""

# Theory of operation. A SIA-DCS data block is "[#acct|]N" followed by elements: modifiers
# (two lower-case letters and a value: ri area, id user, ti time, pi peripheral, ...) and
# events (two upper-case letters, an optional numeric parameter, an optional ^text^), in any
# order, usually '/'-separated (corpus README). Real panels drop the '/' after a modifier
# ("Nri0RP2^...^", "Nri1BA5") and order modifiers freely ("Nri1/id5/OP/ri2/OP"), so the block
# is scanned element by element instead of matched against one fixed pattern. A modifier stays
# in force for every later event until it is given again.

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field

from watchfloor.codecs.errors import FormatError

__all__ = ["Modifiers", "SiaEvent", "SiaMessage", "decode_sia_dcs", "encode_sia_dcs"]

_ELEMENT = re.compile(
    r"(?P<separator>/)"
    r"|(?P<name>[a-z]{2})(?P<value>[0-9:]*)"
    r"|(?P<code>[A-Z]{2})(?P<zone>[0-9]*)(?:\^(?P<text>[^^]*)\^)?",
    re.ASCII,
)
_CODE = re.compile(r"[A-Z]{2}", re.ASCII)
_ZONE = re.compile(r"[0-9]*", re.ASCII)
_MODIFIER_NAME = re.compile(r"[a-z]{2}", re.ASCII)
_MODIFIER_VALUE = re.compile(r"[0-9:]*", re.ASCII)
_TEXT = re.compile(r"[^\^\[\]\x00-\x1f]*")
_ACCOUNT = re.compile(r"[^|\[\]\x00-\x1f]+")
_FLAGS = {"N": True, "O": False}  # new event / old (previously sent) event


class Modifiers(Mapping[str, str]):
    """An immutable, hashable mapping of SIA modifier names to values (e.g. ``ri`` → ``1``)."""

    __slots__ = ("_items",)

    def __init__(self, items: Mapping[str, str] | None = None) -> None:
        self._items: dict[str, str] = dict(items or {})

    def __getitem__(self, key: str) -> str:
        return self._items[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._items)

    def __len__(self) -> int:
        return len(self._items)

    def __hash__(self) -> int:
        return hash(frozenset(self._items.items()))

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Mapping):
            return dict(self.items()) == dict(other.items())
        return NotImplemented

    def __repr__(self) -> str:
        return f"Modifiers({self._items!r})"


@dataclass(frozen=True, slots=True, kw_only=True)
class SiaEvent:
    """One SIA event: its code, its parameter and the modifiers in force for it.

    ``zone`` is the parameter after the code (zone, user or other number; may be ``""``).
    ``text`` is the ``^...^`` text, None when absent. Any mapping given as ``modifiers`` is
    stored as an immutable ``Modifiers``.
    """

    code: str
    zone: str
    modifiers: Mapping[str, str] = field(default_factory=Modifiers)
    text: str | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.modifiers, Modifiers):
            object.__setattr__(self, "modifiers", Modifiers(self.modifiers))


@dataclass(frozen=True, slots=True, kw_only=True)
class SiaMessage:
    """A SIA-DCS data block: the account inside it (None when absent) and its events."""

    account: str | None
    new_event: bool
    events: tuple[SiaEvent, ...]


def decode_sia_dcs(data: str) -> SiaMessage:
    """Decode a SIA-DCS data block such as ``#1234|Nri1/BA05`` or ``Nri1/id5/OP/ri2/OP``.

    Codes are not checked against any table: an unknown code decodes fine, so that it can be
    stored and raised as an unclassified signal instead of being lost.

    Raises:
        FormatError: no ``N``/``O`` flag, an element that is neither modifier nor event, an
            unterminated ``^text``, or no event at all; reply DUH.
    """
    pos, account = 0, None
    if data.startswith("#"):
        bar = data.find("|")
        if bar < 0:
            raise FormatError(f"SIA data has '#account' without '|': {data!r}")
        account, pos = data[1:bar] or None, bar + 1
    elif data.startswith("|"):
        pos = 1
    flag = data[pos : pos + 1]
    if flag not in _FLAGS:
        raise FormatError(f"SIA data must start with N or O after the account: {data!r}")
    pos += 1
    in_force: dict[str, str] = {}
    events: list[SiaEvent] = []
    while pos < len(data):
        match = _ELEMENT.match(data, pos)
        if match is None:
            raise FormatError(f"SIA data does not parse at {data[pos:]!r}")
        pos = match.end()
        if match["name"] is not None:
            in_force[match["name"]] = match["value"]
        elif match["code"] is not None:
            events.append(
                SiaEvent(
                    code=match["code"],
                    zone=match["zone"],
                    modifiers=Modifiers(in_force),
                    text=match["text"],
                )
            )
    if not events:
        raise FormatError(f"SIA data holds no event: {data!r}")
    return SiaMessage(account=account, new_event=_FLAGS[flag], events=tuple(events))


def _check(pattern: re.Pattern[str], what: str, value: str) -> None:
    if pattern.fullmatch(value) is None:
        raise ValueError(f"invalid SIA {what}: {value!r}")


def encode_sia_dcs(message: SiaMessage) -> str:
    """Encode a message as a SIA-DCS data block, ``#acct|N`` + '/'-separated elements.

    Each event is preceded by the modifiers that differ from those already in force.

    Raises:
        ValueError: a field out of range, no event, or an event that lacks a modifier an
            earlier event set (a data block cannot withdraw a modifier).
    """
    if not message.events:
        raise ValueError("a SIA message needs at least one event")
    if message.account is not None:
        _check(_ACCOUNT, "account", message.account)
    elements: list[str] = []
    in_force: dict[str, str] = {}
    for event in message.events:
        _check(_CODE, "code", event.code)
        _check(_ZONE, "parameter", event.zone)
        missing = in_force.keys() - event.modifiers.keys()
        if missing:
            raise ValueError(f"event {event.code} lacks modifiers in force: {sorted(missing)}")
        for name, value in event.modifiers.items():
            _check(_MODIFIER_NAME, "modifier name", name)
            _check(_MODIFIER_VALUE, "modifier value", value)
            if in_force.get(name) != value:
                elements.append(f"{name}{value}")
                in_force[name] = value
        text = ""
        if event.text is not None:
            _check(_TEXT, "text", event.text)
            text = f"^{event.text}^"
        elements.append(f"{event.code}{event.zone}{text}")
    prefix = "" if message.account is None else f"#{message.account}|"
    flag = "N" if message.new_event else "O"
    return f"{prefix}{flag}{'/'.join(elements)}"

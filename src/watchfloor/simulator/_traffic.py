"""What a simulated panel reports: a realistic mix of SIA-DCS, ADM-CID and NULL messages."""

# Theory of operation. Each simulated panel draws its next message from ``_MIX``, a weighted
# table of event kinds. Kinds with a restore keep the zones (or users) currently in alarm, so
# restores only follow their alarm (BA05 ... BR05, 1130 01 005 ... 3130 01 005, OP ... CL),
# as a real panel's history would. NULL link tests make up a fifth of the traffic, like a
# supervised panel's polls. Data blocks are built with the codecs' own encoders.

from __future__ import annotations

import random
from dataclasses import dataclass

from watchfloor.codecs.contact_id import ContactIdEvent, encode_contact_id
from watchfloor.codecs.sia_dcs import SiaEvent, SiaMessage, encode_sia_dcs

__all__ = ["PanelMessage", "PanelTraffic"]


@dataclass(frozen=True, slots=True, kw_only=True)
class PanelMessage:
    """One message's DC-09 token and data block (``""`` for a NULL link test)."""

    token: str
    data: str


_NULL, _SIA, _CID = "NULL", "SIA-DCS", "ADM-CID"  # DC-09 tokens


@dataclass(frozen=True, slots=True, kw_only=True)
class _Kind:
    token: str
    weight: int
    alarm: str = ""
    # SIA: the restore code; ADM-CID: the same event sent with qualifier 3. None: no restore.
    restore: str | None = None
    zones: int = 0  # zones (or users) the kind picks from; 0: the event names none


# Taxonomy codes: SIA BA/BR burglary, OP/CL opening/closing, TA/TR tamper, YT/YR battery,
# RP automatic test, FA/FR fire (rare); Contact ID 130 burglary, 401 open/close by user,
# 602 periodic test.
_MIX: tuple[_Kind, ...] = (
    _Kind(token=_NULL, weight=20),
    _Kind(token=_SIA, weight=22, alarm="BA", restore="BR", zones=16),
    _Kind(token=_SIA, weight=18, alarm="OP", restore="CL", zones=8),
    _Kind(token=_SIA, weight=3, alarm="TA", restore="TR", zones=16),
    _Kind(token=_SIA, weight=2, alarm="YT", restore="YR"),
    _Kind(token=_SIA, weight=5, alarm="RP"),
    _Kind(token=_SIA, weight=1, alarm="FA", restore="FR", zones=8),
    _Kind(token=_CID, weight=17, alarm="130", restore="130", zones=16),
    _Kind(token=_CID, weight=9, alarm="401", restore="401", zones=8),
    _Kind(token=_CID, weight=3, alarm="602"),
)
_WEIGHTS = tuple(kind.weight for kind in _MIX)
_RESTORE_CHANCE = 0.6  # of a kind with zones in alarm: restore one rather than raise another


class PanelTraffic:
    """The message stream of one panel: its account, area and the zones now in alarm.

    Deterministic for a given ``rng`` state; holds no I/O.
    """

    __slots__ = ("_account", "_area", "_in_alarm", "_rng")

    def __init__(self, *, account: str, rng: random.Random) -> None:
        self._account = account
        self._rng = rng
        self._area = rng.randint(1, 4)
        self._in_alarm: list[set[int]] = [set() for _ in _MIX]

    def next_message(self) -> PanelMessage:
        """Return the panel's next message."""
        index = self._rng.choices(range(len(_MIX)), weights=_WEIGHTS)[0]
        kind = _MIX[index]
        if kind.token == _NULL:
            return PanelMessage(token=_NULL, data="")
        zone, restore = self._pick_zone(kind, self._in_alarm[index])
        if kind.token == _SIA:
            code = kind.restore if restore and kind.restore else kind.alarm
            event = SiaEvent(
                code=code,
                zone=f"{zone:02d}" if kind.zones else "",
                modifiers={"ri": str(self._area)},
            )
            message = SiaMessage(account=self._account, new_event=True, events=(event,))
            return PanelMessage(token=kind.token, data=encode_sia_dcs(message))
        cid = ContactIdEvent(
            account=self._account,
            qualifier="3" if restore else "1",
            event=kind.alarm,
            partition=f"{self._area:02d}",
            zone=f"{zone:03d}",
        )
        return PanelMessage(token=kind.token, data=encode_contact_id(cid))

    def _pick_zone(self, kind: _Kind, in_alarm: set[int]) -> tuple[int, bool]:
        # A kind without zones (battery trouble, tests) is one "zone 0", sent without a number.
        zones = range(1, kind.zones + 1) if kind.zones else range(1)
        if kind.restore is None:
            return self._rng.choice(zones), False
        quiet = [zone for zone in zones if zone not in in_alarm]
        if in_alarm and (not quiet or self._rng.random() < _RESTORE_CHANCE):
            zone = self._rng.choice(sorted(in_alarm))
            in_alarm.discard(zone)
            return zone, True
        zone = self._rng.choice(quiet)
        in_alarm.add(zone)
        return zone, False

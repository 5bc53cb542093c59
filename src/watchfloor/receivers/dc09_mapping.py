"""The pure mapping from a decoded DC-09 frame to the signals (or link test) it carries."""

from __future__ import annotations

from datetime import datetime

from watchfloor.codecs.contact_id import decode_contact_id
from watchfloor.codecs.dc09 import Dc09Frame, timestamp_skew
from watchfloor.codecs.errors import FormatError
from watchfloor.codecs.sia_dcs import decode_sia_dcs
from watchfloor.core.alarm_types import CodeSystem, SourceCode
from watchfloor.core.signals import LinkTest, Signal, SignalSource

__all__ = ["frame_account", "items_from_frame"]


def frame_account(frame: Dc09Frame) -> str:
    """Return the account a frame speaks for: the header's, else the one inside the data.

    Raises:
        FormatError: the frame names no account at all (DUH).
    """
    # Accounts are hex: "abcd" and "ABCD" are one transmitter (registered upper-case). The
    # ACK still echoes the frame's own spelling.
    if frame.account:
        return frame.account.upper()
    data = frame.data
    if data.startswith("#") and "|" in data:
        return data[1 : data.index("|")].upper()
    raise FormatError("frame carries no account")


def _link_test(
    frame: Dc09Frame, account: str, raw: str, received_at: datetime, peer: str | None
) -> list[Signal | LinkTest]:
    skew = timestamp_skew(frame, received_at)
    return [
        LinkTest(
            source=SignalSource.DC09,
            received_at=received_at,
            device=account,
            skew_seconds=skew,
            peer=peer,
        )
    ]


def _contact_id(
    frame: Dc09Frame, account: str, raw: str, received_at: datetime, peer: str | None
) -> list[Signal | LinkTest]:
    event = decode_contact_id(frame.data)
    return [
        Signal(
            source=SignalSource.DC09,
            received_at=received_at,
            device=account,
            code=SourceCode(system=CodeSystem.CONTACT_ID, code=event.event),
            zone=event.zone,
            partition=event.partition,
            restore=event.restore,
            raw=raw,
            peer=peer,
            account=account,
            seq=frame.seq,
            token=frame.token,
            ext=frame.ext,
        )
    ]


def _sia_dcs(
    frame: Dc09Frame, account: str, raw: str, received_at: datetime, peer: str | None
) -> list[Signal | LinkTest]:
    message = decode_sia_dcs(frame.data)
    return [
        Signal(
            source=SignalSource.DC09,
            received_at=received_at,
            device=account,
            code=SourceCode(system=CodeSystem.SIA_DCS, code=event.code),
            zone=event.zone or None,
            partition=dict(event.modifiers).get("ri"),
            text=event.text,
            raw=raw,
            peer=peer,
            account=account,
            seq=frame.seq,
            token=frame.token,
            ext=frame.ext,
        )
        for event in message.events
    ]


# DC-09 token -> body mapping; the codec refuses tokens outside this table (DUH).
_MAPPERS = {"NULL": _link_test, "ADM-CID": _contact_id, "SIA-DCS": _sia_dcs}


def items_from_frame(
    frame: Dc09Frame, *, raw: str, received_at: datetime, peer: str | None
) -> list[Signal | LinkTest]:
    """Return what a valid, decrypted frame carries: one signal per event, or a link test.

    Args:
        frame: the decoded (and, if it was encrypted, decrypted) frame.
        raw: the frame as received, for the signal record.
        received_at: when the receiver read it.
        peer: the sender's address, for the record.

    Raises:
        FormatError: the body does not parse, or the token has no mapping (DUH).
    """
    mapper = _MAPPERS.get(frame.token)
    if mapper is None:
        raise FormatError(f"unsupported token {frame.token!r}")
    return mapper(frame, frame_account(frame), raw, received_at, peer)

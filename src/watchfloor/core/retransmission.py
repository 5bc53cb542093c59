"""Retransmission: which signals of a batch repeat a frame already stored, and which are new.

Theory of operation (DESIGN rule 4): a DC-09 panel that gets no ACK sends the same frame
again, with the same account, sequence number and content. A frame repeated within
``RETRANSMISSION_WINDOW`` is acknowledged again but stored once. A staff report or call
carries the idempotency key its sender chose, and repeats for ever under it (an offline queue
may resend days later). Both are reduced to one ``dedupe_key`` per signal.

The decision is per **frame**, not per event: the submitter hands over one frame as one unit,
and a SIA block may carry several events, all under the frame's key. Every event of a new
frame is stored, even two alike; none of a repeated frame is, and its n-th event resolves to
the n-th event of the frame it repeats (the last one, if that frame had fewer). The newest
earlier frame under the key wins: one earlier in the batch before one stored, and among
stored signals the newest, whose frame is every signal under the key received with it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final

from watchfloor.core.signals import LinkTest, Signal, SignalRecord, SignalSource

__all__ = [
    "RETRANSMISSION_WINDOW",
    "Deduplication",
    "RepeatLookup",
    "Slot",
    "dedupe_key",
    "deduplicate",
    "repeat_lookup",
]

#: A DC-09 frame repeated within this time (same account, sequence number and content) is a
#: retransmission: acknowledged again, stored once (DESIGN: DC-09 behaviour).
RETRANSMISSION_WINDOW: Final = timedelta(minutes=5)

#: Where an item of a batch ends up: None for a link test, the record of a signal stored
#: before the batch (the item repeats it), or the index of the batch's arrival that holds it.
Slot = SignalRecord | int | None


@dataclass(frozen=True, slots=True, kw_only=True)
class RepeatLookup:
    """The stored signals a batch may repeat: which keys to look up, and since when.

    ``windowed`` keys repeat only within ``RETRANSMISSION_WINDOW``; every signal's window
    lies within ``window`` (earliest, latest), and ``deduplicate`` applies each one's own.
    ``lasting`` keys (a sender's idempotency key) repeat at any time.
    """

    windowed: frozenset[str]
    window: tuple[datetime, datetime] | None
    lasting: frozenset[str]


@dataclass(frozen=True, slots=True, kw_only=True)
class Deduplication:
    """The outcome of ``deduplicate``: each item's slot, unit by unit, and the arrivals.

    ``arrivals`` are the batch's link tests and the signals to store, in arrival order;
    retransmissions are not among them.
    """

    slots: tuple[tuple[Slot, ...], ...]
    arrivals: tuple[Signal | LinkTest, ...]


def dedupe_key(signal: Signal) -> str | None:
    """Return the retransmission key of a signal (None for sources that cannot repeat).

    DC-09 rule: a repeat has the same account, sequence number and content. A staff report
    or call repeats when its sender resends the same idempotency key (an offline queue).
    """
    if signal.idempotency_key is not None:
        material = f"{signal.source}|{signal.device}|{signal.idempotency_key}"
    elif signal.source is SignalSource.DC09:
        material = f"{signal.account or ''}|{signal.seq or ''}|{signal.raw}"
    else:
        return None
    return hashlib.sha256(material.encode()).hexdigest()


def repeat_lookup(batch: Sequence[Signal]) -> RepeatLookup:
    """Return which stored signals the batch's signals may repeat."""
    windowed = [
        (key, signal.received_at)
        for signal in batch
        if signal.idempotency_key is None and (key := dedupe_key(signal))
    ]
    window = (
        (
            min(at for _, at in windowed) - RETRANSMISSION_WINDOW,
            max(at for _, at in windowed),
        )
        if windowed
        else None
    )
    return RepeatLookup(
        windowed=frozenset(key for key, _ in windowed),
        window=window,
        lasting=frozenset(
            key for signal in batch if signal.idempotency_key and (key := dedupe_key(signal))
        ),
    )


def deduplicate(
    units: Sequence[Sequence[Signal | LinkTest]],
    stored: Mapping[str, Sequence[SignalRecord]],
) -> Deduplication:
    """Decide, frame by frame, which signals of a batch are new and which repeat a frame.

    Args:
        units: the batch's units (one frame each) in arrival order.
        stored: the stored signals under each dedupe key the batch may repeat
            (``repeat_lookup``), newest first; other keys may be missing.

    Returns:
        Each item's slot and the arrivals (link tests and the signals to store).
    """
    arrivals: list[Signal | LinkTest] = []
    frames_by_key: dict[str, list[list[int]]] = {}
    slots: list[tuple[Slot, ...]] = []
    for unit in units:
        unit_slots: list[Slot] = []
        # Per key of this unit: the frame it repeats (None: a new frame) and its events so far.
        repeated: dict[str, Sequence[int] | Sequence[SignalRecord] | None] = {}
        events: dict[str, int] = {}
        new_frames: dict[str, list[int]] = {}
        for item in unit:
            key = None if isinstance(item, LinkTest) else dedupe_key(item)
            if isinstance(item, LinkTest) or key is None:
                unit_slots.append(None if isinstance(item, LinkTest) else len(arrivals))
                arrivals.append(item)
                continue
            if key not in repeated:
                repeated[key] = _repeated_frame(
                    item, arrivals, frames_by_key.get(key, []), stored.get(key, ())
                )
            frame = repeated[key]
            event = events[key] = events.get(key, -1) + 1
            if frame is None:
                new_frames.setdefault(key, []).append(len(arrivals))
                unit_slots.append(len(arrivals))
                arrivals.append(item)
            else:
                # A first transmission stored with fewer events repeats its last one.
                unit_slots.append(frame[min(event, len(frame) - 1)])
        for key, frame_slots in new_frames.items():
            frames_by_key.setdefault(key, []).append(frame_slots)
        slots.append(tuple(unit_slots))
    return Deduplication(slots=tuple(slots), arrivals=tuple(arrivals))


def _repeated_frame(
    signal: Signal,
    arrivals: Sequence[Signal | LinkTest],
    same_in_batch: Sequence[Sequence[int]],
    same_stored: Sequence[SignalRecord],
) -> Sequence[int] | Sequence[SignalRecord] | None:
    """Return the events of the frame the signal's frame retransmits, or None."""
    lasting = signal.idempotency_key is not None
    earliest = signal.received_at - RETRANSMISSION_WINDOW

    def within(at: datetime) -> bool:
        return lasting or earliest <= at <= signal.received_at

    for frame in reversed(same_in_batch):
        if within(arrivals[frame[0]].received_at):
            return frame
    newest = next((r for r in same_stored if within(r.signal.received_at)), None)
    if newest is None:
        return None
    return sorted(
        (r for r in same_stored if r.signal.received_at == newest.signal.received_at),
        key=lambda record: record.id,
    )

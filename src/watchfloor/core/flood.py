"""Flood control: when a device sends more signals than its rate allows.

Theory of operation: a faulty panel, or a camera in the rain, can send hundreds of signals
that would each open an alarm and drown the control room. Above ``threshold`` signals of one
device within ``window``, the device is flooding, and ``core.correlation`` folds a signal of
it that would open an alarm into the device's newest open alarm instead (life safety never).

A batch is counted against what the store holds: each device's signals stored since
``window`` before the batch's earliest signal, read once. Then the batch's own signals count
in memory, in the order they are stored: a signal is flooding when its device's stored count
plus the batch's signals so far received within ``window`` before it, itself included, is
above the threshold. A batch far shorter than the window (the rule) counts exactly; one that
spans more of it counts every stored signal since its earliest signal's window, so it may
fold a little early.
"""

from __future__ import annotations

import bisect
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final

from watchfloor.core.signals import Signal

__all__ = [
    "DEFAULT_FLOOD_THRESHOLD",
    "DEFAULT_FLOOD_WINDOW",
    "FloodLimit",
    "flood_candidates",
    "flooding",
]

#: More signals than this from one device within ``DEFAULT_FLOOD_WINDOW`` is a flood.
DEFAULT_FLOOD_THRESHOLD: Final = 20
DEFAULT_FLOOD_WINDOW: Final = timedelta(seconds=60)


@dataclass(frozen=True, slots=True, kw_only=True)
class FloodLimit:
    """More than ``threshold`` signals of one device within ``window`` is a flood.

    Raises:
        ValueError: ``threshold`` is below 1 or ``window`` is not positive.
    """

    threshold: int
    window: timedelta

    def __post_init__(self) -> None:
        if self.threshold < 1:
            raise ValueError("the flood threshold must be at least 1")
        if self.window <= timedelta(0):
            raise ValueError("the flood window must be positive")


def flood_candidates(
    limit: FloodLimit, stored: Mapping[str, int], batch: Sequence[Signal]
) -> list[str]:
    """Return, sorted, the devices that may flood in this batch (those whose target to read).

    Args:
        limit: the flood limit.
        stored: each device's (``Signal.device``) signals stored within the window before
            the batch; missing means none.
        batch: the signals the batch stores.
    """
    in_batch = Counter(signal.device for signal in batch)
    return sorted(
        device
        for device, count in in_batch.items()
        if stored.get(device, 0) + count > limit.threshold
    )


def flooding(
    limit: FloodLimit, stored: Mapping[str, int], batch: Sequence[Signal]
) -> tuple[bool, ...]:
    """Return, for each signal the batch stores, whether its device is flooding with it.

    Args:
        limit: the flood limit.
        stored: as for ``flood_candidates``.
        batch: the signals the batch stores, in the order they are stored.
    """
    times: dict[str, list[datetime]] = {}
    flags: list[bool] = []
    for signal in batch:
        seen = times.setdefault(signal.device, [])
        bisect.insort(seen, signal.received_at)
        recent = len(seen) - bisect.bisect_left(seen, signal.received_at - limit.window)
        flags.append(stored.get(signal.device, 0) + recent > limit.threshold)
    return tuple(flags)

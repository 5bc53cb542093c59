"""Supervision: the silence of a device that stopped reporting, as signals of its own.

Theory of operation: a device may have a supervision interval (how often it promises to
report: DC-09 link tests or events) and a grace period. When nothing has been heard for
longer than interval + grace, the device's link is lost: a ``link_lost`` supervision signal
raises a "transmitter link lost" alarm. The next message from the device restores it: a
``link_lost`` restore goes on that alarm's timeline. Deadlines derive from the stored
last-seen time, so a restart neither loses nor repeats them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from watchfloor.core.alarm_types import LINK_LOST, CodeSystem, SourceCode
from watchfloor.core.signals import Signal, SignalSource

__all__ = [
    "DEFAULT_GRACE",
    "SupervisedDevice",
    "link_lost_signal",
    "link_restored_signal",
    "supervision_deadline",
]

#: Extra time beyond the interval before a silent device counts as lost (a link test that
#: is a little late, a retransmission or two).
DEFAULT_GRACE = timedelta(seconds=30)

_CODE = SourceCode(system=CodeSystem.SUPERVISION, code=LINK_LOST)


@dataclass(frozen=True, slots=True, kw_only=True)
class SupervisedDevice:
    """What supervision knows of a device: its key, its promise, and when it was last heard.

    ``key`` is the identity its signals carry (a DC-09 account). ``since`` is when
    supervision started (registration, or the interval's last change): a device never heard
    is lost ``interval + grace`` after that.
    """

    key: str
    account: str | None
    interval: timedelta
    grace: timedelta
    since: datetime
    last_seen_at: datetime | None
    link_lost_at: datetime | None


def supervision_deadline(device: SupervisedDevice) -> datetime:
    """Return when the device counts as lost if nothing more is heard."""
    heard = device.last_seen_at if device.last_seen_at is not None else device.since
    return max(heard, device.since) + device.interval + device.grace


def link_lost_signal(device: SupervisedDevice, *, at: datetime) -> Signal:
    """Return the supervision signal raised when the device's deadline has passed at ``at``."""
    heard = device.last_seen_at.isoformat() if device.last_seen_at else "never"
    return Signal(
        source=SignalSource.SUPERVISION,
        received_at=at,
        device=device.key,
        account=device.account,
        code=_CODE,
        zone=None,
        raw=(
            f"no message since {heard}; interval {device.interval.total_seconds():g} s, "
            f"grace {device.grace.total_seconds():g} s"
        ),
    )


def link_restored_signal(device: SupervisedDevice, *, at: datetime) -> Signal:
    """Return the supervision restore recorded when a lost device is heard again."""
    return Signal(
        source=SignalSource.SUPERVISION,
        received_at=at,
        device=device.key,
        account=device.account,
        code=_CODE,
        zone=None,
        restore=True,
        raw=f"heard again at {at.isoformat()} after link loss",
    )

"""Supervision: the silence of a device that stopped reporting, as signals of its own.

Theory of operation: a device may have a supervision interval (how often it promises to
report: DC-09 link tests or events) and a grace period. When nothing has been heard for
longer than interval + grace, the device's link is lost: a ``link_lost`` supervision signal
raises a "transmitter link lost" alarm. The next message from the device restores it: a
``link_lost`` restore goes on that alarm's timeline. Deadlines derive from the stored
last-seen time, so a restart neither loses nor repeats them.

In the intake (``plan_supervision``), a batch's arrivals are walked in arrival order: an item
the device sent itself (``HEARD_SOURCES``) marks it heard, and, if its link was lost, is
preceded by the restore, once. A ``link_lost`` signal marks its supervised device lost, unless
the device has been heard since its deadline was computed (the supervision watch read the
store before a message of the device was committed): then the loss is restored at once. A
second ``link_lost`` of a device lost already changes nothing but repeats the alarm.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Final

from watchfloor.core.alarm_types import LINK_LOST, CodeSystem, SourceCode
from watchfloor.core.devices import Device
from watchfloor.core.signals import LinkTest, Signal, SignalSource

__all__ = [
    "DEFAULT_GRACE",
    "HEARD_SOURCES",
    "SupervisedDevice",
    "SupervisionPlan",
    "link_lost_signal",
    "link_restored_signal",
    "plan_supervision",
    "supervision_deadline",
]

#: Extra time beyond the interval before a silent device counts as lost (a link test that
#: is a little late, a retransmission or two).
DEFAULT_GRACE = timedelta(seconds=30)

_CODE = SourceCode(system=CodeSystem.SUPERVISION, code=LINK_LOST)

#: Sources whose items the device itself sent: hearing one proves its link (last seen,
#: restore of a lost link). Staff reports and calls only name a device, and supervision
#: signals are watchfloor's own conclusions about it.
HEARD_SOURCES: Final = frozenset(
    {SignalSource.DC09, SignalSource.HIKVISION, SignalSource.ONVIF, SignalSource.FRIGATE}
)


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


@dataclass(frozen=True, slots=True, kw_only=True)
class SupervisionPlan:
    """What a batch's arrivals mean for their devices, from ``plan_supervision``.

    ``signals`` are the signals to store in order: the arrivals' signals, each restore next
    to the item that caused it (before an item heard from a lost device, after a loss that
    finds its device heard since); ``devices`` holds each one's device.
    ``stored_at`` maps the index of each arrival that is a signal to its index among
    ``signals``.
    ``seen`` is each heard device's latest time heard, ``skews`` its latest clock skew, and
    ``link_lost`` each supervised device whose lost link changed: when it was lost, or None
    if it was restored.
    """

    signals: tuple[Signal, ...]
    devices: tuple[Device | None, ...]
    stored_at: Mapping[int, int]
    seen: Mapping[int, datetime]
    skews: Mapping[int, float]
    link_lost: Mapping[int, datetime | None]


def plan_supervision(
    arrivals: Sequence[Signal | LinkTest],
    devices: Sequence[Device | None],
    supervised: Mapping[int, SupervisedDevice],
) -> SupervisionPlan:
    """Walk a batch's arrivals in order: who was heard, who is lost, what is restored.

    Args:
        arrivals: the batch's link tests and signals to store, in arrival order.
        devices: the registered device of each arrival (None: unregistered).
        supervised: what supervision knows, before the batch, of each supervised device
            among them, by device id.

    Returns:
        The signals to store and the changes to the devices.
    """
    signals: list[Signal] = []
    signal_devices: list[Device | None] = []
    stored_at: dict[int, int] = {}
    lost = {device_id: device.link_lost_at for device_id, device in supervised.items()}
    seen: dict[int, datetime] = {}
    skews: dict[int, float] = {}

    def store(signal: Signal, device: Device | None) -> None:
        signals.append(signal)
        signal_devices.append(device)

    def restore(device: Device, at: datetime) -> None:
        store(link_restored_signal(supervised[device.id], at=at), device)
        lost[device.id] = None

    for index, (item, device) in enumerate(zip(arrivals, devices, strict=True)):
        if device is not None and item.source in HEARD_SOURCES:
            if lost.get(device.id) is not None:
                restore(device, item.received_at)
            earlier = seen.get(device.id)
            seen[device.id] = (
                item.received_at if earlier is None else max(earlier, item.received_at)
            )
            if isinstance(item, LinkTest) and item.skew_seconds is not None:
                skews[device.id] = item.skew_seconds
        if isinstance(item, LinkTest):
            continue
        stored_at[index] = len(signals)
        store(item, device)
        if device is None or device.id not in supervised or not _is_link_lost(item):
            continue
        if lost[device.id] is not None:
            continue  # lost already (a second watch): the signal repeats the alarm
        heard = _last_heard(supervised[device.id], seen.get(device.id))
        if (
            supervision_deadline(replace(supervised[device.id], last_seen_at=heard))
            < item.received_at
        ):
            lost[device.id] = item.received_at
        else:
            restore(device, max(item.received_at, heard or item.received_at))
    return SupervisionPlan(
        signals=tuple(signals),
        devices=tuple(signal_devices),
        stored_at=stored_at,
        seen=seen,
        skews=skews,
        link_lost={
            device_id: at
            for device_id, at in lost.items()
            if at != supervised[device_id].link_lost_at
        },
    )


def _is_link_lost(signal: Signal) -> bool:
    return signal.source is SignalSource.SUPERVISION and signal.code == _CODE and not signal.restore


def _last_heard(device: SupervisedDevice, seen_in_batch: datetime | None) -> datetime | None:
    candidates = [at for at in (device.last_seen_at, seen_in_batch) if at is not None]
    return max(candidates, default=None)

"""Free space on the data disk: the levels, the reserve, and the signals that report them.

Theory of operation: when the disk that holds the database fills up, the store can commit
nothing, and since every read and action through the API appends an audit row, the operators
would see nothing either. So the platform watches the free space and acts before that:

- Below ``low_bytes`` (level LOW) a "receiver disk space low" alarm is raised (supervision
  condition ``disk_low``), while everything still works.
- Below ``reserve_bytes`` (level RESERVE) intake stops: panels and cameras get no ACK (or a
  503) and retry, as when the store is down, and the remaining space is kept for the
  operators' reads and actions and their audit rows.
- The reserve is also held as a file of ``reserve_bytes`` in the data directory, so that
  space other programs take cannot eat it: when the disk is nearly full (less than a quarter
  of the reserve free) the file is deleted, giving its space to the operators. Intake stays
  stopped until the file can be made again with the reserve still free besides
  (``2 * reserve_bytes`` free).

Intake is open only while the reserve file is held and ``reserve_bytes`` are free. The alarm
restores once the free space is back above ``low_bytes`` by a tenth, so that a disk hovering
at the threshold does not raise and restore on every check.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from types import MappingProxyType
from typing import Final

from watchfloor.core.alarm_types import CodeSystem, SourceCode
from watchfloor.core.signals import Signal, SignalSource

__all__ = [
    "DISK_LOW",
    "DiskLevel",
    "DiskSpace",
    "DiskSpacePolicy",
    "assess_disk_space",
    "disk_space_signal",
]

#: The supervision condition of the data disk running out of space (``[supervision]`` maps it).
DISK_LOW: Final = "disk_low"

_CODE: Final = SourceCode(system=CodeSystem.SUPERVISION, code=DISK_LOW)
_MIB: Final = 1024 * 1024


class DiskLevel(StrEnum):
    """How full the data disk is, as far as the platform is concerned."""

    OK = "ok"
    LOW = "low"
    #: Intake stopped: the reserve is all that is left, or the reserve file is not held.
    RESERVE = "reserve"


@dataclass(frozen=True, slots=True, kw_only=True)
class DiskSpacePolicy:
    """The thresholds, in bytes: alarm below ``low_bytes``, intake stops below ``reserve_bytes``.

    Raises:
        ValueError: a threshold is not positive, or the reserve is not below the alarm.
    """

    low_bytes: int
    reserve_bytes: int

    def __post_init__(self) -> None:
        if not 0 < self.reserve_bytes < self.low_bytes:
            raise ValueError("need 0 < reserve_bytes < low_bytes")

    def releases_reserve(self, free_bytes: int) -> bool:
        """Whether the disk is so nearly full that the reserve file should give its space."""
        return free_bytes < self.reserve_bytes // 4

    def can_hold_reserve(self, free_bytes: int) -> bool:
        """Whether the reserve file can be made with the reserve still free besides it."""
        return free_bytes >= 2 * self.reserve_bytes


@dataclass(frozen=True, slots=True, kw_only=True)
class DiskSpace:
    """One measurement of the data disk and what it means."""

    free_bytes: int
    level: DiskLevel
    reserve_held: bool
    policy: DiskSpacePolicy

    @property
    def intake_open(self) -> bool:
        """Whether intake takes signals now."""
        return self.level is not DiskLevel.RESERVE

    @property
    def detail(self) -> str:
        """A sentence for the health check, the log and the alarm's signal."""
        free = f"{self.free_bytes / _MIB:.1f} MiB free on the data disk"
        low = self.policy.low_bytes / _MIB
        reserve = self.policy.reserve_bytes / _MIB
        return _DETAILS[self.level].format(free=free, low=low, reserve=reserve)


_DETAILS: Final[Mapping[DiskLevel, str]] = MappingProxyType(
    {
        DiskLevel.OK: "{free}",
        DiskLevel.LOW: "{free}, below the {low:.0f} MiB alarm threshold: free space soon",
        DiskLevel.RESERVE: (
            "{free}: intake stopped to keep the {reserve:.0f} MiB reserve for reading and "
            "acting on alarms; senders retry until space is freed"
        ),
    }
)

#: Restore the alarm only once this share of ``low_bytes`` is free again.
_RESTORE_MARGIN: Final = 1.1


def assess_disk_space(
    free_bytes: int, *, reserve_held: bool, previous: DiskLevel, policy: DiskSpacePolicy
) -> DiskSpace:
    """Return what a measurement of free space means, given the level reported before."""
    if free_bytes < policy.reserve_bytes or not reserve_held:
        level = DiskLevel.RESERVE
    elif free_bytes < policy.low_bytes or (
        previous is not DiskLevel.OK and free_bytes < policy.low_bytes * _RESTORE_MARGIN
    ):
        level = DiskLevel.LOW
    else:
        level = DiskLevel.OK
    return DiskSpace(free_bytes=free_bytes, level=level, reserve_held=reserve_held, policy=policy)


#: What a change of level reports: (leading words of the signal's text, is it a restore).
#: An unchanged level reports nothing.
_REPORTS: Final[Mapping[tuple[DiskLevel, DiskLevel], tuple[str, bool]]] = MappingProxyType(
    {
        (DiskLevel.OK, DiskLevel.LOW): ("disk space low", False),
        (DiskLevel.OK, DiskLevel.RESERVE): ("disk space low, intake stopped", False),
        (DiskLevel.LOW, DiskLevel.RESERVE): ("intake stopped", False),
        (DiskLevel.RESERVE, DiskLevel.LOW): ("intake resumed, disk space still low", False),
        (DiskLevel.LOW, DiskLevel.OK): ("disk space restored", True),
        (DiskLevel.RESERVE, DiskLevel.OK): ("disk space restored, intake resumed", True),
    }
)


def disk_space_signal(
    previous: DiskLevel, space: DiskSpace, *, device: str, at: datetime
) -> Signal | None:
    """Return the supervision signal a change of level reports, or None if it reports none."""
    report = _REPORTS.get((previous, space.level))
    if report is None:
        return None
    words, restore = report
    return Signal(
        source=SignalSource.SUPERVISION,
        received_at=at,
        device=device,
        code=_CODE,
        zone=None,
        restore=restore,
        raw=f"{words}: {space.detail}",
    )

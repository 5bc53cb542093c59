"""The data disk's levels, its reserve and the signals that report a change, as pure rules."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from watchfloor.core.alarm_types import CodeSystem, SourceCode
from watchfloor.core.disk_space import (
    DISK_LOW,
    DiskLevel,
    DiskSpacePolicy,
    assess_disk_space,
    disk_space_signal,
)
from watchfloor.core.signals import SignalSource

MIB = 1024 * 1024
POLICY = DiskSpacePolicy(low_bytes=100 * MIB, reserve_bytes=8 * MIB)
AT = datetime(2026, 1, 5, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(("low", "reserve"), [(100, 0), (100, 100), (100, 200), (0, -1)])
def test_a_policy_needs_a_positive_reserve_below_the_alarm(low: int, reserve: int) -> None:
    with pytest.raises(ValueError, match="reserve_bytes"):
        DiskSpacePolicy(low_bytes=low, reserve_bytes=reserve)


@pytest.mark.parametrize(
    ("free_mib", "held", "previous", "level"),
    [
        (500, True, DiskLevel.OK, DiskLevel.OK),
        (99, True, DiskLevel.OK, DiskLevel.LOW),
        (8, True, DiskLevel.LOW, DiskLevel.LOW),
        (7, True, DiskLevel.LOW, DiskLevel.RESERVE),
        (500, False, DiskLevel.OK, DiskLevel.RESERVE),  # no reserve file: intake waits
        (105, True, DiskLevel.OK, DiskLevel.OK),
        (105, True, DiskLevel.LOW, DiskLevel.LOW),  # back above, not by a tenth yet
        (105, True, DiskLevel.RESERVE, DiskLevel.LOW),
        (111, True, DiskLevel.LOW, DiskLevel.OK),
    ],
)
def test_the_level_follows_free_space_with_a_margin_to_restore(
    free_mib: int, held: bool, previous: DiskLevel, level: DiskLevel
) -> None:
    space = assess_disk_space(free_mib * MIB, reserve_held=held, previous=previous, policy=POLICY)
    assert space.level is level
    assert space.intake_open is (level is not DiskLevel.RESERVE)


def test_the_reserve_is_released_when_nearly_full_and_made_again_with_room_besides() -> None:
    assert POLICY.releases_reserve(2 * MIB - 1)
    assert not POLICY.releases_reserve(2 * MIB)
    assert not POLICY.can_hold_reserve(16 * MIB - 1)
    assert POLICY.can_hold_reserve(16 * MIB)


@pytest.mark.parametrize(
    ("previous", "free_mib", "held", "words", "restore"),
    [
        (DiskLevel.OK, 50, True, "disk space low: 50.0 MiB free", False),
        (DiskLevel.OK, 4, True, "disk space low, intake stopped: 4.0 MiB free", False),
        (DiskLevel.LOW, 4, True, "intake stopped: 4.0 MiB free", False),
        (DiskLevel.RESERVE, 50, True, "intake resumed, disk space still low: 50.0", False),
        (DiskLevel.LOW, 500, True, "disk space restored: 500.0 MiB free", True),
        (DiskLevel.RESERVE, 500, True, "disk space restored, intake resumed: 500.0", True),
    ],
)
def test_each_change_of_level_is_reported_once(
    previous: DiskLevel, free_mib: int, held: bool, words: str, restore: bool
) -> None:
    space = assess_disk_space(free_mib * MIB, reserve_held=held, previous=previous, policy=POLICY)
    signal = disk_space_signal(previous, space, device="watchfloor", at=AT)

    assert signal is not None
    assert signal.raw.startswith(words)
    assert signal.restore is restore
    assert signal.code == SourceCode(system=CodeSystem.SUPERVISION, code=DISK_LOW)
    assert (signal.source, signal.device, signal.received_at) == (
        SignalSource.SUPERVISION,
        "watchfloor",
        AT,
    )
    again = disk_space_signal(space.level, space, device="watchfloor", at=AT)
    assert again is None


def test_the_detail_says_what_happens() -> None:
    def detail(free_mib: int) -> str:
        space = assess_disk_space(
            free_mib * MIB, reserve_held=True, previous=DiskLevel.OK, policy=POLICY
        )
        return space.detail

    assert detail(500) == "500.0 MiB free on the data disk"
    assert detail(50) == (
        "50.0 MiB free on the data disk, below the 100 MiB alarm threshold: free space soon"
    )
    assert detail(4) == (
        "4.0 MiB free on the data disk: intake stopped to keep the 8 MiB reserve for reading "
        "and acting on alarms; senders retry until space is freed"
    )

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from support.factories import T0
from watchfloor.core.alarm_types import LINK_LOST, CodeSystem
from watchfloor.core.signals import Origin, SignalSource
from watchfloor.core.supervision import (
    DEFAULT_GRACE,
    SupervisedDevice,
    link_lost_signal,
    link_restored_signal,
    supervision_deadline,
)

PANEL = SupervisedDevice(
    key="1234",
    account="1234",
    interval=timedelta(minutes=5),
    grace=DEFAULT_GRACE,
    since=T0,
    last_seen_at=None,
    link_lost_at=None,
)


def test_a_device_never_heard_is_due_from_when_supervision_started() -> None:
    assert supervision_deadline(PANEL) == T0 + timedelta(minutes=5, seconds=30)


def test_the_deadline_follows_the_last_message() -> None:
    heard = replace(PANEL, last_seen_at=T0 + timedelta(minutes=7))
    assert supervision_deadline(heard) == T0 + timedelta(minutes=12, seconds=30)


def test_a_message_before_supervision_started_does_not_count() -> None:
    old = replace(PANEL, last_seen_at=T0 - timedelta(days=1))
    assert supervision_deadline(old) == supervision_deadline(PANEL)


def test_link_lost_and_restored_signals_carry_the_device_and_condition() -> None:
    lost = link_lost_signal(PANEL, at=T0)
    assert (lost.source, lost.origin, lost.device, lost.account) == (
        SignalSource.SUPERVISION,
        Origin.EQUIPMENT,
        "1234",
        "1234",
    )
    assert (lost.code.system, lost.code.code, lost.restore) == (
        CodeSystem.SUPERVISION,
        LINK_LOST,
        False,
    )
    assert "never" in lost.raw
    restored = link_restored_signal(PANEL, at=T0)
    assert restored.restore
    heard = replace(PANEL, last_seen_at=T0)
    assert T0.isoformat() in link_lost_signal(heard, at=T0).raw

"""Flood control, without a database: which signals flood, and what folding then opens."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from support.factories import FIRE, T0, build_taxonomy, dc09_signal, panel_device
from watchfloor.core.alarms import Alarm
from watchfloor.core.correlation import (
    LIFE_SAFETY_PRIORITY,
    CorrelationKey,
    classify_for_correlation,
    correlate_batch,
)
from watchfloor.core.devices import Device
from watchfloor.core.flood import FloodLimit, flood_candidates, flooding
from watchfloor.core.signals import Signal

LIMIT = FloodLimit(threshold=3, window=timedelta(seconds=60))
TAXONOMY = build_taxonomy()
PANELS = ("1001", "1002")


def test_a_flood_limit_needs_a_threshold_of_one_and_a_positive_window() -> None:
    with pytest.raises(ValueError, match="threshold"):
        FloodLimit(threshold=0, window=timedelta(seconds=1))
    with pytest.raises(ValueError, match="window"):
        FloodLimit(threshold=1, window=timedelta(0))


def test_a_device_floods_with_the_signal_above_the_threshold() -> None:
    burst = [dc09_signal(at=T0, zone=f"{n:03d}") for n in range(5)]
    assert flooding(LIMIT, {}, burst) == (False, False, False, True, True)
    assert flooding(LIMIT, {"1234": 2}, burst) == (False, True, True, True, True)


def test_signals_spread_wider_than_the_window_do_not_flood() -> None:
    spread = [dc09_signal(at=T0 + timedelta(seconds=31 * n)) for n in range(10)]
    assert not any(flooding(LIMIT, {}, spread))


signals = st.lists(
    st.builds(
        lambda account, seconds, fire: dc09_signal(
            at=T0 + timedelta(seconds=seconds),
            account=account,
            code="110" if fire else "130",
            zone=f"{seconds:03d}",
        ),
        st.sampled_from(PANELS),
        st.integers(0, 180),
        st.booleans(),
    ),
    max_size=20,
)
stored_counts = st.dictionaries(st.sampled_from(PANELS), st.integers(0, 5))


@given(batch=signals, stored=stored_counts)
def test_a_signal_floods_when_its_device_passed_the_threshold_within_the_window(
    batch: list[Signal], stored: dict[str, int]
) -> None:
    flags = flooding(LIMIT, stored, batch)
    for index, signal in enumerate(batch):
        # Counted: the stored ones, and the batch's so far within the window before it.
        recent = sum(
            1
            for earlier in batch[: index + 1]
            if earlier.device == signal.device
            and earlier.received_at >= signal.received_at - LIMIT.window
        )
        assert flags[index] == (stored.get(signal.device, 0) + recent > LIMIT.threshold)


@given(batch=signals, stored=stored_counts)
def test_every_device_that_floods_is_a_candidate(
    batch: list[Signal], stored: dict[str, int]
) -> None:
    candidates = flood_candidates(LIMIT, stored, batch)
    assert candidates == sorted(set(candidates))
    assert set(candidates) <= {signal.device for signal in batch}
    flooded = {
        s.device for s, flag in zip(batch, flooding(LIMIT, stored, batch), strict=True) if flag
    }
    assert flooded <= set(candidates)


def _device(account: str) -> Device:
    return panel_device(device_id=PANELS.index(account) + 1, account=account)


def _target(account: str) -> tuple[CorrelationKey, Alarm]:
    """A burglary open before the batch: the device's newest open alarm."""
    signal = dc09_signal(at=T0 - timedelta(seconds=1), account=account, zone="999")
    opened = correlate_batch([classify_for_correlation(TAXONOMY, signal, _device(account))], {})
    (change,) = opened.changes
    return change.key, replace(change.alarm, id=100 + PANELS.index(account))


@given(
    batch=signals.map(lambda b: [s for s in b if s.received_at < T0 + LIMIT.window]),
    stored=stored_counts,
    with_targets=st.booleans(),
)
def test_folding_never_opens_more_alarms_than_the_limit_allows(
    batch: list[Signal], stored: dict[str, int], with_targets: bool
) -> None:
    """Within one window, a device opens at most what its count allows; fire always opens.

    Beyond the allowance, a non-life-safety signal opens an alarm only when there is
    nothing it may fold into: no open alarm before the batch, or the newest one is a fire.
    """
    targets = {account: _target(account) for account in PANELS} if with_targets else {}
    outcome = correlate_batch(
        [classify_for_correlation(TAXONOMY, s, _device(s.device)) for s in batch],
        {},
        flooding=flooding(LIMIT, stored, batch),
        flood_targets=targets,
    )
    for account in PANELS:
        opened = [
            c.alarm for c in outcome.changes if c.read_version is None and c.key.device == account
        ]
        fires = [a for a in opened if a.type_code == FIRE]
        allowance = max(LIMIT.threshold - stored.get(account, 0), 0)
        if account not in targets:
            allowance = max(allowance, 1)
        assert len(opened) - len(fires) <= allowance + len(fires)
        # Life safety is never folded: every fire zone of the batch has its own alarm.
        fire_zones = {s.zone for s in batch if s.device == account and s.code.code == "110"}
        assert {a.zone for a in fires} == fire_zones
        assert all(a.priority == LIFE_SAFETY_PRIORITY for a in fires)
    for change in outcome.changes:
        if change.alarm.flooded:
            assert change.alarm.priority > LIFE_SAFETY_PRIORITY

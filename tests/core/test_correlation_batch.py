"""Correlating a batch, without a database: signals in order, one change per alarm touched."""

from __future__ import annotations

from collections import Counter
from dataclasses import replace
from datetime import timedelta

from hypothesis import given
from hypothesis import strategies as st

from support.factories import BURGLARY, FIRE, T0, build_taxonomy, dc09_signal, panel_device
from watchfloor.core.alarms import Alarm
from watchfloor.core.correlation import (
    LIFE_SAFETY_PRIORITY,
    ClassifiedSignal,
    CorrelationKey,
    classify_for_correlation,
    correlate,
    correlate_batch,
)

TAXONOMY = build_taxonomy()
PANEL = panel_device()


def classified(
    code: str = "130", *, zone: str = "001", seconds: int = 0, restore: bool = False
) -> ClassifiedSignal:
    signal = dc09_signal(at=T0 + timedelta(seconds=seconds), code=code, zone=zone, restore=restore)
    return classify_for_correlation(TAXONOMY, signal, PANEL)


def open_alarm(entry: ClassifiedSignal, alarm_id: int) -> Alarm:
    opened = correlate(entry.signal, entry.classification, None, device=PANEL).alarm
    assert opened is not None
    return replace(opened, id=alarm_id, version=5)


def test_a_signal_ready_to_correlate_carries_its_type_and_key() -> None:
    entry = classified(zone="007")
    assert entry.classification.alarm_type.code == BURGLARY
    assert entry.key == CorrelationKey(device="1234", type_code=BURGLARY, zone="007")
    assert entry.device == PANEL


def test_a_later_signal_joins_the_alarm_an_earlier_one_opened() -> None:
    first, second = classified(), classified(seconds=5)
    outcome = correlate_batch([first, second], {})
    (change,) = outcome.changes
    assert (change.key, change.read_version) == (first.key, None)
    assert (change.alarm.id, change.alarm.signal_count, change.alarm.version) == (0, 2, 2)
    assert outcome.joined == (0, 0)
    assert [entry is not None for entry in outcome.timeline] == [True, True]


def test_a_signal_that_raises_nothing_joins_nothing() -> None:
    outcome = correlate_batch([classified("401"), classified(restore=True)], {})
    assert outcome == type(outcome)(changes=(), joined=(None, None), timeline=(None, None))


def test_an_open_alarm_is_changed_once_from_the_version_read() -> None:
    first = classified()
    stored = open_alarm(first, 7)
    outcome = correlate_batch(
        [first, classified(restore=True, seconds=3), classified(seconds=4)], {first.key: stored}
    )
    (change,) = outcome.changes
    assert (change.alarm.id, change.read_version, change.alarm.version) == (7, 5, 8)
    assert change.alarm.signal_count == stored.signal_count + 2


def test_a_flood_target_also_open_under_a_key_of_the_batch_is_one_change() -> None:
    first = classified(zone="001")
    stored = open_alarm(first, 7)
    folded = classified(zone="002", seconds=1)
    outcome = correlate_batch(
        [first, folded],
        {first.key: stored},
        flooding=[False, True],
        flood_targets={"1234": (first.key, stored)},
    )
    (change,) = outcome.changes
    assert (change.alarm.id, change.alarm.signal_count, change.alarm.flooded) == (
        7,
        stored.signal_count + 2,
        True,
    )
    assert outcome.joined == (0, 0)


def test_a_flooding_signal_folds_into_an_alarm_the_batch_opened() -> None:
    outcome = correlate_batch(
        [classified(zone="001"), classified(zone="002", seconds=1)],
        {},
        flooding=[False, True],
    )
    (change,) = outcome.changes
    assert change.key.zone == "001"
    assert (change.alarm.signal_count, change.alarm.flooded) == (2, True)


# -- properties ----------------------------------------------------------------------------

entries = st.lists(
    st.builds(
        classified,
        code=st.sampled_from(["110", "130", "401"]),
        zone=st.sampled_from(["001", "002", "003"]),
        seconds=st.integers(0, 60),
        restore=st.booleans(),
    ),
    max_size=15,
)
open_zones = st.sets(st.sampled_from(["001", "002", "003"]), max_size=3)


def _open_alarms(zones: set[str]) -> dict[CorrelationKey, Alarm]:
    found: dict[CorrelationKey, Alarm] = {}
    for n, zone in enumerate(sorted(zones), start=1):
        entry = classified(zone=zone)
        found[entry.key] = open_alarm(entry, n)
    return found


@given(batch=entries, zones=open_zones)
def test_a_batch_ends_as_if_its_signals_were_correlated_one_by_one(
    batch: list[ClassifiedSignal], zones: set[str]
) -> None:
    open_alarms = _open_alarms(zones)
    outcome = correlate_batch(batch, open_alarms)
    state = dict(open_alarms)
    touched: dict[CorrelationKey, None] = {}
    for entry, joined in zip(batch, outcome.joined, strict=True):
        result = correlate(entry.signal, entry.classification, state.get(entry.key), device=PANEL)
        assert (joined is None) == (result.alarm is None)
        if result.alarm is not None and joined is not None:
            state[entry.key] = result.alarm
            touched[entry.key] = None
            assert outcome.changes[joined].key == entry.key
    assert [c.key for c in outcome.changes] == list(touched)
    for change in outcome.changes:
        assert change.alarm == state[change.key]
        read = open_alarms.get(change.key)
        assert change.read_version == (None if read is None else read.version)


@given(
    batch=entries,
    zones=open_zones,
    flags=st.lists(st.booleans(), min_size=15, max_size=15),
    target_zone=st.none() | st.sampled_from(["001", "009"]),
)
def test_only_a_flooding_signal_folds_and_never_life_safety(
    batch: list[ClassifiedSignal],
    zones: set[str],
    flags: list[bool],
    target_zone: str | None,
) -> None:
    open_alarms = _open_alarms(zones)
    targets = {}
    if target_zone is not None:
        target = classified(zone=target_zone)
        targets["1234"] = (target.key, open_alarms.get(target.key) or open_alarm(target, 99))
    flooding = flags[: len(batch)]
    outcome = correlate_batch(batch, open_alarms, flooding=flooding, flood_targets=targets)
    joins = Counter(j for j in outcome.joined if j is not None)
    for index, (entry, joined) in enumerate(zip(batch, outcome.joined, strict=True)):
        if joined is None:
            continue
        change = outcome.changes[joined]
        if change.key != entry.key:
            # Folded: only a flooding signal, never life safety, never into life safety.
            assert flooding[index]
            assert entry.classification.alarm_type.priority > LIFE_SAFETY_PRIORITY
            assert change.alarm.priority > LIFE_SAFETY_PRIORITY
            assert change.alarm.flooded
    ids = [c.alarm.id for c in outcome.changes if c.read_version is not None]
    assert len(ids) == len(set(ids))
    opened_keys = [c.key for c in outcome.changes if c.read_version is None]
    assert len(opened_keys) == len(set(opened_keys))
    assert not set(opened_keys) & set(open_alarms)
    for n, change in enumerate(outcome.changes):
        # Every signal that joined bumped the version once (an opened alarm starts at 1).
        assert change.alarm.version == (change.read_version or 0) + joins[n]
        assert change.alarm.type_code in {FIRE, BURGLARY}

"""Retransmission, without a database: frames repeated within the window are stored once."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from support.factories import T0, camera_signal, dc09_signal, link_test
from watchfloor.core.alarm_types import CodeSystem, SourceCode
from watchfloor.core.retransmission import (
    RETRANSMISSION_WINDOW,
    Slot,
    dedupe_key,
    deduplicate,
    repeat_lookup,
)
from watchfloor.core.signals import LinkTest, Signal, SignalRecord, SignalSource


def frame(
    *, at: datetime, account: str = "1234", seq: str = "0001", events: int = 1
) -> list[Signal]:
    """One SIA block with ``events`` events: they share the frame's raw text, so its key."""
    raw = f'"SIA-DCS"{seq}L0#{account}[#{account}|Nri1/' + "/".join(
        f"BA{n:03d}" for n in range(1, events + 1)
    )
    return [
        replace(dc09_signal(at=at, account=account, seq=seq, zone=f"{n:03d}"), raw=raw)
        for n in range(1, events + 1)
    ]


def report(*, at: datetime, key: str, zone: str = "1") -> Signal:
    """A guard's report, resent under its sender's idempotency key."""
    return Signal(
        source=SignalSource.PATROL,
        received_at=at,
        device="guard-1",
        code=SourceCode(system=CodeSystem.TAXONOMY, code="130"),
        zone=zone,
        raw="{}",
        site="HQ",
        idempotency_key=key,
    )


def stored_records(frames: Sequence[Sequence[Signal]]) -> dict[str, list[SignalRecord]]:
    """The records of frames stored before the batch, in that order, under their keys."""
    found: dict[str, list[SignalRecord]] = {}
    next_id = 1
    for signals in frames:
        for signal in signals:
            key = dedupe_key(signal)
            assert key is not None
            record = SignalRecord(id=next_id, alarm_id=None, type_code=130, signal=signal)
            found.setdefault(key, []).insert(0, record)  # newest first, as the store reads
            next_id += 1
    return found


# -- dedupe_key ----------------------------------------------------------------------------


def test_a_dc09_key_is_the_account_sequence_and_content() -> None:
    first = frame(at=T0)[0]
    assert dedupe_key(first) == dedupe_key(replace(first, received_at=T0 + timedelta(hours=1)))
    for changed in (
        replace(first, account="5678"),
        replace(first, seq="0002"),
        replace(first, raw=first.raw + "x"),
    ):
        assert dedupe_key(changed) != dedupe_key(first)


def test_a_report_key_is_its_idempotency_key_whatever_its_content() -> None:
    first = report(at=T0, key="k1")
    assert dedupe_key(first) == dedupe_key(replace(first, raw="other", zone="2"))
    assert dedupe_key(first) != dedupe_key(report(at=T0, key="k2"))
    assert dedupe_key(first) != dedupe_key(replace(first, device="guard-2"))


def test_a_camera_signal_cannot_repeat() -> None:
    assert dedupe_key(camera_signal(at=T0)) is None


# -- repeat_lookup -------------------------------------------------------------------------


@given(
    offsets=st.lists(st.integers(-3600, 3600), max_size=8),
    reports=st.lists(st.sampled_from(["k1", "k2"]), max_size=3),
)
def test_the_lookup_covers_every_signals_window(offsets: list[int], reports: list[str]) -> None:
    signals = [
        *(frame(at=T0 + timedelta(seconds=s), seq=f"{i:04d}")[0] for i, s in enumerate(offsets)),
        *(report(at=T0, key=key) for key in reports),
        camera_signal(at=T0),
    ]
    lookup = repeat_lookup(signals)
    dc09 = [s for s in signals if s.source is SignalSource.DC09]
    assert lookup.windowed == {dedupe_key(s) for s in dc09}
    assert lookup.lasting == {dedupe_key(s) for s in signals if s.idempotency_key}
    if not dc09:
        assert lookup.window is None
        return
    assert lookup.window is not None
    earliest, latest = lookup.window
    for signal in dc09:
        assert earliest <= signal.received_at - RETRANSMISSION_WINDOW
        assert signal.received_at <= latest


# -- deduplicate: examples -----------------------------------------------------------------


def test_every_event_of_a_new_frame_is_stored_even_two_alike() -> None:
    events = frame(at=T0, events=2)
    twins = frame(at=T0, seq="0002")
    outcome = deduplicate([events, [twins[0], twins[0]]], {})
    assert outcome.arrivals == (*events, twins[0], twins[0])
    assert outcome.slots == ((0, 1), (2, 3))


def test_a_frame_repeated_within_the_window_resolves_each_event_to_its_twin() -> None:
    events = frame(at=T0, events=3)
    again = frame(at=T0 + RETRANSMISSION_WINDOW, events=3)
    outcome = deduplicate([events, again], {})
    assert outcome.arrivals == tuple(events)
    assert outcome.slots == ((0, 1, 2), (0, 1, 2))


def test_a_frame_repeated_after_the_window_is_stored_again() -> None:
    events = frame(at=T0)
    late = frame(at=T0 + RETRANSMISSION_WINDOW + timedelta(seconds=1))
    outcome = deduplicate([events, late], {})
    assert outcome.arrivals == (*events, *late)


def test_a_repeat_of_a_stored_frame_resolves_to_its_records_in_id_order() -> None:
    first = frame(at=T0, events=2)
    stored = stored_records([first])
    outcome = deduplicate([frame(at=T0 + timedelta(seconds=30), events=2)], stored)
    assert outcome.arrivals == ()
    (slots,) = outcome.slots
    assert [slot.id for slot in slots if isinstance(slot, SignalRecord)] == [1, 2]


def test_a_stored_frame_with_fewer_events_answers_the_extra_ones_with_its_last() -> None:
    stored = stored_records([frame(at=T0, events=3)[:1]])
    outcome = deduplicate([frame(at=T0 + timedelta(seconds=30), events=3)], stored)
    (slots,) = outcome.slots
    assert [slot.id for slot in slots if isinstance(slot, SignalRecord)] == [1, 1, 1]


def test_the_newest_stored_frame_wins_and_one_of_the_batch_before_it() -> None:
    older, newer = frame(at=T0), frame(at=T0 + timedelta(seconds=60))
    stored = stored_records([older, newer])
    (slots,) = deduplicate([frame(at=T0 + timedelta(seconds=90))], stored).slots
    assert [s.id for s in slots if isinstance(s, SignalRecord)] == [2]
    # After the window of the stored frames, a frame of the batch is new, and a later
    # repeat resolves to it rather than to the stored ones.
    late = T0 + RETRANSMISSION_WINDOW + timedelta(seconds=61)
    outcome = deduplicate([frame(at=late), frame(at=late)], stored)
    assert outcome.slots == ((0,), (0,))


def test_a_stored_frame_from_the_future_is_not_repeated() -> None:
    stored = stored_records([frame(at=T0 + timedelta(seconds=10))])
    assert len(deduplicate([frame(at=T0)], stored).arrivals) == 1


def test_a_report_repeats_at_any_time_under_its_idempotency_key() -> None:
    first = report(at=T0, key="k1")
    stored = stored_records([[first]])
    days_later = report(at=T0 + timedelta(days=3), key="k1")
    outcome = deduplicate([[days_later], [report(at=T0 - timedelta(days=1), key="k1")]], stored)
    assert outcome.arrivals == ()
    assert [slot for (slot,) in outcome.slots] == [stored[dedupe_key(first) or ""][0]] * 2


def test_link_tests_and_signals_without_key_are_always_arrivals() -> None:
    probe, picture = link_test(at=T0), camera_signal(at=T0)
    outcome = deduplicate([[probe], [picture], [picture], [probe]], {})
    assert outcome.arrivals == (probe, picture, picture, probe)
    assert outcome.slots == ((None,), (1,), (2,), (None,))


# -- deduplicate: properties ---------------------------------------------------------------

ACCOUNTS = ("1234", "5678")
SEQUENCES = ("0001", "0002")


@dataclass(frozen=True, slots=True, kw_only=True)
class _Frame:
    """A transmission in the model: a template (account, sequence, events) at a time."""

    account: str
    seq: str
    at: datetime

    @property
    def events(self) -> int:
        # Equal raw text means equal events: the template fixes how many.
        return 1 + ACCOUNTS.index(self.account) + SEQUENCES.index(self.seq)

    def signals(self) -> list[Signal]:
        return frame(at=self.at, account=self.account, seq=self.seq, events=self.events)


frames = st.builds(
    _Frame,
    account=st.sampled_from(ACCOUNTS),
    seq=st.sampled_from(SEQUENCES),
    at=st.integers(0, 900).map(lambda s: T0 + timedelta(seconds=s)),
)


def _within(earlier: datetime, at: datetime) -> bool:
    return at - RETRANSMISSION_WINDOW <= earlier <= at


def _resolved(slot: Slot, arrivals: Sequence[Signal | LinkTest]) -> Signal:
    assert slot is not None
    if isinstance(slot, SignalRecord):
        return slot.signal
    item = arrivals[slot]
    assert isinstance(item, Signal)
    return item


@given(batch=st.lists(frames, max_size=12), before=st.lists(frames, max_size=4))
def test_arrivals_are_exactly_the_events_of_frames_not_repeated_within_the_window(
    batch: list[_Frame], before: list[_Frame]
) -> None:
    stored = stored_records([f.signals() for f in before])
    outcome = deduplicate([f.signals() for f in batch], stored)
    expected: list[Signal] = []
    kept: list[_Frame] = list(before)  # every frame stored so far: before, then the batch's
    for f in batch:
        repeated = any(
            (k.account, k.seq) == (f.account, f.seq) and _within(k.at, f.at) for k in kept
        )
        if not repeated:
            expected.extend(f.signals())
            kept.append(f)
    assert list(outcome.arrivals) == expected


@given(batch=st.lists(frames, max_size=12), before=st.lists(frames, max_size=4))
def test_a_repeated_frames_events_resolve_to_their_twins_in_the_newest_frame(
    batch: list[_Frame], before: list[_Frame]
) -> None:
    stored = stored_records([f.signals() for f in before])
    outcome = deduplicate([f.signals() for f in batch], stored)
    assert len(outcome.slots) == len(batch)
    new_in_batch: list[tuple[_Frame, list[Slot]]] = []  # with their events' arrival indexes
    arrived = 0
    for f, slots in zip(batch, outcome.slots, strict=True):
        events = f.signals()

        def repeats(earlier: _Frame, f: _Frame = f) -> bool:
            same = (earlier.account, earlier.seq) == (f.account, f.seq)
            return same and _within(earlier.at, f.at)

        in_batch = [indexes for earlier, indexes in new_in_batch if repeats(earlier)]
        stored_before = [earlier for earlier in before if repeats(earlier)]
        if in_batch:
            # The newest frame of the batch wins, event by event.
            assert list(slots) == in_batch[-1]
        elif stored_before:
            # Else the newest stored frame: each event resolves to its twin there.
            newest = stored_before[-1]
            twins = [_resolved(slot, outcome.arrivals) for slot in slots]
            assert all(isinstance(slot, SignalRecord) for slot in slots)
            assert [(t.received_at, t.zone) for t in twins] == [(newest.at, e.zone) for e in events]
        else:
            indexes: list[Slot] = list(range(arrived, arrived + len(events)))
            assert list(slots) == indexes
            assert [outcome.arrivals[i] for i in range(arrived, arrived + len(events))] == events
            new_in_batch.append((f, indexes))
            arrived += len(events)
    assert arrived == len(outcome.arrivals)

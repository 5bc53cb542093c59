from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from support.factories import T0, dc09_signal, link_test, make_signal, panel_device
from watchfloor.core.alarm_types import LINK_LOST, CodeSystem
from watchfloor.core.devices import Device
from watchfloor.core.signals import LinkTest, Origin, Signal, SignalSource
from watchfloor.core.supervision import (
    DEFAULT_GRACE,
    HEARD_SOURCES,
    SupervisedDevice,
    link_lost_signal,
    link_restored_signal,
    plan_supervision,
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


# -- planning a batch ----------------------------------------------------------------------

INTERVAL = timedelta(seconds=60)
PANELS = ("1001", "1002")


def _device(account: str) -> Device:
    return panel_device(
        device_id=PANELS.index(account) + 1, account=account, supervision_interval=INTERVAL
    )


def _supervised(
    account: str, *, last_seen_at: datetime | None = None, lost_at: datetime | None = None
) -> SupervisedDevice:
    return SupervisedDevice(
        key=account,
        account=account,
        interval=INTERVAL,
        grace=DEFAULT_GRACE,
        since=T0 - timedelta(hours=1),
        last_seen_at=last_seen_at,
        link_lost_at=lost_at,
    )


def _lost(account: str, at: datetime) -> Signal:
    return link_lost_signal(_supervised(account), at=at)


def _is_restore(signal: Signal) -> bool:
    return signal.source is SignalSource.SUPERVISION and signal.restore


def test_a_link_loss_marks_its_device_lost() -> None:
    supervised = {1: _supervised("1001", last_seen_at=T0 - timedelta(hours=1))}
    loss = _lost("1001", T0)
    plan = plan_supervision([loss], [_device("1001")], supervised)
    assert plan.signals == (loss,)
    assert plan.stored_at == {0: 0}
    assert plan.link_lost == {1: T0}
    assert (plan.seen, plan.skews) == ({}, {})


def test_the_next_item_heard_from_a_lost_device_is_preceded_by_its_restore() -> None:
    supervised = {1: _supervised("1001", lost_at=T0)}
    heard = T0 + timedelta(seconds=5)
    probe, event = link_test(at=heard, account="1001", skew=2.5), dc09_signal(at=heard)
    devices = [_device("1001"), None]
    plan = plan_supervision([probe, event], devices, supervised)
    assert len(plan.signals) == 2
    restore, stored = plan.signals
    assert _is_restore(restore)
    assert restore.received_at == heard
    assert stored == event
    assert plan.devices == (_device("1001"), None)
    assert plan.stored_at == {1: 1}
    assert plan.link_lost == {1: None}
    assert plan.seen == {1: heard}
    assert plan.skews == {1: 2.5}


def test_a_loss_of_a_device_heard_since_its_deadline_is_restored_at_once() -> None:
    supervised = {1: _supervised("1001", last_seen_at=T0 - timedelta(hours=1))}
    heard = T0 + timedelta(seconds=10)
    event = dc09_signal(at=heard, account="1001")
    loss = _lost("1001", T0 + timedelta(seconds=20))
    plan = plan_supervision([event, loss], [_device("1001")] * 2, supervised)
    assert plan.signals[:2] == (event, loss)
    assert _is_restore(plan.signals[2])
    assert plan.signals[2].received_at == loss.received_at
    assert plan.link_lost == {}


def test_a_second_loss_of_a_lost_device_changes_nothing() -> None:
    supervised = {1: _supervised("1001", lost_at=T0)}
    plan = plan_supervision([_lost("1001", T0 + INTERVAL)], [_device("1001")], supervised)
    assert len(plan.signals) == 1
    assert plan.link_lost == {}


def test_a_loss_of_an_unsupervised_or_unregistered_device_is_only_stored() -> None:
    loss = _lost("1001", T0)
    for device in (_device("1001"), None):
        plan = plan_supervision([loss], [device], {})
        assert plan.signals == (loss,)
        assert plan.link_lost == {}


_KINDS = ("event", "probe", "loss", "report")


@st.composite
def _batches(
    draw: st.DrawFn,
) -> tuple[list[Signal | LinkTest], list[Device | None], dict[int, SupervisedDevice]]:
    supervised: dict[int, SupervisedDevice] = {}
    for account in PANELS:
        if draw(st.booleans()):
            seen = draw(st.none() | st.integers(-300, 0).map(lambda s: T0 + timedelta(seconds=s)))
            lost = draw(st.none() | st.just(T0 - timedelta(seconds=1)))
            supervised[PANELS.index(account) + 1] = _supervised(
                account, last_seen_at=seen, lost_at=lost
            )
    arrivals: list[Signal | LinkTest] = []
    devices: list[Device | None] = []
    at = T0
    for _ in range(draw(st.integers(0, 12))):
        at += timedelta(seconds=draw(st.integers(1, 120)))
        account = draw(st.sampled_from(PANELS))
        registered = draw(st.integers(0, 5)) > 0
        kind = draw(st.sampled_from(_KINDS))
        item: Signal | LinkTest
        if kind == "event":
            item = dc09_signal(at=at, account=account)
        elif kind == "probe":
            item = link_test(at=at, account=account, skew=draw(st.none() | st.floats(-9, 9)))
        elif kind == "loss":
            item = _lost(account, at)
        else:
            item = replace(make_signal(at=at, device=account), source=SignalSource.PATROL)
        arrivals.append(item)
        devices.append(_device(account) if registered else None)
    return arrivals, devices, supervised


Batch = tuple[list[Signal | LinkTest], list[Device | None], dict[int, SupervisedDevice]]


@given(batch=_batches())
def test_the_plan_stores_every_arrival_signal_in_order_and_only_restores_besides(
    batch: Batch,
) -> None:
    arrivals, devices, supervised = batch
    plan = plan_supervision(arrivals, devices, supervised)
    signal_indexes = [i for i, item in enumerate(arrivals) if isinstance(item, Signal)]
    assert sorted(plan.stored_at) == signal_indexes
    assert sorted(plan.stored_at.values()) == list(plan.stored_at.values())
    for index, position in plan.stored_at.items():
        assert plan.signals[position] == arrivals[index]
        assert plan.devices[position] == devices[index]
    others = set(range(len(plan.signals))) - set(plan.stored_at.values())
    for position in others:
        restore, device = plan.signals[position], plan.devices[position]
        assert _is_restore(restore)
        assert device is not None
        assert device.id in supervised
        assert restore.device == supervised[device.id].key


@given(batch=_batches())
def test_a_device_is_never_both_lost_and_restored_by_one_item(batch: Batch) -> None:
    """Walked item by item, losses and restores alternate, and each item does one or none."""
    arrivals, devices, supervised = batch
    plan = plan_supervision(arrivals, devices, supervised)
    lost = {device_id: s.link_lost_at for device_id, s in supervised.items()}
    # Items come at distinct times, and a restore is dated by the item that caused it.
    restores = [(p, s) for p, s in enumerate(plan.signals) if _is_restore(s)]
    for index, (item, device) in enumerate(zip(arrivals, devices, strict=True)):
        caused = [(p, s) for p, s in restores if s.received_at == item.received_at]
        if device is None or device.id not in supervised:
            assert not caused
            continue
        assert len(caused) <= 1
        before = lost[device.id]
        is_loss = isinstance(item, Signal) and item == _lost(
            supervised[device.id].key, item.received_at
        )
        if caused:
            ((position, _),) = caused
            if item.source in HEARD_SOURCES:
                # A lost device heard again: restored just before the item is stored.
                assert before is not None
                assert index not in plan.stored_at or plan.stored_at[index] == position + 1
            else:
                # A loss of a device heard since its deadline: restored at once, not lost.
                assert is_loss
                assert before is None
                assert plan.stored_at[index] == position - 1
            lost[device.id] = None
        elif is_loss and before is None:
            lost[device.id] = item.received_at
        elif item.source in HEARD_SOURCES:
            assert before is None  # a lost device heard is always restored
    changed = {
        device_id: at for device_id, at in lost.items() if at != supervised[device_id].link_lost_at
    }
    assert plan.link_lost == changed


@given(batch=_batches())
def test_a_device_is_seen_when_it_was_heard_and_keeps_its_last_skew(batch: Batch) -> None:
    arrivals, devices, supervised = batch
    plan = plan_supervision(arrivals, devices, supervised)
    heard = [
        (device.id, item)
        for item, device in zip(arrivals, devices, strict=True)
        if device is not None and item.source in HEARD_SOURCES
    ]
    assert plan.seen == {
        device_id: max(item.received_at for d, item in heard if d == device_id)
        for device_id, _ in heard
    }
    skews = {
        device_id: item.skew_seconds
        for device_id, item in heard
        if isinstance(item, LinkTest) and item.skew_seconds is not None
    }
    assert plan.skews == skews


def test_a_loss_exactly_at_the_deadline_is_not_yet_a_loss() -> None:
    heard = T0 - timedelta(hours=1)
    supervised = {1: _supervised("1001", last_seen_at=heard)}
    deadline = supervision_deadline(supervised[1])
    on_time = plan_supervision([_lost("1001", deadline)], [_device("1001")], supervised)
    assert on_time.link_lost == {}
    assert _is_restore(on_time.signals[-1])
    assert on_time.signals[-1].received_at == deadline
    late = deadline + timedelta(microseconds=1)
    assert plan_supervision([_lost("1001", late)], [_device("1001")], supervised).link_lost == {
        1: late
    }

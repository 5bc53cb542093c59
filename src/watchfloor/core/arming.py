"""Open/close supervision: a site's armed state against its schedule, and what is raised.

Theory of operation: a panel reports each opening (disarm) and closing (arm) of a site or
partition (``arming_action``: Contact ID 40x events, SIA OP/CL and their kin). Intake keeps
the resulting armed state (``ArmingState``) of each scheduled site or partition, in the same
commit as the signal. A watch compares it, on a period, with the schedule
(``core.schedules``) and raises, as supervision signals of the panel:

- **failed to close**: still disarmed ``close_grace`` after a closing time, disarmed since
  before it;
- **unexpected opening**: an opening at a time the schedule expects the site closed;
- **late to open** (when the schedule has ``open_grace``): still armed ``open_grace`` after
  an opening time, armed since before it.

Each is raised once: the state remembers which closing time, opening time or opening it was
raised for (``failed_close_for``, ``late_open_for``, ``unexpected_open_for``), set by intake
in the commit that stores the signal. Intake evaluates the condition again at that moment
(``plan_arming``): if the panel armed or disarmed since the watch looked, the signal is
stored and restored at once, as link loss is. The event that ends a condition (the closing
after a failed-to-close or an unexpected opening, the opening after a late-to-open) stores
its restore, so the alarm shows that the site is back to normal. Deadlines therefore derive
from stored state only: a restart neither loses nor repeats them, and a deadline passed
while nothing ran is raised when the watch runs again.

A site or partition whose state is unknown (no opening or closing heard yet) raises
nothing: a panel that does not report openings and closings is not taken for one that
failed to close. Times before ``since`` (when the schedule was last set) are not judged.
An arming event of a partition that has no schedule of its own counts for the whole site's.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum
from typing import Final

from watchfloor.core.alarm_types import CodeSystem, SourceCode
from watchfloor.core.devices import Device
from watchfloor.core.schedules import (
    ExpectedState,
    Schedule,
    expected_state,
    last_close,
    last_open,
)
from watchfloor.core.signals import Signal, SignalSource

__all__ = [
    "CONTACT_ID_ARMING",
    "SIA_CLOSINGS",
    "SIA_OPENINGS",
    "ArmingAction",
    "ArmingCondition",
    "ArmingPlan",
    "ArmingState",
    "DueArming",
    "DueCondition",
    "ScheduleKey",
    "SupervisedSchedule",
    "apply_arming",
    "arming_action",
    "arming_sites",
    "condition_restored_signal",
    "condition_signal",
    "due_conditions",
    "plan_arming",
]


class ArmingAction(StrEnum):
    """What an arming event does: an opening disarms, a closing arms."""

    OPENING = "opening"
    CLOSING = "closing"


class ArmingCondition(StrEnum):
    """A schedule exception open/close supervision raises; the value is its source code."""

    FAILED_TO_CLOSE = "failed_to_close"
    UNEXPECTED_OPENING = "unexpected_opening"
    LATE_TO_OPEN = "late_to_open"


#: Contact ID events that are openings (qualifier 1) or closings (qualifier 3) of the whole
#: area (SIA DC-05 Appendix C, 40x "Open/Close"): 400 open/close, 401 by user, 403
#: automatic, 407 remote arm/disarm, 408 quick arm, 409 keyswitch. Left out on purpose:
#: 402 (group), 406 (cancel), 441/442 (armed stay) and 456 (partial arm), which do not say
#: that the premises are left secure or opened.
CONTACT_ID_ARMING: Final = frozenset({"400", "401", "403", "407", "408", "409"})

#: SIA DCS openings and closings (SIA DC-03 event codes): opening report, automatic,
#: remote, keyswitch openings and disarm from alarm; closing report, automatic (CA, CP),
#: remote and keyswitch closings. Partial (OG/CG), late/early and forced variants are left
#: to the taxonomy's log.
SIA_OPENINGS: Final = frozenset({"OP", "OA", "OQ", "OS", "OR"})
SIA_CLOSINGS: Final = frozenset({"CL", "CA", "CP", "CQ", "CS"})

_SIA_ACTIONS: Final = {
    **dict.fromkeys(SIA_OPENINGS, ArmingAction.OPENING),
    **dict.fromkeys(SIA_CLOSINGS, ArmingAction.CLOSING),
}

#: The condition that each action ends, when it was raised for the period the action ends.
_ENDED_BY: Final = {
    ArmingAction.CLOSING: (ArmingCondition.FAILED_TO_CLOSE, ArmingCondition.UNEXPECTED_OPENING),
    ArmingAction.OPENING: (ArmingCondition.LATE_TO_OPEN,),
}


def arming_action(signal: Signal) -> ArmingAction | None:
    """Return whether a signal is an opening or a closing (None: neither)."""
    code = signal.code
    if code.system is CodeSystem.CONTACT_ID and code.code in CONTACT_ID_ARMING:
        # DC-05: event qualifier 1 is "new event or opening", 3 "restore or closing".
        return ArmingAction.CLOSING if signal.restore else ArmingAction.OPENING
    if code.system is CodeSystem.SIA_DCS:
        return _SIA_ACTIONS.get(code.code)
    return None


@dataclass(frozen=True, slots=True, kw_only=True)
class ScheduleKey:
    """A scheduled site, or one partition of it (``partition`` None: the whole site)."""

    site: str
    partition: str | None


@dataclass(frozen=True, slots=True, kw_only=True)
class ArmingState:
    """The armed state of a scheduled site or partition, and what was raised for it.

    ``armed`` is None until an opening or closing is heard. ``opened_at`` / ``closed_at``
    are when the last opening / closing that changed the state arrived (a second opening of
    a disarmed site changes nothing). ``device`` and ``account`` name the device that
    reported last, whose signals the conditions are raised as. ``failed_close_for`` is the
    closing time a failed-to-close was raised for, ``late_open_for`` the opening time a
    late-to-open was raised for, ``unexpected_open_for`` the opening (``opened_at``) an
    unexpected opening was raised for.
    """

    armed: bool | None = None
    opened_at: datetime | None = None
    closed_at: datetime | None = None
    device: str | None = None
    account: str | None = None
    failed_close_for: datetime | None = None
    late_open_for: datetime | None = None
    unexpected_open_for: datetime | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class SupervisedSchedule:
    """A schedule with its armed state; ``since`` is when the schedule was last set."""

    schedule: Schedule
    state: ArmingState
    since: datetime | None = None

    @property
    def key(self) -> ScheduleKey:
        """The site (and partition) the schedule is for."""
        return ScheduleKey(site=self.schedule.site, partition=self.schedule.partition)


@dataclass(frozen=True, slots=True, kw_only=True)
class DueCondition:
    """A condition due now: ``raised_for`` is the closing time, opening time or opening."""

    condition: ArmingCondition
    raised_for: datetime


@dataclass(frozen=True, slots=True, kw_only=True)
class DueArming:
    """A condition due for a scheduled site or partition, with the state it was due on."""

    key: ScheduleKey
    state: ArmingState
    due: DueCondition


def apply_arming(
    state: ArmingState, action: ArmingAction, *, at: datetime, device: str, account: str | None
) -> ArmingState:
    """Return the state after an opening or closing that arrived at ``at``.

    An event older than the state's last change (a late batch) names the device but
    changes nothing else; so does an opening of a disarmed or a closing of an armed site.
    """
    latest = max((t for t in (state.opened_at, state.closed_at) if t is not None), default=None)
    state = replace(state, device=device, account=account)
    if latest is not None and at < latest:
        return state
    if action is ArmingAction.OPENING and state.armed is not False:
        return replace(state, armed=False, opened_at=at)
    if action is ArmingAction.CLOSING and state.armed is not True:
        return replace(state, armed=True, closed_at=at)
    return state


def due_conditions(
    schedule: Schedule, state: ArmingState, now: datetime, *, since: datetime | None = None
) -> tuple[DueCondition, ...]:
    """Return the conditions due at ``now`` and not raised yet, in a fixed order.

    Pure and idempotent: once intake has recorded a condition as raised (``plan_arming``),
    it is not due again for the same closing time, opening time or opening.
    """
    due: list[DueCondition] = []
    if state.armed is False and state.opened_at is not None:
        closing = last_close(schedule, now - schedule.close_grace)
        if (
            closing is not None
            and state.opened_at < closing
            and _judged(closing, since)
            and _later(closing, state.failed_close_for)
        ):
            due.append(DueCondition(condition=ArmingCondition.FAILED_TO_CLOSE, raised_for=closing))
    opened = state.opened_at
    if (
        opened is not None
        and _judged(opened, since)
        and opened != state.unexpected_open_for
        and expected_state(schedule, opened) is ExpectedState.CLOSED
    ):
        due.append(DueCondition(condition=ArmingCondition.UNEXPECTED_OPENING, raised_for=opened))
    if schedule.open_grace is not None and state.armed is True and state.closed_at is not None:
        opening = last_open(schedule, now - schedule.open_grace)
        if (
            opening is not None
            and state.closed_at < opening
            and _judged(opening, since)
            and _later(opening, state.late_open_for)
        ):
            due.append(DueCondition(condition=ArmingCondition.LATE_TO_OPEN, raised_for=opening))
    return tuple(due)


def _judged(moment: datetime, since: datetime | None) -> bool:
    return since is None or moment >= since


def _later(moment: datetime, raised: datetime | None) -> bool:
    return raised is None or moment > raised


_DESCRIPTIONS: Final = {
    ArmingCondition.FAILED_TO_CLOSE: "not armed by the closing time of {at} plus grace",
    ArmingCondition.UNEXPECTED_OPENING: "disarmed at {at}, outside the schedule",
    ArmingCondition.LATE_TO_OPEN: "not disarmed by the opening time of {at} plus grace",
}


def condition_signal(
    key: ScheduleKey, state: ArmingState, due: DueCondition, *, at: datetime
) -> Signal:
    """Return the supervision signal that raises a due condition, as the state's device.

    Raises:
        ValueError: the state names no device (no opening or closing heard yet).
    """
    return Signal(
        source=SignalSource.SUPERVISION,
        received_at=at,
        device=_device_of(state),
        account=state.account,
        code=SourceCode(system=CodeSystem.SUPERVISION, code=due.condition.value),
        zone=None,
        partition=key.partition,
        raw=f"{key.site}: " + _DESCRIPTIONS[due.condition].format(at=due.raised_for.isoformat()),
    )


def condition_restored_signal(
    key: ScheduleKey, state: ArmingState, condition: ArmingCondition, *, at: datetime
) -> Signal:
    """Return the supervision restore that ends a raised condition.

    Raises:
        ValueError: the state names no device.
    """
    return Signal(
        source=SignalSource.SUPERVISION,
        received_at=at,
        device=_device_of(state),
        account=state.account,
        code=SourceCode(system=CodeSystem.SUPERVISION, code=condition.value),
        zone=None,
        partition=key.partition,
        restore=True,
        raw=f"{key.site}: {condition.value.replace('_', ' ')} ended at {at.isoformat()}",
    )


def _device_of(state: ArmingState) -> str:
    if state.device is None:
        raise ValueError("an arming condition needs the device that reported the state")
    return state.device


@dataclass(frozen=True, slots=True, kw_only=True)
class ArmingPlan:
    """What a batch's signals mean for armed states, from ``plan_arming``.

    ``restores`` are supervision restores to store after the batch's signals, each with the
    device of the signal that caused it; ``states`` the states that changed, by key.
    """

    restores: tuple[tuple[Signal, Device | None], ...]
    states: Mapping[ScheduleKey, ArmingState]


def plan_arming(
    signals: Sequence[Signal],
    devices: Sequence[Device | None],
    supervised: Mapping[ScheduleKey, SupervisedSchedule],
) -> ArmingPlan:
    """Walk a batch's signals in order: openings, closings and raised conditions.

    Args:
        signals: the signals the batch stores, in arrival order.
        devices: each signal's registered device (None: unregistered).
        supervised: the schedules (with state before the batch) of the sites the batch's
            devices belong to, by key.

    Returns:
        The restores to store and the changed states.
    """
    states = {key: entry.state for key, entry in supervised.items()}
    restores: list[tuple[Signal, Device | None]] = []
    for signal, device in zip(signals, devices, strict=True):
        if device is None or device.site is None:
            continue
        action = arming_action(signal)
        if action is not None:
            key = _target(supervised, device.site, signal.partition)
            if key is None:
                continue
            before = states[key]
            after = apply_arming(
                before, action, at=signal.received_at, device=signal.device, account=signal.account
            )
            states[key] = after
            if after.armed != before.armed:
                for condition in _ended(before, action):
                    restore = condition_restored_signal(
                        key, before, condition, at=signal.received_at
                    )
                    restores.append((restore, device))
            continue
        raised = _raised_condition(signal)
        key = ScheduleKey(site=device.site, partition=signal.partition)
        if raised is None or key not in supervised:
            continue
        entry = supervised[key]
        due = [
            d
            for d in due_conditions(
                entry.schedule, states[key], signal.received_at, since=entry.since
            )
            if d.condition is raised
        ]
        if due:
            states[key] = _mark_raised(states[key], due[0])
        else:
            # The site armed or disarmed after the watch read its state: over already.
            restore = condition_restored_signal(key, states[key], raised, at=signal.received_at)
            restores.append((replace(restore, device=signal.device), device))
    return ArmingPlan(
        restores=tuple(restores),
        states={key: state for key, state in states.items() if state != supervised[key].state},
    )


def arming_sites(signals: Sequence[Signal], devices: Sequence[Device | None]) -> frozenset[str]:
    """Return the sites whose schedules ``plan_arming`` needs for these signals."""
    return frozenset(
        device.site
        for signal, device in zip(signals, devices, strict=True)
        if device is not None
        and device.site is not None
        and (arming_action(signal) is not None or _raised_condition(signal) is not None)
    )


def _target(
    supervised: Mapping[ScheduleKey, SupervisedSchedule], site: str, partition: str | None
) -> ScheduleKey | None:
    if partition is not None:
        for key in supervised:
            if key.site == site and _same_partition(key.partition, partition):
                return key
    whole = ScheduleKey(site=site, partition=None)
    return whole if whole in supervised else None


def _same_partition(scheduled: str | None, reported: str) -> bool:
    # Contact ID sends the group as two digits ("01"), SIA as a number ("1").
    if scheduled is None:
        return False
    if scheduled.isdecimal() and reported.isdecimal():
        return int(scheduled) == int(reported)
    return scheduled == reported


def _ended(before: ArmingState, action: ArmingAction) -> list[ArmingCondition]:
    raised = {
        ArmingCondition.FAILED_TO_CLOSE: before.failed_close_for is not None
        and before.opened_at is not None
        and before.failed_close_for > before.opened_at,
        ArmingCondition.UNEXPECTED_OPENING: before.unexpected_open_for is not None
        and before.unexpected_open_for == before.opened_at,
        ArmingCondition.LATE_TO_OPEN: before.late_open_for is not None
        and before.closed_at is not None
        and before.late_open_for > before.closed_at,
    }
    return [condition for condition in _ENDED_BY[action] if raised[condition]]


def _raised_condition(signal: Signal) -> ArmingCondition | None:
    code = signal.code
    if signal.source is not SignalSource.SUPERVISION or signal.restore:
        return None
    if code.system is not CodeSystem.SUPERVISION:
        return None
    try:
        return ArmingCondition(code.code)
    except ValueError:
        return None


def _mark_raised(state: ArmingState, due: DueCondition) -> ArmingState:
    if due.condition is ArmingCondition.FAILED_TO_CLOSE:
        return replace(state, failed_close_for=due.raised_for)
    if due.condition is ArmingCondition.UNEXPECTED_OPENING:
        return replace(state, unexpected_open_for=due.raised_for)
    return replace(state, late_open_for=due.raised_for)

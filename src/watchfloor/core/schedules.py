"""A site's arming schedule: weekly open/close windows in the site's time zone, and exceptions.

Theory of operation: a site (or one partition of it) is expected open — disarmed, people at
work — inside its weekly windows and closed — armed — outside them. A window is given in the
site's local wall-clock time, so it follows daylight-saving changes; a window whose closing
time is not after its opening time closes on the next day (a night shift). An exception
replaces the weekly windows of one local date: a holiday (closed all day) or a one-off late
night (other hours). Open/close supervision compares the armed state that the panel reports
with these expectations.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from typing import Final
from zoneinfo import ZoneInfo

__all__ = [
    "SEARCH_HORIZON",
    "ExpectedState",
    "Schedule",
    "ScheduleException",
    "WeeklyWindow",
    "expected_state",
    "last_close",
    "last_open",
    "next_close_deadline",
    "next_open_deadline",
    "opening_times",
    "resolve_local",
]

_SECOND: Final = timedelta(seconds=1)


@dataclass(frozen=True, slots=True, kw_only=True)
class WeeklyWindow:
    """One weekly opening: ``weekday`` 0 is Monday; ``closes`` <= ``opens`` means next day."""

    weekday: int
    opens: time
    closes: time


@dataclass(frozen=True, slots=True, kw_only=True)
class ScheduleException:
    """The hours of one local date instead of its weekly windows; no hours: closed all day."""

    day: date
    opens: time | None = None
    closes: time | None = None
    note: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Schedule:
    """The arming schedule of a site, or of one partition of it (``partition`` None: whole site).

    ``close_grace`` is how long after closing time the site may still be disarmed before it
    counts as "failed to close"; ``open_grace``, if set, how long after opening time it may
    still be armed before it counts as "late to open" (None: not supervised).
    """

    site: str
    partition: str | None
    time_zone: str
    windows: tuple[WeeklyWindow, ...]
    exceptions: tuple[ScheduleException, ...] = ()
    close_grace: timedelta = timedelta(minutes=15)
    open_grace: timedelta | None = None


class ExpectedState(StrEnum):
    """What the schedule expects of a site at an instant: open (disarmed) or closed (armed)."""

    OPEN = "open"
    CLOSED = "closed"


#: How far ahead (or back) the next (or last) opening or closing is looked for: a site closed
#: for longer than this by exceptions has none.
SEARCH_HORIZON: Final = timedelta(days=400)


def resolve_local(wall: datetime, zone: ZoneInfo) -> datetime:
    """Return the UTC instant of a local wall-clock time in a zone, by the schedule's rule.

    The rule for daylight-saving changes: a wall-clock time that does not exist (02:30 on a
    spring-forward night, when clocks go from 02:00 to 03:00) moves forward to the first
    valid instant, the change itself (03:00 local); a wall-clock time that occurs twice
    (01:30 on a fall-back night) is its first occurrence (PEP 495 ``fold=0``). So a window
    that closes in the gap closes when the clocks change, and one that closes in the repeated
    hour closes the first time that hour is reached.

    Args:
        wall: a naive local date and time.
        zone: the site's time zone.
    """
    first = wall.replace(tzinfo=zone, fold=0).astimezone(UTC)
    if first.astimezone(zone).replace(tzinfo=None) == wall:
        return first
    # In a gap, fold=0 reads the time with the offset before the change (later in UTC) and
    # fold=1 with the offset after it (earlier): the change lies between. Find the first
    # second whose wall-clock time is not before ``wall``.
    low = wall.replace(tzinfo=zone, fold=1).astimezone(UTC)
    high = first
    while high - low > _SECOND:
        middle = low + (high - low) // 2 // _SECOND * _SECOND
        if middle.astimezone(zone).replace(tzinfo=None) < wall:
            low = middle
        else:
            high = middle
    return high


def opening_times(
    schedule: Schedule, start: datetime, end: datetime
) -> list[tuple[datetime, datetime]]:
    """Return the periods in which the schedule expects the site open, touching [start, end).

    Each period is (opens, closes) in UTC, opens inclusive and closes exclusive; overlapping
    or adjacent windows are merged, so every ``closes`` is a real closing time (one where the
    site is expected to be armed). An exception replaces the windows that start on its local
    date; a window of the previous date that runs past midnight still ends as scheduled.
    """
    zone = ZoneInfo(schedule.time_zone)
    first_day = start.astimezone(zone).date() - timedelta(days=1)
    last_day = end.astimezone(zone).date() + timedelta(days=1)
    exceptions = {exception.day: exception for exception in schedule.exceptions}
    periods: list[tuple[datetime, datetime]] = []
    day = first_day
    while day <= last_day:
        for opens, closes in _hours_of(schedule, exceptions, day):
            begin = resolve_local(datetime.combine(day, opens), zone)
            close_day = day if closes > opens else day + timedelta(days=1)
            finish = resolve_local(datetime.combine(close_day, closes), zone)
            if finish > begin:
                periods.append((begin, finish))
        day += timedelta(days=1)
    merged: list[tuple[datetime, datetime]] = []
    for begin, finish in sorted(periods):
        if merged and begin <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], finish))
        else:
            merged.append((begin, finish))
    return [(begin, finish) for begin, finish in merged if finish > start and begin < end]


def expected_state(schedule: Schedule, at: datetime) -> ExpectedState:
    """Return whether the schedule expects the site open or closed at an instant."""
    periods = opening_times(schedule, at, at + _SECOND)
    is_open = any(begin <= at < finish for begin, finish in periods)
    return ExpectedState.OPEN if is_open else ExpectedState.CLOSED


def last_close(schedule: Schedule, at: datetime) -> datetime | None:
    """Return the latest closing time at or before ``at`` (None: none within the horizon)."""
    for span in _SPANS:
        closes = [finish for _, finish in opening_times(schedule, at - span, at) if finish <= at]
        if closes:
            return closes[-1]
    return None


def last_open(schedule: Schedule, at: datetime) -> datetime | None:
    """Return the latest opening time at or before ``at`` (None: none within the horizon)."""
    for span in _SPANS:
        start = at - span
        opens = [
            begin
            for begin, _ in opening_times(schedule, start, at + _SECOND)
            if start <= begin <= at
        ]
        if opens:
            return opens[-1]
    return None


def next_close_deadline(schedule: Schedule, after: datetime) -> datetime | None:
    """Return the first "failed to close" deadline (closing time + grace) after ``after``."""
    grace = schedule.close_grace
    closes = _times_ahead(schedule, after - grace, lambda period: period[1])
    return next((close + grace for close in closes if close + grace > after), None)


def next_open_deadline(schedule: Schedule, after: datetime) -> datetime | None:
    """Return the first "late to open" deadline (opening time + grace) after ``after``.

    None when late opening is not supervised (no ``open_grace``) or no opening comes.
    """
    grace = schedule.open_grace
    if grace is None:
        return None
    opens = _times_ahead(schedule, after - grace, lambda period: period[0])
    return next((begin + grace for begin in opens if begin + grace > after), None)


#: Searches look a week and a day away first, then as far as the horizon.
_SPANS: Final = (timedelta(days=8), SEARCH_HORIZON)


def _times_ahead(
    schedule: Schedule,
    after: datetime,
    pick: Callable[[tuple[datetime, datetime]], datetime],
) -> list[datetime]:
    # Only times inside the searched span count: at its edges a merged period may be cut.
    for span in _SPANS:
        end = after + span
        found = [
            moment
            for moment in map(pick, opening_times(schedule, after, end))
            if after < moment <= end
        ]
        if found:
            return found
    return []


def _hours_of(
    schedule: Schedule, exceptions: dict[date, ScheduleException], day: date
) -> list[tuple[time, time]]:
    exception = exceptions.get(day)
    if exception is None:
        return [(w.opens, w.closes) for w in schedule.windows if w.weekday == day.weekday()]
    if exception.opens is None or exception.closes is None:
        return []
    return [(exception.opens, exception.closes)]

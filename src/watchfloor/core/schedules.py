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

from dataclasses import dataclass
from datetime import date, time, timedelta

__all__ = ["Schedule", "ScheduleException", "WeeklyWindow"]


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

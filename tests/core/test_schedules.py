"""Arming schedules evaluated in the site's time zone: windows, exceptions, midnight, DST."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from hypothesis import given
from hypothesis import strategies as st

from watchfloor.core.schedules import (
    ExpectedState,
    Schedule,
    ScheduleException,
    WeeklyWindow,
    expected_state,
    last_close,
    last_open,
    next_close_deadline,
    next_open_deadline,
    opening_times,
    resolve_local,
)

LONDON = ZoneInfo("Europe/London")
NEW_YORK = ZoneInfo("America/New_York")
OFFICE = tuple(WeeklyWindow(weekday=d, opens=time(8), closes=time(18)) for d in range(5))
#: Friday 4 December 2026, midnight UTC (= London).
FRIDAY = datetime(2026, 12, 4, tzinfo=UTC)


def schedule(
    *windows: WeeklyWindow,
    exceptions: tuple[ScheduleException, ...] = (),
    zone: str = "Europe/London",
    open_grace: timedelta | None = None,
) -> Schedule:
    return Schedule(
        site="Shop",
        partition=None,
        time_zone=zone,
        windows=windows or OFFICE,
        exceptions=exceptions,
        close_grace=timedelta(minutes=15),
        open_grace=open_grace,
    )


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


def naive(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    """A local wall-clock time (no zone), as schedules give them."""
    return utc(year, month, day, hour, minute).replace(tzinfo=None)


def test_expected_state_inside_and_outside_the_weekly_windows() -> None:
    office = schedule()
    assert expected_state(office, FRIDAY + timedelta(hours=8)) is ExpectedState.OPEN
    assert expected_state(office, FRIDAY + timedelta(hours=17, minutes=59)) is ExpectedState.OPEN
    assert expected_state(office, FRIDAY + timedelta(hours=18)) is ExpectedState.CLOSED
    assert expected_state(office, FRIDAY + timedelta(days=1, hours=12)) is ExpectedState.CLOSED


def test_a_window_crossing_midnight_closes_the_next_day() -> None:
    night = schedule(WeeklyWindow(weekday=4, opens=time(22), closes=time(6)))
    assert expected_state(night, utc(2026, 12, 5, 5, 59)) is ExpectedState.OPEN
    assert expected_state(night, utc(2026, 12, 5, 6)) is ExpectedState.CLOSED
    assert last_close(night, utc(2026, 12, 5, 12)) == utc(2026, 12, 5, 6)
    assert next_close_deadline(night, utc(2026, 12, 4, 23)) == utc(2026, 12, 5, 6, 15)


def test_an_exception_replaces_the_windows_of_its_date() -> None:
    late = ScheduleException(day=date(2026, 12, 4), opens=time(8), closes=time(22))
    holiday = ScheduleException(day=date(2026, 12, 7), note="closed")
    office = schedule(exceptions=(late, holiday))
    assert next_close_deadline(office, FRIDAY) == utc(2026, 12, 4, 22, 15)
    # Monday is a holiday: the next close after Friday is Tuesday's.
    assert next_close_deadline(office, utc(2026, 12, 4, 23)) == utc(2026, 12, 8, 18, 15)
    assert expected_state(office, utc(2026, 12, 7, 12)) is ExpectedState.CLOSED


def test_adjacent_windows_merge_into_one_period() -> None:
    split = schedule(
        WeeklyWindow(weekday=4, opens=time(8), closes=time(12)),
        WeeklyWindow(weekday=4, opens=time(12), closes=time(18)),
    )
    assert opening_times(split, FRIDAY, FRIDAY + timedelta(days=1)) == [
        (utc(2026, 12, 4, 8), utc(2026, 12, 4, 18))
    ]


def test_open_deadlines_need_an_open_grace() -> None:
    assert next_open_deadline(schedule(), FRIDAY) is None
    supervised = schedule(open_grace=timedelta(minutes=30))
    assert next_open_deadline(supervised, FRIDAY) == utc(2026, 12, 4, 8, 30)
    assert next_open_deadline(supervised, utc(2026, 12, 4, 9)) == utc(2026, 12, 7, 8, 30)
    assert last_open(supervised, utc(2026, 12, 6, 12)) == utc(2026, 12, 4, 8)


def test_a_schedule_that_never_opens_has_no_times() -> None:
    closed = Schedule(site="Shop", partition=None, time_zone="UTC", windows=())
    assert last_close(closed, FRIDAY) is None
    assert last_open(closed, FRIDAY) is None
    assert next_close_deadline(closed, FRIDAY) is None
    assert next_open_deadline(replace_grace(closed), FRIDAY) is None


def test_a_site_open_around_the_clock_never_closes() -> None:
    always = Schedule(
        site="Shop",
        partition=None,
        time_zone="UTC",
        windows=tuple(WeeklyWindow(weekday=d, opens=time(0), closes=time(0)) for d in range(7)),
    )
    assert expected_state(always, FRIDAY) is ExpectedState.OPEN
    assert next_close_deadline(always, FRIDAY) is None


def test_a_far_opening_is_found_beyond_the_first_week() -> None:
    shut = tuple(ScheduleException(day=date(2026, 12, 7) + timedelta(days=n)) for n in range(14))
    office = schedule(exceptions=shut, open_grace=timedelta(minutes=5))
    assert next_open_deadline(office, utc(2026, 12, 5)) == utc(2026, 12, 21, 8, 5)
    assert last_close(office, utc(2026, 12, 20)) == utc(2026, 12, 4, 18)
    assert last_open(office, utc(2026, 12, 20)) == utc(2026, 12, 4, 8)


def replace_grace(closed: Schedule) -> Schedule:
    return Schedule(
        site=closed.site,
        partition=None,
        time_zone=closed.time_zone,
        windows=(),
        open_grace=timedelta(minutes=5),
    )


# -- daylight saving ---------------------------------------------------------------------------


def test_a_nonexistent_local_time_moves_to_the_change() -> None:
    # London, 29 March 2026: 01:00 GMT becomes 02:00 BST; 01:30 does not exist.
    assert resolve_local(naive(2026, 3, 29, 1, 30), LONDON) == utc(2026, 3, 29, 1)
    # New York, 8 March 2026: 02:00 EST becomes 03:00 EDT.
    assert resolve_local(naive(2026, 3, 8, 2, 59), NEW_YORK) == utc(2026, 3, 8, 7)


def test_an_ambiguous_local_time_is_its_first_occurrence() -> None:
    # London, 25 October 2026: 01:30 happens at 00:30 UTC (BST) and 01:30 UTC (GMT).
    assert resolve_local(naive(2026, 10, 25, 1, 30), LONDON) == utc(2026, 10, 25, 0, 30)
    assert resolve_local(naive(2026, 11, 1, 1, 30), NEW_YORK) == utc(2026, 11, 1, 5, 30)


def test_windows_keep_wall_clock_hours_across_a_change() -> None:
    office = schedule(zone="America/New_York")
    # 18:00 in New York is 23:00 UTC in winter, 22:00 UTC in summer.
    assert last_close(office, utc(2026, 3, 7)) == utc(2026, 3, 6, 23)
    assert last_close(office, utc(2026, 3, 10)) == utc(2026, 3, 9, 22)


@given(
    wall=st.datetimes(min_value=naive(2000, 1, 1), max_value=naive(2040, 12, 31)),
    zone=st.sampled_from(["Europe/London", "America/New_York", "Australia/Lord_Howe", "UTC"]),
)
def test_resolve_local_is_the_first_instant_not_before_the_wall_time(
    wall: datetime, zone: str
) -> None:
    tz = ZoneInfo(zone)
    wall = wall.replace(microsecond=0)
    instant = resolve_local(wall, tz)
    assert instant.tzinfo is UTC
    shown = instant.astimezone(tz).replace(tzinfo=None)
    assert shown >= wall
    if shown != wall:  # a gap: the instant just before is still before the wall time
        assert (instant - timedelta(seconds=1)).astimezone(tz).replace(tzinfo=None) < wall


@given(
    moment=st.datetimes(
        min_value=naive(2026, 1, 1), max_value=naive(2027, 12, 31), timezones=st.just(UTC)
    ),
    zone=st.sampled_from(["Europe/London", "America/New_York"]),
)
def test_deadlines_lie_after_the_moment_and_close_an_open_period(
    moment: datetime, zone: str
) -> None:
    office = schedule(zone=zone, open_grace=timedelta(minutes=30))
    close = next_close_deadline(office, moment)
    opens = next_open_deadline(office, moment)
    assert close is not None
    assert opens is not None
    assert close > moment
    assert opens > moment
    closing = close - office.close_grace
    assert expected_state(office, closing - timedelta(seconds=1)) is ExpectedState.OPEN
    assert expected_state(office, closing) is ExpectedState.CLOSED
    assert expected_state(office, opens - timedelta(minutes=30)) is ExpectedState.OPEN


def test_a_window_inside_the_spring_forward_gap_is_empty() -> None:
    gap = schedule(WeeklyWindow(weekday=6, opens=time(1, 10), closes=time(1, 50)))
    sunday = utc(2026, 3, 29)
    assert opening_times(gap, sunday, sunday + timedelta(days=1)) == []


def test_periods_not_touching_the_span_are_left_out() -> None:
    saturday = FRIDAY + timedelta(days=1)
    assert opening_times(schedule(), saturday, saturday + timedelta(days=1)) == []

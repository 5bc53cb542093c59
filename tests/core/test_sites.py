"""The site record's values and the call-list rules."""

from __future__ import annotations

from datetime import UTC, datetime, time

import pytest

from watchfloor.core.errors import InvalidRecordError
from watchfloor.core.sites import (
    CallAttempt,
    CallOutcome,
    CallWindow,
    Contact,
    ContactRole,
    EmergencyNumbers,
    Phone,
    Site,
    Zone,
    ZoneKind,
    call_list_worked,
    check_phone_number,
    check_time_zone,
    is_callable,
    next_contact,
)

WEEKDAYS = frozenset(range(5))
# 2026-12-07 is a Monday.
MONDAY_NOON = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)


def _contact(cid: int, *windows: CallWindow, name: str = "Jane Doe") -> Contact:
    return Contact(
        id=cid,
        name=name,
        role=ContactRole.KEYHOLDER,
        phones=(Phone(label="mobile", number="+44 7700 900123"),),
        call_windows=windows,
    )


def _attempt(cid: int, outcome: CallOutcome) -> CallAttempt:
    return CallAttempt(contact_id=cid, outcome=outcome, at=MONDAY_NOON, actor="op")


def _problems(err: pytest.ExceptionInfo[InvalidRecordError]) -> list[str]:
    return err.value.problems


def test_site_accepts_a_full_record() -> None:
    site = Site(
        name="Depot",
        address="1 Quay Road",
        latitude=51.5,
        longitude=-0.1,
        time_zone="Europe/London",
        customer_ref="C-1",
        emergency=EmergencyNumbers(police="999", fire="999", ambulance="112"),
        instructions="Dog on premises",
    )
    assert site.emergency.ambulance == "112"


def test_site_names_every_bad_field() -> None:
    with pytest.raises(InvalidRecordError) as err:
        Site(
            name=" ",
            latitude=91.0,
            longitude=181.0,
            time_zone="Europe/Lundon",
            customer_ref="x" * 201,
            instructions="y" * 4001,
            address="z" * 4001,
        )
    fields = [p.partition(":")[0] for p in _problems(err)]
    assert fields == [
        "name",
        "address",
        "customer_ref",
        "instructions",
        "latitude",
        "longitude",
        "time_zone",
    ]


def test_site_needs_both_coordinates_or_neither() -> None:
    with pytest.raises(InvalidRecordError, match="give both or neither"):
        Site(name="Depot", latitude=10.0)


def test_time_zone_check_refuses_malformed_names() -> None:
    assert check_time_zone("America/New_York") is None
    assert check_time_zone("../etc/passwd") is not None
    assert check_time_zone("Mars/Olympus") is not None


@pytest.mark.parametrize("number", ["+44 20 7946 0000", "999", "(020) 7946-0000", "112"])
def test_phone_numbers_accepted(number: str) -> None:
    assert check_phone_number(number) is None


@pytest.mark.parametrize("number", ["12", "call me", "+1234567890123456", "+44 20 x", ""])
def test_phone_numbers_refused(number: str) -> None:
    assert check_phone_number(number) is not None


def test_emergency_numbers_name_the_bad_one() -> None:
    with pytest.raises(InvalidRecordError, match=r"emergency\.fire"):
        EmergencyNumbers(police="999", fire="fire!")


def test_zone_needs_a_zone_and_description() -> None:
    zone = Zone(device="1234", zone="005", description="Rear door", kind=ZoneKind.DOOR_CONTACT)
    assert zone.kind is ZoneKind.DOOR_CONTACT
    with pytest.raises(InvalidRecordError) as err:
        Zone(device="1234", zone="", description="", area="a" * 201)
    assert [p.partition(":")[0] for p in _problems(err)] == ["zone", "description", "area"]


def test_phone_and_contact_validation() -> None:
    with pytest.raises(InvalidRecordError, match=r"phones\.number"):
        Phone(label="mobile", number="none")
    with pytest.raises(InvalidRecordError, match=r"phones\.label"):
        Phone(label="", number="999")
    with pytest.raises(InvalidRecordError) as err:
        Contact(name="", role=ContactRole.MANAGER, phones=())
    assert [p.partition(":")[0] for p in _problems(err)] == ["name", "phones"]


def test_call_window_validation() -> None:
    with pytest.raises(InvalidRecordError, match="at least one day"):
        CallWindow(days=frozenset(), start=time(8), end=time(18))
    with pytest.raises(InvalidRecordError, match="0 \\(Monday\\) to 6"):
        CallWindow(days=frozenset({7}), start=time(8), end=time(18))


def test_contact_without_windows_is_callable_any_time() -> None:
    assert is_callable(_contact(1), MONDAY_NOON, "UTC")


def test_day_window_in_the_sites_local_time() -> None:
    office = CallWindow(days=WEEKDAYS, start=time(8), end=time(18))
    contact = _contact(1, office)
    # 17:30 UTC is 12:30 in New York: inside; 23:30 UTC is 18:30 there: outside.
    assert is_callable(contact, datetime(2026, 12, 7, 17, 30, tzinfo=UTC), "America/New_York")
    assert not is_callable(contact, datetime(2026, 12, 7, 23, 30, tzinfo=UTC), "America/New_York")
    # Saturday noon: not a listed day.
    assert not is_callable(contact, datetime(2026, 12, 12, 12, 0, tzinfo=UTC), "UTC")


def test_night_window_crosses_midnight() -> None:
    friday_night = CallWindow(days=frozenset({4}), start=time(22), end=time(6))
    contact = _contact(1, friday_night)
    assert is_callable(contact, datetime(2026, 12, 11, 23, 0, tzinfo=UTC), "UTC")  # Fri 23:00
    assert is_callable(contact, datetime(2026, 12, 12, 5, 0, tzinfo=UTC), "UTC")  # Sat 05:00
    assert not is_callable(contact, datetime(2026, 12, 12, 7, 0, tzinfo=UTC), "UTC")  # Sat 07:00
    assert not is_callable(contact, datetime(2026, 12, 11, 21, 0, tzinfo=UTC), "UTC")  # Fri 21:00
    assert not is_callable(contact, datetime(2026, 12, 11, 5, 0, tzinfo=UTC), "UTC")  # Fri 05:00


def test_next_contact_skips_tried_and_uncallable_contacts_in_order() -> None:
    nights_only = CallWindow(days=frozenset(range(7)), start=time(20), end=time(6))
    first, second, third = _contact(1), _contact(2, nights_only), _contact(3)
    contacts = [first, second, third]
    assert next_contact(contacts, [], MONDAY_NOON, "UTC") == first
    tried = [_attempt(1, CallOutcome.NO_ANSWER)]
    assert next_contact(contacts, tried, MONDAY_NOON, "UTC") == third
    tried.append(_attempt(3, CallOutcome.VOICEMAIL))
    assert next_contact(contacts, tried, MONDAY_NOON, "UTC") is None


def test_an_answered_call_ends_the_list() -> None:
    contacts = [_contact(1), _contact(2)]
    attempts = [_attempt(1, CallOutcome.ANSWERED)]
    assert next_contact(contacts, attempts, MONDAY_NOON, "UTC") is None


def test_call_list_is_worked_only_when_someone_answered() -> None:
    assert not call_list_worked([])
    assert not call_list_worked(
        [_attempt(1, CallOutcome.WRONG_PASSPHRASE), _attempt(2, CallOutcome.DECLINED)]
    )
    assert call_list_worked([_attempt(1, CallOutcome.NO_ANSWER), _attempt(2, CallOutcome.ANSWERED)])

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest

from support.factories import T0, make_signal
from watchfloor.core.alarm_types import (
    UNCLASSIFIED_SIGNAL,
    UNREGISTERED_TRANSMITTER,
    CodeSystem,
    SourceCode,
    Taxonomy,
)
from watchfloor.core.alarms import Alarm, AlarmState, TimelineKind
from watchfloor.core.correlation import (
    Effect,
    classify_signal,
    correlate,
    correlation_key,
)
from watchfloor.core.devices import Device, DeviceKind
from watchfloor.core.signals import Origin, SignalSource

DEVICE = Device(
    id=1,
    kind=DeviceKind.DC09,
    name="Shop front panel",
    site="Main Street 1",
    account="1234",
    created_at=T0,
)


def test_first_signal_opens_an_alarm_with_the_device_site(taxonomy: Taxonomy) -> None:
    signal = make_signal()
    classification = classify_signal(taxonomy, signal, DEVICE)
    result = correlate(signal, classification, None, device=DEVICE)
    assert result.effect is Effect.OPENED
    assert result.alarm is not None
    assert (result.alarm.type_code, result.alarm.site, result.alarm.device) == (
        301,
        "Main Street 1",
        "Shop front panel",
    )
    assert result.alarm.state is AlarmState.NEW
    assert result.alarm.origin is Origin.EQUIPMENT
    assert result.alarm.signal_count == 1
    assert result.timeline is not None
    assert result.timeline.kind is TimelineKind.CREATED


def test_repeat_raises_signal_count_of_the_open_alarm(taxonomy: Taxonomy) -> None:
    first = make_signal()
    classification = classify_signal(taxonomy, first, DEVICE)
    opened = correlate(first, classification, None, device=DEVICE).alarm
    assert opened is not None
    later = make_signal(at=T0 + timedelta(seconds=30))
    result = correlate(later, classification, replace(opened, id=7), device=DEVICE)
    assert result.effect is Effect.REPEATED
    assert result.alarm is not None
    assert (result.alarm.id, result.alarm.signal_count, result.alarm.version) == (7, 2, 2)
    assert result.alarm.last_at == later.received_at
    assert result.timeline is not None
    assert result.timeline.kind is TimelineKind.REPEATED


def test_restore_goes_on_the_timeline_of_the_open_alarm(taxonomy: Taxonomy) -> None:
    opened = correlate(
        make_signal(), classify_signal(taxonomy, make_signal(), DEVICE), None, device=DEVICE
    ).alarm
    assert opened is not None
    restore = make_signal("BR", at=T0 + timedelta(minutes=1))
    classification = classify_signal(taxonomy, restore, DEVICE)
    assert classification.restore
    result = correlate(restore, classification, opened, device=DEVICE)
    assert result.effect is Effect.RESTORED
    assert result.alarm is not None
    assert result.alarm.restored_at == restore.received_at
    assert result.alarm.signal_count == 1
    assert result.timeline is not None
    assert result.timeline.kind is TimelineKind.RESTORED


def test_contact_id_qualifier_3_is_a_restore(taxonomy: Taxonomy) -> None:
    signal = make_signal("130", system=CodeSystem.CONTACT_ID, restore=True)
    assert classify_signal(taxonomy, signal, DEVICE).restore


def test_restore_without_open_alarm_is_only_logged(taxonomy: Taxonomy) -> None:
    restore = make_signal("BR")
    result = correlate(restore, classify_signal(taxonomy, restore, DEVICE), None, device=DEVICE)
    assert (result.effect, result.alarm, result.timeline) == (Effect.LOGGED, None, None)


def test_log_only_type_raises_no_alarm(taxonomy: Taxonomy) -> None:
    closing = make_signal("CL")
    result = correlate(closing, classify_signal(taxonomy, closing, DEVICE), None, device=DEVICE)
    assert result.effect is Effect.LOGGED
    assert result.alarm is None


def test_unknown_code_is_an_unclassified_signal_alarm(taxonomy: Taxonomy) -> None:
    signal = make_signal("ZX")
    classification = classify_signal(taxonomy, signal, DEVICE)
    assert classification.alarm_type.code == UNCLASSIFIED_SIGNAL
    assert correlate(signal, classification, None, device=DEVICE).effect is Effect.OPENED


def test_unregistered_dc09_account_folds_into_one_alarm_whatever_the_zone(
    taxonomy: Taxonomy,
) -> None:
    signal = make_signal(zone="007", device="9999")
    classification = classify_signal(taxonomy, signal, None)
    assert classification.alarm_type.code == UNREGISTERED_TRANSMITTER
    key = correlation_key(signal, classification)
    assert key.zone is None
    alarm = correlate(signal, classification, None, device=None).alarm
    assert alarm is not None
    assert (alarm.site, alarm.device, alarm.zone) == (None, "9999", None)


def test_unregistered_camera_is_classified_by_its_code(taxonomy: Taxonomy) -> None:
    signal = make_signal(source=SignalSource.HIKVISION)
    assert classify_signal(taxonomy, signal, None).alarm_type.code == 301


@pytest.mark.parametrize("restore", [False, True])
def test_taxonomy_classify_keeps_the_message_restore_flag(
    taxonomy: Taxonomy, restore: bool
) -> None:
    code = SourceCode(system=CodeSystem.CONTACT_ID, code="130")
    assert taxonomy.classify(code, restore=restore).restore is restore
    unknown = SourceCode(system=CodeSystem.CONTACT_ID, code="999")
    assert taxonomy.classify(unknown, restore=restore).restore is restore


def test_new_alarm_gets_the_type_acknowledgement_deadline(taxonomy: Taxonomy) -> None:
    signal = make_signal()
    classification = classify_signal(taxonomy, signal, DEVICE)
    timed = replace(
        classification,
        alarm_type=replace(classification.alarm_type, ack_within=timedelta(seconds=60)),
    )
    alarm = correlate(signal, timed, None, device=DEVICE).alarm
    assert alarm is not None
    assert alarm.ack_deadline == T0 + timedelta(seconds=60)
    untimed = correlate(signal, classification, None, device=DEVICE).alarm
    assert untimed is not None
    assert untimed.ack_deadline is None


def test_device_on_test_stores_but_raises_nothing_until_the_test_ends(
    taxonomy: Taxonomy,
) -> None:
    on_test = replace(DEVICE, on_test_until=T0 + timedelta(hours=1))
    signal = make_signal()
    classification = classify_signal(taxonomy, signal, on_test)
    result = correlate(signal, classification, None, device=on_test)
    assert (result.effect, result.alarm) == (Effect.ON_TEST, None)
    after = make_signal(at=T0 + timedelta(hours=1))
    assert correlate(after, classification, None, device=on_test).effect is Effect.OPENED


# -- flood control ---------------------------------------------------------------------------


def open_alarm_of(taxonomy: Taxonomy, code: str = "BA", *, zone: str = "001") -> Alarm:
    signal = make_signal(code, zone=zone)
    alarm = correlate(signal, classify_signal(taxonomy, signal, DEVICE), None, device=DEVICE).alarm
    assert alarm is not None
    return replace(alarm, id=7)


def test_a_signal_that_would_open_an_alarm_folds_into_the_flood_alarm(
    taxonomy: Taxonomy,
) -> None:
    flood = open_alarm_of(taxonomy)
    signal = make_signal(zone="009", at=T0 + timedelta(seconds=5))

    result = correlate(
        signal, classify_signal(taxonomy, signal, DEVICE), None, device=DEVICE, flood=flood
    )

    assert result.effect is Effect.FLOODED
    assert result.alarm == replace(
        flood, signal_count=2, last_at=signal.received_at, flooded=True, version=2
    )
    assert result.timeline is not None
    assert (result.timeline.kind, result.timeline.at) == (TimelineKind.FLOOD, signal.received_at)
    assert result.timeline.detail == "flood: Burglary BA zone 009 folded in"


def test_a_folded_signal_without_a_zone_says_so(taxonomy: Taxonomy) -> None:
    signal = make_signal(zone=None)
    result = correlate(
        signal,
        classify_signal(taxonomy, signal, DEVICE),
        None,
        device=DEVICE,
        flood=open_alarm_of(taxonomy),
    )
    assert result.timeline is not None
    assert result.timeline.detail == "flood: Burglary BA zone - folded in"


def test_a_late_folded_signal_keeps_the_flood_alarm_last_time(taxonomy: Taxonomy) -> None:
    flood = replace(open_alarm_of(taxonomy), last_at=T0 + timedelta(minutes=1))
    signal = make_signal(zone="009")
    result = correlate(
        signal, classify_signal(taxonomy, signal, DEVICE), None, device=DEVICE, flood=flood
    )
    assert result.alarm is not None
    assert result.alarm.last_at == flood.last_at


def test_life_safety_is_never_folded_into_a_flood(taxonomy: Taxonomy) -> None:
    fire = make_signal("FA", zone="009")
    classification = classify_signal(taxonomy, fire, DEVICE)
    assert classification.alarm_type.priority == 1

    result = correlate(fire, classification, None, device=DEVICE, flood=open_alarm_of(taxonomy))

    assert result.effect is Effect.OPENED
    assert result.alarm is not None
    assert (result.alarm.id, result.alarm.type_code, result.alarm.flooded) == (0, 110, False)
    assert result.timeline is not None
    assert result.timeline.kind is TimelineKind.CREATED


def test_nothing_is_folded_into_a_life_safety_alarm(taxonomy: Taxonomy) -> None:
    signal = make_signal(zone="009")
    result = correlate(
        signal,
        classify_signal(taxonomy, signal, DEVICE),
        None,
        device=DEVICE,
        flood=open_alarm_of(taxonomy, "FA"),
    )
    assert result.effect is Effect.OPENED
    assert result.alarm is not None
    assert (result.alarm.id, result.alarm.type_code, result.alarm.flooded) == (0, 301, False)


def test_a_repeat_during_a_flood_joins_its_own_alarm(taxonomy: Taxonomy) -> None:
    own = open_alarm_of(taxonomy, zone="005")
    flood = replace(open_alarm_of(taxonomy, zone="009"), id=8)
    signal = make_signal(zone="005", at=T0 + timedelta(seconds=5))

    result = correlate(
        signal, classify_signal(taxonomy, signal, DEVICE), own, device=DEVICE, flood=flood
    )

    assert result.effect is Effect.REPEATED
    assert result.alarm is not None
    assert (result.alarm.id, result.alarm.signal_count, result.alarm.flooded) == (7, 2, False)


@pytest.mark.parametrize("open_under_key", [False, True])
def test_a_restore_during_a_flood_is_unchanged(taxonomy: Taxonomy, open_under_key: bool) -> None:
    own = open_alarm_of(taxonomy, zone="005") if open_under_key else None
    flood = replace(open_alarm_of(taxonomy, zone="009"), id=8)
    restore = make_signal("BR", zone="005")
    classification = classify_signal(taxonomy, restore, DEVICE)

    result = correlate(restore, classification, own, device=DEVICE, flood=flood)

    assert result == correlate(restore, classification, own, device=DEVICE)
    assert result.effect is (Effect.RESTORED if open_under_key else Effect.LOGGED)


def test_log_only_and_on_test_signals_are_not_folded(taxonomy: Taxonomy) -> None:
    flood = open_alarm_of(taxonomy)
    closing = make_signal("CL")
    logged = correlate(
        closing, classify_signal(taxonomy, closing, DEVICE), None, device=DEVICE, flood=flood
    )
    on_test = replace(DEVICE, on_test_until=T0 + timedelta(hours=1))
    signal = make_signal(zone="009")
    tested = correlate(
        signal, classify_signal(taxonomy, signal, on_test), None, device=on_test, flood=flood
    )
    assert (logged.effect, tested.effect) == (Effect.LOGGED, Effect.ON_TEST)

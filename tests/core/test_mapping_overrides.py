"""Per-device mapping overrides: by code, zone and local hours; checked when set."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from watchfloor.core.alarm_types import CodeSystem, SourceCode
from watchfloor.core.correlation import classify_signal
from watchfloor.core.devices import Device, DeviceKind
from watchfloor.core.mapping_overrides import MappingOverrides, overridden_type, parse_overrides
from watchfloor.core.signals import Signal, SignalSource
from watchfloor.taxonomy import load_taxonomy

TAXONOMY = load_taxonomy(None)
DOCUMENT = {
    "timezone": "Europe/Berlin",
    "rules": [
        {"code": "person", "zone": "loading_dock", "from": "18:00", "to": "07:00", "type": 702},
        {"code": "person", "zone": "lobby", "type": 705},
    ],
}
OVERRIDES = parse_overrides(DOCUMENT, known_types=frozenset(TAXONOMY.types))


def _person(zone: str, at: datetime) -> Signal:
    return Signal(
        source=SignalSource.FRIGATE,
        received_at=at,
        device="nvr",
        code=SourceCode(system=CodeSystem.FRIGATE, code="person"),
        zone=zone,
        raw="{}",
    )


def _device(overrides: MappingOverrides | None) -> Device:
    return Device(
        id=1,
        kind=DeviceKind.FRIGATE,
        name="nvr",
        site="Depot",
        created_at=datetime(2026, 1, 1, tzinfo=UTC),
        overrides=overrides,
    )


@pytest.mark.parametrize(
    ("zone", "utc_hour", "expected"),
    [
        ("loading_dock", 21, 702),  # 22:00 in Berlin (winter): after hours
        ("loading_dock", 5, 702),  # 06:00: still before 07:00
        ("loading_dock", 11, 700),  # noon: the taxonomy's own mapping
        ("lobby", 11, 705),  # the lobby at noon: logged only
        ("yard", 21, 700),
    ],
)
def test_person_in_the_loading_dock_after_hours_is_an_intrusion(
    zone: str, utc_hour: int, expected: int
) -> None:
    at = datetime(2026, 1, 15, utc_hour, 0, tzinfo=UTC)
    classification = classify_signal(TAXONOMY, _person(zone, at), _device(OVERRIDES))
    assert classification.alarm_type.code == expected


def test_without_overrides_the_taxonomy_decides() -> None:
    at = datetime(2026, 1, 15, 21, tzinfo=UTC)
    assert (
        classify_signal(TAXONOMY, _person("loading_dock", at), _device(None)).alarm_type.code == 700
    )


def test_a_rule_naming_a_retired_type_is_ignored() -> None:
    stale = parse_overrides({"rules": [{"code": "person", "type": 4}]}, known_types=None)
    at = datetime(2026, 1, 15, 21, tzinfo=UTC)
    assert classify_signal(TAXONOMY, _person("x", at), _device(stale)).alarm_type.code == 700


def test_hours_within_one_day() -> None:
    day = parse_overrides(
        {"rules": [{"code": "vmd", "from": "08:00", "to": "18:00", "type": 705}]}, known_types=None
    )
    assert (
        overridden_type(day, code="vmd", zone=None, at=datetime(2026, 1, 1, 9, tzinfo=UTC)) == 705
    )
    assert (
        overridden_type(day, code="vmd", zone=None, at=datetime(2026, 1, 1, 19, tzinfo=UTC)) is None
    )


def test_documents_round_trip() -> None:
    assert parse_overrides(OVERRIDES.as_document(), known_types=None) == OVERRIDES


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ([], "must be an object"),
        ({"rules": "x"}, "rules must be a list"),
        ({"colour": 1}, "unknown key 'colour'"),
        ({"timezone": "Mars/Olympus"}, "timezone"),
        ({"rules": [1]}, r"rules\[0\]: must be an object"),
        ({"rules": [{"code": "", "type": 702}]}, "code must be"),
        ({"rules": [{"code": "a", "zone": 3, "type": 702}]}, "zone must be"),
        ({"rules": [{"code": "a", "type": 12345}]}, "not an alarm type"),
        ({"rules": [{"code": "a", "type": True}]}, "not an alarm type"),
        ({"rules": [{"code": "a", "from": "18:00", "type": 702}]}, "from and to"),
        ({"rules": [{"code": "a", "from": "x", "to": "y", "type": 702}]}, "from and to"),
        ({"rules": [{"code": "a", "type": 702, "who": "Bob"}]}, "unknown key 'who'"),
    ],
)
def test_bad_overrides_name_the_problem(document: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_overrides(document, known_types=frozenset(TAXONOMY.types))

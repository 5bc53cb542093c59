"""CAP 1.2 alerts and their Atom index, validated against the OASIS schema."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from xml.etree import ElementTree as ET

import pytest
import xmlschema
from hypothesis import given
from hypothesis import strategies as st

from watchfloor.codecs.cap import (
    CapAlert,
    CapCategory,
    CapCertainty,
    CapInfo,
    CapMsgType,
    CapSeverity,
    CapUrgency,
    FeedEntry,
    encode_alert,
    encode_atom_index,
    format_cap_time,
)

SCHEMA = xmlschema.XMLSchema(Path(__file__).parents[1] / "data" / "cap" / "CAP-v1.2.xsd")
T0 = datetime(2026, 1, 15, 3, 0, 12, 345678, tzinfo=UTC)


def _alert(**changes: object) -> CapAlert:
    values: dict[str, object] = {
        "identifier": "watchfloor-alarm-1-1",
        "sender": "arc.example.org",
        "sent": T0,
        "msg_type": CapMsgType.ALERT,
        "info": CapInfo(
            category=CapCategory.FIRE,
            event="Fire",
            urgency=CapUrgency.IMMEDIATE,
            severity=CapSeverity.EXTREME,
            certainty=CapCertainty.LIKELY,
            area_desc="Depot North",
            headline="Fire at Depot North",
            sender_name="Control room",
        ),
    }
    values.update(changes)
    return CapAlert(**values)  # type: ignore[arg-type]


def test_an_alert_is_valid_cap_1_2() -> None:
    SCHEMA.validate(encode_alert(_alert()).decode())


def test_an_update_with_references_is_valid_cap_1_2() -> None:
    update = _alert(
        identifier="watchfloor-alarm-1-2",
        msg_type=CapMsgType.UPDATE,
        references=(("arc.example.org", "watchfloor-alarm-1-1", T0),),
    )
    SCHEMA.validate(encode_alert(update).decode())


def test_the_schema_refuses_what_cap_forbids() -> None:
    # The check must be able to fail: a document without its mandatory scope is invalid.
    document = encode_alert(_alert()).replace(b"<scope>Restricted</scope>", b"")
    assert not SCHEMA.is_valid(document.decode())


@given(
    event=st.text(max_size=40),
    area=st.text(max_size=40),
    category=st.sampled_from(CapCategory),
    urgency=st.sampled_from(CapUrgency),
    severity=st.sampled_from(CapSeverity),
    certainty=st.sampled_from(CapCertainty),
)
def test_any_text_in_the_info_stays_valid(
    event: str,
    area: str,
    category: CapCategory,
    urgency: CapUrgency,
    severity: CapSeverity,
    certainty: CapCertainty,
) -> None:
    info = CapInfo(
        category=category,
        event=event,
        urgency=urgency,
        severity=severity,
        certainty=certainty,
        area_desc=area,
    )
    SCHEMA.validate(encode_alert(_alert(info=info)).decode())


def test_times_have_seconds_and_an_explicit_offset() -> None:
    assert format_cap_time(T0) == "2026-01-15T03:00:12+00:00"
    plus_two = timezone(timedelta(hours=2))
    assert format_cap_time(T0.astimezone(plus_two)) == "2026-01-15T05:00:12+02:00"


def test_naive_times_are_refused() -> None:
    with pytest.raises(ValueError, match="time zone"):
        format_cap_time(datetime(2026, 1, 1))  # noqa: DTZ001 - the case under test


@pytest.mark.parametrize("bad", ["a b", "a,b", "a<b", "a&b", ""])
def test_identifiers_with_forbidden_characters_are_refused(bad: str) -> None:
    with pytest.raises(ValueError, match="identifier"):
        encode_alert(_alert(identifier=bad))


def test_the_atom_index_links_each_alert() -> None:
    document = encode_atom_index(
        feed_id="arc:alerts",
        title="arc alerts",
        updated=T0,
        entries=[FeedEntry(id="a-1", title="Fire", updated=T0, link="http://x/1.xml")],
    )
    root = ET.fromstring(document)  # noqa: S314 - our own output
    atom = "{http://www.w3.org/2005/Atom}"
    links = [e.get("href") for e in root.iter(f"{atom}link")]
    assert links == ["http://x/1.xml"]
    assert root.findtext(f"{atom}id") == "arc:alerts"

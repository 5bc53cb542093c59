"""The Frigate codec: corpus payloads decode, identity fields cannot survive, garbage is refused."""

from __future__ import annotations

import contextlib
import json
from dataclasses import fields
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from watchfloor.codecs.errors import DecodeError, FormatError
from watchfloor.codecs.frigate import (
    Availability,
    FrigateEvent,
    FrigateReview,
    MessageKind,
    decode_availability,
    decode_event,
    decode_review,
)

CORPUS = json.loads(
    (Path(__file__).parents[1] / "data" / "frigate" / "events_and_reviews.json").read_text()
)
EXAMPLES = [(e["topic"], json.dumps(e["payload"]).encode()) for e in CORPUS["examples"]]
#: What the corpus's identity fields hold: recognised names and a licence plate.
IDENTITIES = ("John Smith", "Bob", "ABC12345")
IDENTITY_FIELDS = (
    "sub_label",
    "sub_labels",
    "attributes",
    "current_attributes",
    "recognized_license_plate",
    "verified_objects",
)


def test_the_corpus_carries_identities_to_drop() -> None:
    text = json.dumps(CORPUS["examples"])
    assert all(identity in text for identity in IDENTITIES)


@pytest.mark.parametrize(("topic", "payload"), EXAMPLES)
def test_corpus_payloads_decode_without_identity(topic: str, payload: bytes) -> None:
    decoded = decode_event(payload) if topic.endswith("events") else decode_review(payload)
    kept = json.dumps(decoded.as_document())
    assert not any(identity in kept for identity in IDENTITIES)
    assert not any(name in kept for name in IDENTITY_FIELDS)
    assert not any(name in IDENTITY_FIELDS for name in (f.name for f in fields(decoded)))


def test_event_update_names_the_zones_entered() -> None:
    event = decode_event(EXAMPLES[0][1])
    assert (event.kind, event.label, event.camera) == (MessageKind.UPDATE, "person", "front_door")
    assert event.zones == ("yard", "driveway")
    assert event.new_zones == ()
    new = decode_event(EXAMPLES[1][1])
    assert (new.kind, new.new_zones, new.has_snapshot) == (MessageKind.NEW, ("mailbox",), True)


def test_review_escalation_is_visible() -> None:
    review = decode_review(EXAMPLES[3][1])
    assert (review.previous_severity, review.severity) == ("detection", "alert")
    assert (review.objects, review.zones) == (("person",), ("front_yard",))


def test_the_dataclasses_have_no_identity_fields() -> None:
    for cls in (FrigateEvent, FrigateReview):
        assert not {f.name for f in fields(cls)} & set(IDENTITY_FIELDS)


@pytest.mark.parametrize(
    "payload",
    [
        b"",
        b"\xff\xfe",
        b"[]",
        b'{"type": "start", "after": {}}',
        b'{"type": "new", "after": []}',
        b'{"type": "new", "after": {"id": "1", "camera": "c"}}',
        b"[" * 100_000,
    ],
)
def test_garbage_events_are_format_errors(payload: bytes) -> None:
    with pytest.raises(FormatError):
        decode_event(payload)


def test_availability() -> None:
    assert decode_availability(b"offline\n") is Availability.OFFLINE
    with pytest.raises(FormatError):
        decode_availability(b"maybe")
    with pytest.raises(FormatError):
        decode_availability(b"\xff")


@given(st.binary(max_size=500))
def test_arbitrary_bytes_decode_or_raise_decode_error(data: bytes) -> None:
    for decode in (decode_event, decode_review, decode_availability):
        with contextlib.suppress(DecodeError):
            decode(data)


@given(
    st.recursive(
        st.none() | st.booleans() | st.floats(allow_nan=False) | st.text(max_size=5),
        lambda children: st.lists(children, max_size=3)
        | st.dictionaries(
            st.sampled_from(["type", "after", "before", "id", "camera", "label", "data"]),
            children,
            max_size=5,
        ),
        max_leaves=20,
    )
)
def test_arbitrary_json_decodes_or_raises_decode_error(document: object) -> None:
    payload = json.dumps(document).encode()
    for decode in (decode_event, decode_review):
        with contextlib.suppress(DecodeError):
            decode(payload)


def test_zones_that_are_not_lists_are_no_zones() -> None:
    event = decode_event(
        b'{"type": "new", "after": {"id": "1", "camera": "c", "label": "car",'
        b' "current_zones": "yard", "entered_zones": null}}'
    )
    assert (event.zones, event.new_zones) == ((), ())

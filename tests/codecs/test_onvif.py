"""ONVIF notification messages: decoding recorded replies, topic kinds and state decisions."""

from __future__ import annotations

import contextlib
from datetime import UTC, datetime
from pathlib import Path
from xml.sax.saxutils import quoteattr

import pytest
from hypothesis import given
from hypothesis import strategies as st

from watchfloor.codecs.errors import DecodeError, FormatError
from watchfloor.codecs.onvif import (
    TOPIC_KINDS,
    Action,
    OnvifEvent,
    PropertyOperation,
    TopicKind,
    decide,
    decode_notification,
    decode_pull_messages,
    strip_topic,
    topic_kind,
)

DATA = Path(__file__).parent.parent / "data" / "onvif"
NAMESPACES = (
    'xmlns:wsnt="http://docs.oasis-open.org/wsn/b-2" xmlns:tt="http://www.onvif.org/ver10/schema" '
    'xmlns:tns1="http://www.onvif.org/ver10/topics"'
)


def _notification(
    topic: str = "tns1:RuleEngine/CellMotionDetector/Motion",
    *,
    utc: str = "2024-01-01T00:00:00Z",
    operation: str | None = "Changed",
    source: tuple[tuple[str, str], ...] = (("Rule", "MyMotionDetectorRule"),),
    data: tuple[tuple[str, str], ...] = (("IsMotion", "true"),),
) -> str:
    def items(pairs: tuple[tuple[str, str], ...]) -> str:
        return "".join(
            f"<tt:SimpleItem Name={quoteattr(n)} Value={quoteattr(v)}/>" for n, v in pairs
        )

    op = "" if operation is None else f" PropertyOperation={quoteattr(operation)}"
    return (
        f"<wsnt:NotificationMessage {NAMESPACES}><wsnt:Topic>{topic}</wsnt:Topic><wsnt:Message>"
        f"<tt:Message UtcTime={quoteattr(utc)}{op}><tt:Source>{items(source)}</tt:Source>"
        f"<tt:Data>{items(data)}</tt:Data></tt:Message></wsnt:Message></wsnt:NotificationMessage>"
    )


def _replay(name: str) -> list[tuple[str, str | None, Action]]:
    """Decode a recorded reply and decide each message, keeping state as a receiver does."""
    states: dict[object, bool | None] = {}
    out = []
    for event in decode_pull_messages((DATA / name).read_bytes()).events:
        decision = decide(event, states.get(event.state_key))
        states[event.state_key] = decision.state
        out.append((event.topic, event.zone, decision.action))
    return out


RAISE, RESTORE, IGNORE = Action.RAISE, Action.RESTORE, Action.IGNORE


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("cell_motion_hikvision.xml", [
            ("RuleEngine/CellMotionDetector/Motion", "MyMotionDetectorRule", IGNORE),
            ("RuleEngine/CellMotionDetector/Motion", "MyMotionDetectorRule", RAISE),
            ("RuleEngine/CellMotionDetector/Motion", "MyMotionDetectorRule", IGNORE),
            ("RuleEngine/CellMotionDetector/Motion", "MyMotionDetectorRule", RESTORE),
        ]),
        ("line_crossed_core_spec.xml", [
            ("RuleEngine/LineDetector/Crossed", "MyImportantFence1", RAISE),
            ("RuleEngine/LineDetector/Crossed", "MyImportantFence2", RAISE),
        ]),
        ("field_detector_hikvision.xml", [
            ("RuleEngine/FieldDetector/ObjectsInside", "MyFieldDetector1", IGNORE),
            ("RuleEngine/FieldDetector/ObjectsInside", "MyFieldDetector1", RAISE),
            ("RuleEngine/FieldDetector/ObjectsInside", "MyFieldDetector1", IGNORE),
            ("RuleEngine/FieldDetector/ObjectsInside", "MyFieldDetector1", RAISE),
        ]),
        ("digital_input_hikvision.xml", [
            ("Device/Trigger/DigitalInput", "AlarmIn_1", IGNORE),
            ("Device/Trigger/DigitalInput", "AlarmIn_1", RAISE),
            ("Device/Trigger/DigitalInput", "AlarmIn_1", RESTORE),
        ]),
        ("tamper_hikvision.xml", [
            ("RuleEngine/TamperDetector/Tamper", "MyTamperDetectorRule", RAISE),
            ("RuleEngine/TamperDetector/Tamper", "MyTamperDetectorRule", RESTORE),
        ]),
        ("motion_alarm_dahua.xml", [
            ("VideoSource/MotionAlarm", "VideoSource_1", IGNORE),
            ("VideoSource/MotionAlarm", "VideoSource_1", RAISE),
        ]),
        ("image_quality_axis.xml", [
            ("VideoSource/ImageTooBlurry/ImagingService", "VideoSource_1", RAISE),
            ("VideoSource/ImageTooDark/ImagingService", "VideoSource_1", RAISE),
            ("VideoSource/ImageTooBright/ImagingService", "VideoSource_1", IGNORE),
            ("VideoSource/GlobalSceneChange/ImagingService", "VideoSource_1", RAISE),
            ("VideoSource/ImageTooBlurry/ImagingService", "VideoSource_1", RESTORE),
        ]),
        ("empty.xml", []),
    ],
)  # fmt: skip
def test_recorded_replies_decode_to_the_expected_actions(
    name: str, expected: list[tuple[str, str | None, Action]]
) -> None:
    assert _replay(name) == expected


def test_reply_keeps_times_and_each_message_as_received() -> None:
    data = (DATA / "line_crossed_core_spec.xml").read_bytes()
    reply = decode_pull_messages(data)
    assert reply.current_time == datetime(2008, 10, 10, 12, 24, 58, tzinfo=UTC)
    assert reply.termination_time == datetime(2008, 10, 10, 12, 25, 58, tzinfo=UTC)
    first = reply.events[0]
    assert first.raw.encode() in data
    assert first.raw.startswith("<wsnt:NotificationMessage>")
    assert first.raw.endswith("</wsnt:NotificationMessage>")
    assert first.utc_time == datetime(2008, 10, 10, 12, 24, 57, 321000, tzinfo=UTC)
    assert first.operation is None
    assert first.data == (("ObjectId", "15"),)
    assert first.active is None
    assert dict(first.source)["VideoSourceConfigurationToken"] == "1"


def test_malformed_messages_are_rejected_one_by_one() -> None:
    reply = decode_pull_messages((DATA / "malformed_messages.xml").read_bytes())
    assert [event.topic for event in reply.events] == ["RuleEngine/LineDetector/Crossed"]
    assert [str(error) for error in reply.rejected] == [
        "state item IsMotion is not a boolean: 'maybe'",
        "tt:Message without its UtcTime",
    ]


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"<a>",
        b"not xml",
        b'<?xml version="1.0"?><!DOCTYPE a [<!ENTITY b "c">]><a>&b;</a>',
        (DATA / "soap" / "fault_unknown_subscription.xml").read_bytes(),
        (DATA / "soap" / "unsubscribe.xml").read_bytes(),
        b'<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope"/>',
        b"x" * (4 * 1024 * 1024 + 1),
    ],
    ids=["empty", "unclosed", "text", "dtd", "fault", "other-reply", "no-body", "huge"],
)
def test_decode_pull_messages_rejects_what_is_not_a_reply(data: bytes) -> None:
    with pytest.raises(FormatError):
        decode_pull_messages(data)


@pytest.mark.parametrize(
    ("topic", "stripped"),
    [
        ("tns1:RuleEngine/LineDetector/Crossed", "RuleEngine/LineDetector/Crossed"),
        (" tns1:Device/tnsaxis:Sensor/PIR\n", "Device/Sensor/PIR"),
        ("VideoSource/MotionAlarm", "VideoSource/MotionAlarm"),
    ],
)
def test_strip_topic_removes_namespace_prefixes(topic: str, stripped: str) -> None:
    assert strip_topic(topic) == stripped


@pytest.mark.parametrize("topic", ["", "tns1:", "a//b", "tns1:A|tns1:B", "a:b:c"])
def test_strip_topic_rejects_what_is_not_one_topic(topic: str) -> None:
    with pytest.raises(FormatError):
        strip_topic(topic)


@pytest.mark.parametrize(
    ("utc", "expected"),
    [
        ("2024-01-01T10:00:00Z", datetime(2024, 1, 1, 10, tzinfo=UTC)),
        ("2024-01-01T10:00:00", datetime(2024, 1, 1, 10, tzinfo=UTC)),
        ("2024-01-01T11:00:00+01:00", datetime(2024, 1, 1, 10, tzinfo=UTC)),
        ("2024-01-01T10:00:00.123456789Z", datetime(2024, 1, 1, 10, 0, 0, 123456, tzinfo=UTC)),
    ],
)
def test_utc_time_forms_cameras_send(utc: str, expected: datetime) -> None:
    assert decode_notification(_notification(utc=utc)).utc_time == expected


@pytest.mark.parametrize(
    "text",
    [
        _notification(utc="yesterday"),
        _notification(operation="Maybe"),
        _notification(data=(("IsMotion", "perhaps"),)),
        _notification().replace(' UtcTime="2024-01-01T00:00:00Z"', ""),
        _notification().replace("<wsnt:Topic>tns1:RuleEngine/CellMotionDetector/Motion</wsnt:Topic>", ""),
        _notification().replace('Name="Rule" ', ""),
        f"<wsnt:Message {NAMESPACES}/>",
        f"<wsnt:NotificationMessage {NAMESPACES}><wsnt:Topic>a</wsnt:Topic></wsnt:NotificationMessage>",
    ],
    ids=["time", "operation", "state", "no-time", "no-topic", "no-name", "other-root", "no-message"],
)  # fmt: skip
def test_decode_notification_rejects_malformed_messages(text: str) -> None:
    with pytest.raises(FormatError):
        decode_notification(text)


def test_boolean_forms_and_zone_preference() -> None:
    event = decode_notification(
        _notification(
            "tns1:Device/Trigger/DigitalInput",
            source=(("InputToken", "DI_2"), ("VideoSourceToken", "VS1")),
            data=(("LogicalState", " 1 "),),
        )
    )
    assert event.active is True
    assert event.zone == "DI_2"
    assert decode_notification(_notification(source=())).zone is None


def _event(
    topic: str,
    active: bool | None,
    operation: PropertyOperation | None = PropertyOperation.CHANGED,
) -> OnvifEvent:
    return OnvifEvent(
        topic=topic,
        utc_time=datetime(2024, 1, 1, tzinfo=UTC),
        operation=operation,
        source=(),
        data=(),
        active=active,
        raw="",
    )


MOTION = "RuleEngine/CellMotionDetector/Motion"
CROSSED = "RuleEngine/LineDetector/Crossed"
INIT, CHANGED, DELETED = (
    PropertyOperation.INITIALIZED,
    PropertyOperation.CHANGED,
    PropertyOperation.DELETED,
)


@pytest.mark.parametrize(
    ("topic", "active", "operation", "previous", "action", "state"),
    [
        (MOTION, True, CHANGED, None, RAISE, True),
        (MOTION, True, INIT, None, RAISE, True),
        (MOTION, True, CHANGED, True, IGNORE, True),
        (MOTION, True, INIT, True, IGNORE, True),  # a new subscription after a reconnect
        (MOTION, False, CHANGED, True, RESTORE, False),
        (MOTION, False, INIT, True, RESTORE, False),
        (MOTION, False, INIT, None, IGNORE, False),
        (MOTION, False, CHANGED, None, RESTORE, False),
        (MOTION, False, CHANGED, False, IGNORE, False),
        (MOTION, None, CHANGED, True, IGNORE, True),
        (MOTION, None, DELETED, True, RESTORE, None),
        (MOTION, None, DELETED, None, IGNORE, None),
        (CROSSED, None, None, None, RAISE, None),
        (CROSSED, None, CHANGED, None, RAISE, None),
        (CROSSED, None, INIT, None, IGNORE, None),
        (CROSSED, False, CHANGED, None, IGNORE, None),
        (CROSSED, None, DELETED, None, IGNORE, None),
        ("Monitoring/ProcessorUsage", None, CHANGED, None, IGNORE, None),
        ("Vendor/Unknown/Alarm", True, CHANGED, None, RAISE, True),
    ],
)
def test_decide_follows_the_topic_kind(
    topic: str,
    active: bool | None,
    operation: PropertyOperation | None,
    previous: bool | None,
    action: Action,
    state: bool | None,
) -> None:
    decision = decide(_event(topic, active, operation), previous)
    assert (decision.action, decision.state) == (action, state)


def test_the_topic_table_has_the_common_topics() -> None:
    assert TOPIC_KINDS[CROSSED] is TopicKind.EDGE
    assert TOPIC_KINDS["RuleEngine/FieldDetector/ObjectsInside"] is TopicKind.EDGE
    for topic in (
        MOTION,
        "VideoSource/MotionAlarm",
        "RuleEngine/TamperDetector/Tamper",
        "Device/Trigger/DigitalInput",
        "VideoSource/ImageTooBlurry/ImagingService",
        "VideoSource/ImageTooDark/ImagingService",
        "VideoSource/ImageTooBright/ImagingService",
        "VideoSource/GlobalSceneChange/ImagingService",
        "VideoSource/SignalLoss",
    ):
        assert topic_kind(_event(topic, None)) is TopicKind.STATE


@given(st.binary(max_size=2000))
def test_arbitrary_bytes_decode_or_raise_only_decode_errors(data: bytes) -> None:
    with contextlib.suppress(DecodeError):
        decode_pull_messages(data)
    with contextlib.suppress(DecodeError):
        decode_notification(data)


_TEMPLATE = (DATA / "tamper_hikvision.xml").read_bytes()


@given(st.integers(0, len(_TEMPLATE) - 1), st.integers(0, 255))
def test_a_corrupted_recorded_reply_decodes_or_raises_only_decode_errors(
    position: int, byte: int
) -> None:
    data = _TEMPLATE[:position] + bytes([byte]) + _TEMPLATE[position + 1 :]
    try:
        reply = decode_pull_messages(data)
    except DecodeError:
        return
    for event in reply.events:
        assert event.raw.encode("utf-8", "replace") in data or "\ufffd" in event.raw


_names = st.text(st.characters(categories=("L", "N")), min_size=1, max_size=12)
_values = st.text(
    st.characters(categories=("L", "N", "P", "Zs"), exclude_characters="\r\t"),
    max_size=20,
)


@given(
    topic=st.lists(_names, min_size=1, max_size=4),
    operation=st.sampled_from([None, "Initialized", "Changed", "Deleted"]),
    source=st.lists(st.tuples(_names, _values), max_size=4),
    data=st.lists(st.tuples(_names.filter(lambda n: not n.startswith("Is")), _values), max_size=4),
    state=st.sampled_from(["true", "false", "1", "0"]),
)
def test_notification_round_trip(
    topic: list[str],
    operation: str | None,
    source: list[tuple[str, str]],
    data: list[tuple[str, str]],
    state: str,
) -> None:
    text = _notification(
        "tns1:" + "/".join(topic),
        operation=operation,
        source=tuple(source),
        data=(("IsMotion", state), *data),
    )
    event = decode_notification(text)
    assert event.topic == "/".join(topic)
    assert event.operation == (None if operation is None else PropertyOperation(operation))
    assert event.source == tuple(source)
    assert event.data == (("IsMotion", state), *data)
    assert event.active is (state in ("true", "1"))
    assert event.raw == text


@given(
    topic=st.sampled_from(sorted(TOPIC_KINDS)),
    sequence=st.lists(
        st.tuples(st.sampled_from([True, False, None]), st.sampled_from(list(PropertyOperation))),
        max_size=12,
    ),
)
def test_state_topics_alternate_and_edge_topics_never_restore(
    topic: str, sequence: list[tuple[bool | None, PropertyOperation]]
) -> None:
    previous: bool | None = None
    raised = False
    for active, operation in sequence:
        decision = decide(_event(topic, active, operation), previous)
        if TOPIC_KINDS[topic] is TopicKind.EDGE:
            assert decision.action is not Action.RESTORE
            assert decision.state is previous
        elif decision.action is Action.RAISE:
            assert not raised  # never two raises without a restore between them
            raised = True
        elif decision.action is Action.RESTORE:
            raised = False
        previous = decision.state


def test_missing_or_unreadable_reply_times_are_none() -> None:
    data = (DATA / "empty.xml").read_bytes()
    data = data.replace(b"<tet:CurrentTime>2024-09-09T02:11:40Z</tet:CurrentTime>", b"")
    data = data.replace(b"2024-09-09T02:12:40Z", b"soon")
    reply = decode_pull_messages(data)
    assert (reply.current_time, reply.termination_time, reply.events) == (None, None, ())

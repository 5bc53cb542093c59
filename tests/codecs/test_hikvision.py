"""The ISAPI codec against the corpus, bad input, and arbitrary bytes."""

from __future__ import annotations

import contextlib
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from watchfloor.codecs._multipart import MultipartSplitter, boundary_of
from watchfloor.codecs.errors import DecodeError, FormatError, UnsupportedMessageError
from watchfloor.codecs.hikvision import (
    AlertStreamSplitter,
    EventState,
    HikvisionPush,
    Picture,
    decode_alert,
    decode_push,
)

DATA = Path(__file__).parents[1] / "data" / "hikvision"
JPEG = b"\xff\xd8\xff\xe0fake-jpeg-bytes\xff\xd9"
FORM = "multipart/form-data; boundary=boundary"


def corpus_multipart(name: str, *, directory: Path = DATA) -> bytes:
    """A corpus multipart body, with its ``<binary JPEG>`` placeholders made bytes."""
    return (directory / name).read_bytes().replace(b"<binary JPEG>", JPEG)


@pytest.mark.parametrize(
    ("name", "event_type", "channel", "state"),
    [
        ("cam1_DS-2CD2T46G2-ISU_io_notification.xml", "io", "1", EventState.ACTIVE),
        ("fielddetection_human.xml", "fielddetection", "1", EventState.ACTIVE),
        ("fielddetection_vehicle.xml", "fielddetection", "1", EventState.ACTIVE),
        # A "duration" event decodes as the event it continues.
        ("ipc_1_fielddetection.xml", "fielddetection", "1", EventState.ACTIVE),
        # No namespace; dynChannelID and channelID both present.
        ("ipc_thermometry_motiondetection.xml", "vmd", "2", EventState.ACTIVE),
        # urn:psialliance-org, PSIA extensions.
        ("nvr_2_fielddetection.xml", "fielddetection", "34", EventState.ACTIVE),
        ("pir.xml", "pir", "1", EventState.ACTIVE),
    ],
)
def test_decode_alert_reads_every_namespace(
    name: str, event_type: str, channel: str, state: EventState
) -> None:
    alert = decode_alert((DATA / f"hikvision_next__EventNotificationAlert__{name}").read_bytes())
    assert (alert.event_type, alert.channel, alert.state) == (event_type, channel, state)
    assert alert.at is not None


def test_decode_alert_takes_protocol_type_and_target() -> None:
    pir = decode_alert((DATA / "hikvision_next__EventNotificationAlert__pir.xml").read_bytes())
    assert pir.protocol == "HTTP"
    human = decode_alert(
        (DATA / "hikvision_next__EventNotificationAlert__fielddetection_human.xml").read_bytes()
    )
    assert (human.targets, human.regions) == (("human",), ("3",))


def test_heartbeat_with_empty_channels_from_an_isapi_org_nvr() -> None:
    stream = AlertStreamSplitter(FORM)
    (push,) = stream.feed((DATA / "completed/alertStream_nvr_videoloss_ha82767.txt").read_bytes())
    assert isinstance(push, HikvisionPush)
    assert push.alert.channel is None
    assert push.alert.protocol == "HTTP"
    assert push.alert.is_heartbeat


@pytest.mark.parametrize(
    ("name", "event_type", "pictures"),
    [
        ("push_multipart_linedetection_vehicle.txt", "linedetection", 1),
        ("push_multipart_fireDetection_thermal.txt", "firedetection", 2),
    ],
)
def test_decode_push_multipart_with_pictures(name: str, event_type: str, pictures: int) -> None:
    push = decode_push(FORM, corpus_multipart(name))
    assert push.alert.event_type == event_type
    assert [p.data for p in push.pictures] == [JPEG] * pictures
    assert push.xml.startswith(b"<EventNotificationAlert")


def test_decode_push_accepts_crlf_line_ends() -> None:
    body = corpus_multipart("push_multipart_linedetection_vehicle.txt").replace(b"\n", b"\r\n")
    push = decode_push(FORM, body)
    assert push.alert.event_type == "linedetection"
    assert push.pictures[0].data == JPEG.replace(b"\n", b"\r\n")


def test_truncated_multipart_is_refused() -> None:
    with pytest.raises(FormatError, match="truncated"):
        decode_push(FORM, corpus_multipart("push_multipart_fielddetection_iobroker_issue7.txt"))


def test_picture_urls_are_kept_as_links() -> None:
    stream = AlertStreamSplitter("multipart/mixed; boundary=boundary")
    text = (DATA / "completed/alertStream_fielddetection_url_pictures_nodered105.txt").read_bytes()
    (push,) = stream.feed(text + b"--boundary\r\n")
    assert isinstance(push, HikvisionPush)
    assert push.alert.picture_urls == ("http://192.168.0.45:80/picture",)
    assert push.alert.channel == "6"


@pytest.mark.parametrize(
    ("content_type", "error"),
    [
        ("application/json", UnsupportedMessageError),
        ("text/plain", UnsupportedMessageError),
        ("", UnsupportedMessageError),
        ("multipart/form-data", FormatError),
    ],
)
def test_wrong_content_types_are_refused(content_type: str, error: type[DecodeError]) -> None:
    with pytest.raises(error):
        decode_push(content_type, b"<EventNotificationAlert/>")


def test_entity_expansion_is_refused() -> None:
    bomb = (
        b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
        b'<!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">]>'
        b"<EventNotificationAlert><eventType>&lol2;</eventType></EventNotificationAlert>"
    )
    with pytest.raises(FormatError):
        decode_alert(bomb)


@pytest.mark.parametrize(
    "xml",
    [
        b"",
        b"<EventNotificationAlert>",
        b"<Other><eventType>vmd</eventType></Other>",
        b"<EventNotificationAlert><eventType> </eventType></EventNotificationAlert>",
        b'<?xml version="1.0" encoding="no-such-encoding"?><EventNotificationAlert/>',
    ],
)
def test_malformed_alerts_are_format_errors(xml: bytes) -> None:
    with pytest.raises(FormatError):
        decode_alert(xml)


def test_multipart_without_an_xml_part_is_refused() -> None:
    body = b"--boundary\r\nContent-Type: image/jpeg\r\n\r\n" + JPEG + b"\r\n--boundary--\r\n"
    with pytest.raises(FormatError, match="XML part"):
        decode_push(FORM, body)


def test_alert_stream_boundary_comes_from_the_header() -> None:
    body = (DATA / "completed/alertStream_http_headers_toxuin15.txt").read_bytes()
    (push,) = AlertStreamSplitter("multipart/mixed; boundary=hikboundary").feed(body)
    assert isinstance(push, HikvisionPush)
    assert push.alert.is_heartbeat
    # The same bytes under another boundary hold nothing.
    assert AlertStreamSplitter("multipart/mixed; boundary=boundary").feed(body) == []


def test_alert_stream_tolerates_a_boundary_declared_with_its_dashes() -> None:
    body = (DATA / "completed/alertStream_nvr_videoloss_ha82767.txt").read_bytes()
    (push,) = AlertStreamSplitter('multipart/mixed; boundary="--boundary"').feed(body)
    assert isinstance(push, HikvisionPush)


def test_alert_stream_emits_a_part_on_its_length_without_waiting_for_the_next() -> None:
    body = (DATA / "completed/alertStream_heartbeat_and_fielddetection_pyhik62.txt").read_bytes()
    stream = AlertStreamSplitter("multipart/mixed; boundary=boundary")
    found = [item for byte in range(len(body)) for item in stream.feed(body[byte : byte + 1])]
    assert [p.alert.event_type for p in found if isinstance(p, HikvisionPush)] == [
        "videoloss",
        "fielddetection",
    ]


def test_alert_stream_reports_a_bad_part_and_goes_on() -> None:
    stream = AlertStreamSplitter("multipart/mixed; boundary=b")
    found = stream.feed(
        b"--b\r\nContent-Type: application/xml\r\n\r\n<broken\r\n"
        b"--b\r\nContent-Type: image/jpeg\r\n\r\n" + JPEG + b"\r\n"
        b"--b\r\nContent-Type: application/xml\r\n\r\n"
        b"<EventNotificationAlert><eventType>VMD</eventType></EventNotificationAlert>\r\n--b\r\n"
    )
    assert isinstance(found[0], FormatError)
    assert found[1] == Picture(content_type="image/jpeg", data=JPEG)
    assert isinstance(found[2], HikvisionPush)
    assert found[2].alert.event_type == "vmd"


def test_alert_stream_refuses_a_part_that_never_ends() -> None:
    stream = AlertStreamSplitter("multipart/mixed; boundary=b", max_part=1000)
    stream.feed(b"--b\r\nContent-Type: application/xml\r\n\r\n")
    with pytest.raises(DecodeError):
        stream.feed(b"x" * 2000)


def test_alert_stream_must_be_multipart() -> None:
    with pytest.raises(UnsupportedMessageError):
        AlertStreamSplitter("application/xml")


def test_boundary_of_reads_quoted_values() -> None:
    assert boundary_of('multipart/mixed; boundary="a b"') == "a b"


def test_splitter_ignores_a_longer_boundary_and_stops_after_the_close() -> None:
    splitter = MultipartSplitter("b")
    parts = splitter.feed(b"--bb\r\n--b\r\nX: 1\r\n\r\none\r\n--b--\r\n--b\r\n\r\nlate\r\n")
    assert [p.body for p in parts] == [b"one"]
    assert splitter.closed
    assert splitter.feed(b"--b\r\n\r\nmore\r\n--b\r\n") == []
    assert parts[0].header("x") == "1"


@given(st.binary(max_size=2000))
def test_arbitrary_bytes_decode_or_raise_decode_error(data: bytes) -> None:
    for decode in (decode_alert, lambda body: decode_push(FORM, body)):
        with contextlib.suppress(DecodeError):
            decode(data)


@given(st.binary(max_size=2000), st.integers(min_value=1, max_value=64))
def test_alert_stream_takes_arbitrary_bytes_in_any_chunks(data: bytes, size: int) -> None:
    stream = AlertStreamSplitter("multipart/mixed; boundary=boundary", max_part=4096)
    for start in range(0, len(data), size):
        try:
            stream.feed(data[start : start + size])
        except DecodeError:
            return


@given(st.integers(min_value=1, max_value=200))
def test_a_corpus_push_decodes_alike_in_any_chunking(size: int) -> None:
    body = corpus_multipart("push_multipart_fireDetection_thermal.txt")
    splitter = MultipartSplitter("boundary")
    parts = [
        p for start in range(0, len(body), size) for p in splitter.feed(body[start : start + size])
    ]
    whole = MultipartSplitter("boundary").feed(body)
    assert parts == whole
    assert splitter.closed


def test_a_delimiter_split_across_chunks_is_found() -> None:
    splitter = MultipartSplitter("b")
    assert splitter.feed(b"--b") == []
    assert splitter.feed(b"\r\nX: 1\r\nnot a header\r\n\r\nbody\r\n--") == []
    (part,) = splitter.feed(b"b--\r\n")
    assert (part.headers, part.body, splitter.closed) == ((("x", "1"),), b"body", True)


def test_a_boundary_with_dashes_takes_the_earliest_delimiter() -> None:
    splitter = MultipartSplitter("--x")
    parts = splitter.feed(b"----x\r\n\r\none\r\n--x\r\n\r\ntwo\r\n----x--\r\n")
    assert [p.body for p in parts] == [b"one", b"two"]


def test_an_unreadable_date_is_none_and_other_parts_are_skipped() -> None:
    alert = decode_alert(
        b"<EventNotificationAlert><eventType>VMD</eventType><dateTime>soon</dateTime>"
        b"</EventNotificationAlert>"
    )
    assert alert.at is None
    stream = AlertStreamSplitter("multipart/mixed; boundary=b")
    assert stream.feed(b"--b\r\nContent-Type: text/plain\r\n\r\nhello\r\n--b\r\n") == []


def test_decode_push_takes_plain_xml() -> None:
    xml = (DATA / "hikvision_next__EventNotificationAlert__pir.xml").read_bytes()
    push = decode_push("text/xml; charset=UTF-8", xml)
    assert (push.alert.event_type, push.xml, push.pictures) == ("pir", xml, ())

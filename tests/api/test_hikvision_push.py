"""The Hikvision push endpoint through the real app and store: every corpus payload, bad input."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from conftest import TOKEN
from watchfloor.api.cameras import RedactPushSecrets
from watchfloor.app import Platform
from watchfloor.codecs.hikvision import AlertStreamSplitter, HikvisionPush
from watchfloor.core.cameras import CameraRegistration
from watchfloor.core.devices import DeviceKind

DATA = Path(__file__).parents[1] / "data" / "hikvision"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
SECRET = "s3cret-of-the-gate-camera"
PUSH = f"/ingest/hikvision/{SECRET}"
JPEG = b"\xff\xd8\xff\xe0fake-jpeg-bytes\xff\xd9"
XML = {"Content-Type": "application/xml"}
FORM = {"Content-Type": "multipart/form-data; boundary=boundary"}


@pytest.fixture
async def client(platform: Platform) -> AsyncIterator[httpx.AsyncClient]:
    await platform.cameras.add_camera(
        CameraRegistration(kind=DeviceKind.HIKVISION, name="gate", site="Depot", secret=SECRET)
    )
    transport = httpx.ASGITransport(app=platform.api)
    async with httpx.AsyncClient(transport=transport, base_url="http://watchfloor") as http:
        yield http


def _alert(name: str) -> bytes:
    return (DATA / f"hikvision_next__EventNotificationAlert__{name}").read_bytes()


def _multipart(name: str) -> bytes:
    return (DATA / name).read_bytes().replace(b"<binary JPEG>", JPEG)


def _stream_parts(name: str, boundary: str = "boundary") -> list[bytes]:
    """The XML documents of an alertStream capture, each as a device would push it."""
    splitter = AlertStreamSplitter(f"multipart/mixed; boundary={boundary}")
    found = splitter.feed((DATA / "completed" / name).read_bytes())
    return [item.xml for item in found if isinstance(item, HikvisionPush)]


#: (what, headers, body, alarm type code or None for a heartbeat, pictures stored)
CORPUS: list[tuple[str, dict[str, str], bytes, int | None, int]] = [
    ("io cam1", XML, _alert("cam1_DS-2CD2T46G2-ISU_io_notification.xml"), 300, 0),
    ("io cam2", XML, _alert("cam2_DS-2CD2346G2-ISU_io_notification.xml"), 300, 0),
    ("io cam3", XML, _alert("cam3_DS-2CD2T86G2-ISU_io_notification.xml"), 300, 0),
    ("field human", XML, _alert("fielddetection_human.xml"), 702, 0),
    ("field vehicle", XML, _alert("fielddetection_vehicle.xml"), 702, 0),
    ("duration of field", XML, _alert("ipc_1_fielddetection.xml"), 702, 0),
    ("vmd, no namespace", XML, _alert("ipc_thermometry_motiondetection.xml"), 700, 0),
    ("nvr psialliance", XML, _alert("nvr_2_fielddetection.xml"), 702, 0),
    ("pir protocolType", XML, _alert("pir.xml"), 700, 0),
    ("line, jpeg", FORM, _multipart("push_multipart_linedetection_vehicle.txt"), 701, 1),
    ("fire, 2 jpegs", FORM, _multipart("push_multipart_fireDetection_thermal.txt"), 720, 2),
    (
        "field, no declaration",
        FORM,
        _multipart("completed/push_multipart_fielddetection_iobroker_issue7.txt"),
        702,
        0,
    ),
    *[
        (f"pyhik62 part {index}", XML, xml, expected, 0)
        for index, (xml, expected) in enumerate(
            zip(
                _stream_parts("alertStream_heartbeat_and_fielddetection_pyhik62.txt"),
                [None, 702],
                strict=True,
            )
        )
    ],
    (
        "nodered4 heartbeat",
        XML,
        _stream_parts("alertStream_heartbeat_with_extensions_nodered4.txt")[0],
        None,
        0,
    ),
    (
        "toxuin15 heartbeat",
        XML,
        _stream_parts("alertStream_http_headers_toxuin15.txt", "hikboundary")[0],
        None,
        0,
    ),
    (
        "ha82767 isapi.org heartbeat",
        XML,
        _stream_parts("alertStream_nvr_videoloss_ha82767.txt")[0],
        None,
        0,
    ),
    (
        "nodered105 url picture",
        XML,
        _stream_parts("alertStream_fielddetection_url_pictures_nodered105.txt")[0],
        702,
        0,
    ),
]


@pytest.mark.parametrize(
    ("headers", "body", "expected", "pictures"),
    [case[1:] for case in CORPUS],
    ids=[case[0] for case in CORPUS],
)
async def test_every_corpus_payload_is_stored_as_its_alarm_type(
    client: httpx.AsyncClient,
    platform: Platform,
    headers: dict[str, str],
    body: bytes,
    expected: int | None,
    pictures: int,
) -> None:
    response = await client.post(PUSH, content=body, headers=headers)

    assert response.status_code == 200, response.text
    signal_id = response.json()["signal_id"]
    if expected is None:
        # A heartbeat proves the link and raises nothing.
        assert signal_id is None
        (camera,) = await platform.cameras.list_cameras()
        assert camera.device.last_seen_at is not None
        return
    signals = (await client.get("/api/signals?device=gate", headers=AUTH)).json()["items"]
    assert [(s["id"], s["type_code"], s["source"]) for s in signals] == [
        (signal_id, expected, "hikvision")
    ]
    alarm = (await client.get(f"/api/alarms/{signals[0]['alarm_id']}", headers=AUTH)).json()
    assert (alarm["type_code"], alarm["site"], alarm["device"]) == (expected, "Depot", "gate")
    snapshots = (await client.get(f"/api/alarms/{alarm['id']}/snapshots", headers=AUTH)).json()[
        "items"
    ]
    assert len(snapshots) == pictures


async def test_an_inactive_event_restores_its_alarm(client: httpx.AsyncClient) -> None:
    active = _alert("fielddetection_human.xml")
    inactive = active.replace(
        b"<eventState>active</eventState>", b"<eventState>inactive</eventState>"
    )
    first = (await client.post(PUSH, content=active, headers=XML)).json()["signal_id"]
    await client.post(PUSH, content=inactive, headers=XML)

    signals = (await client.get("/api/signals?device=gate", headers=AUTH)).json()["items"]
    alarm = (await client.get(f"/api/alarms/{signals[-1]['alarm_id']}", headers=AUTH)).json()
    assert signals[-1]["id"] == first
    assert signals[0]["restore"] is True
    assert alarm["restored_at"] is not None


async def test_the_picture_is_served_to_users_only(
    client: httpx.AsyncClient, platform: Platform
) -> None:
    body = _multipart("push_multipart_linedetection_vehicle.txt")
    signal_id = (await client.post(PUSH, content=body, headers=FORM)).json()["signal_id"]

    picture = await client.get(f"/api/signals/{signal_id}/snapshot", headers=AUTH)
    assert picture.status_code == 200
    assert picture.content == JPEG
    assert picture.headers["content-type"] == "image/jpeg"
    assert picture.headers["cache-control"] == "no-store"
    assert (await client.get(f"/api/signals/{signal_id}/snapshot")).status_code == 401
    missing = await client.get(f"/api/signals/{signal_id + 1}/snapshot", headers=AUTH)
    assert missing.status_code == 404
    # Who looked at which picture is in the audit log, the failed look-up too.
    rows = [r.entry for r in await platform.audit_log.search(limit=10, action="image.")]
    assert [(r.action, r.target, r.outcome.value) for r in rows] == [
        ("image.read", f"signal:{signal_id + 1}", "failed"),
        ("image.read", f"signal:{signal_id}", "ok"),
    ]


async def test_oversized_pictures_are_dropped_and_the_signal_kept(
    client: httpx.AsyncClient, platform: Platform
) -> None:
    huge = b"\xff\xd8" + b"x" * (2 * 1024 * 1024)
    body = (
        (DATA / "push_multipart_linedetection_vehicle.txt")
        .read_bytes()
        .replace(b"<binary JPEG>", huge)
    )
    response = await client.post(PUSH, content=body, headers=FORM)
    assert response.status_code == 200
    signal_id = response.json()["signal_id"]
    assert (await client.get(f"/api/signals/{signal_id}/snapshot", headers=AUTH)).status_code == 404


async def test_basic_auth_carries_the_secret(client: httpx.AsyncClient) -> None:
    body = _alert("pir.xml")
    ok = await client.post("/ingest/hikvision", content=body, headers=XML, auth=("admin", SECRET))
    assert ok.status_code == 200
    refused = await client.post("/ingest/hikvision", content=body, headers=XML)
    assert refused.status_code == 401
    wrong = await client.post("/ingest/hikvision", content=body, headers=XML, auth=("a", "b"))
    assert wrong.status_code == 401


@pytest.mark.parametrize(
    ("path", "headers", "body", "status", "error"),
    [
        ("/ingest/hikvision/nope", XML, _alert("pir.xml"), 401, "unknown_device"),
        (PUSH, {"Content-Type": "application/json"}, b"{}", 415, "unsupported_media_type"),
        (PUSH, {}, _alert("pir.xml"), 415, "unsupported_media_type"),
        (PUSH, XML, b"<EventNotificationAlert><eventType>", 400, "malformed_payload"),
        (
            PUSH,
            XML,
            b'<!DOCTYPE x [<!ENTITY a "aaaa">]><EventNotificationAlert>'
            b"<eventType>&a;</eventType></EventNotificationAlert>",
            400,
            "malformed_payload",
        ),
        (
            PUSH,
            FORM,
            _multipart("push_multipart_fielddetection_iobroker_issue7.txt"),
            400,
            "malformed_payload",
        ),
        (
            PUSH,
            XML,
            (DATA / "hikvision_next__Event.notification.httpHosts__ipc_list.xml").read_bytes(),
            400,
            "malformed_payload",
        ),
        (PUSH, XML, b"<x/>" * (3 * 1024 * 1024), 413, "payload_too_large"),
    ],
    ids=["unknown", "json", "no type", "broken", "entities", "truncated", "config", "huge"],
)
async def test_bad_input_is_a_clear_4xx_and_stores_nothing(
    client: httpx.AsyncClient,
    platform: Platform,
    path: str,
    headers: dict[str, str],
    body: bytes,
    status: int,
    error: str,
) -> None:
    response = await client.post(path, content=body, headers=headers)

    assert (response.status_code, response.json()["error"]) == (status, error)
    assert (await client.get("/api/signals", headers=AUTH)).json()["items"] == []


async def test_refusals_are_counted_in_metrics(client: httpx.AsyncClient) -> None:
    await client.post("/ingest/hikvision/guess", content=b"<x/>", headers=XML)
    await client.post(PUSH, content=_alert("pir.xml"), headers=XML)
    text = (await client.get("/metrics", headers=AUTH)).text
    assert 'watchfloor_hikvision_push_total{outcome="rejected_unknown_device"} 1' in text
    assert 'watchfloor_hikvision_push_total{outcome="stored"} 1' in text


async def test_devices_api_registers_and_shows_the_secret_once(client: httpx.AsyncClient) -> None:
    created = await client.post(
        "/api/devices",
        headers=AUTH,
        json={
            "kind": "hikvision",
            "name": "dock",
            "site": "Depot",
            "zone": "loading_dock",
            "heartbeat_seconds": 60,
            "overrides": {"rules": [{"code": "vmd", "type": 702}]},
        },
    )
    assert created.status_code == 201, created.text
    secret = created.json()["secret"]
    assert created.json()["push_url"] == f"http://watchfloor/ingest/hikvision/{secret}"

    pushed = await client.post(
        f"/ingest/hikvision/{secret}",
        content=_alert("ipc_thermometry_motiondetection.xml"),
        headers=XML,
    )
    signal = (await client.get("/api/signals?device=dock", headers=AUTH)).json()["items"][0]
    assert pushed.status_code == 200
    assert (signal["type_code"], signal["zone"]) == (702, "loading_dock")

    listing = (await client.get("/api/devices", headers=AUTH)).json()["items"]
    assert {d["name"] for d in listing} == {"gate", "dock"}
    assert secret not in str(listing)
    assert (await client.delete("/api/devices/hikvision/dock", headers=AUTH)).status_code == 204
    assert (await client.delete("/api/devices/hikvision/dock", headers=AUTH)).status_code == 404
    gone = await client.post(f"/ingest/hikvision/{secret}", content=b"<x/>", headers=XML)
    assert gone.status_code == 401


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"kind": "dc09", "name": "x", "site": "s"}, "kind"),
        ({"kind": "frigate", "name": "x", "site": "s", "overrides": {"rules": 1}}, "overrides"),
        ({"kind": "frigate", "name": "x", "site": "s", "pull": True}, "pull"),
        ({"kind": "hikvision", "name": "gate", "site": "s"}, "exists"),
    ],
)
async def test_bad_registrations_are_refused(
    client: httpx.AsyncClient, payload: dict[str, object], field: str
) -> None:
    response = await client.post("/api/devices", headers=AUTH, json=payload)
    assert response.status_code in {409, 422}
    assert field in response.text


def test_access_logs_do_not_show_the_secret() -> None:
    record = logging.LogRecord(
        "uvicorn.access",
        logging.INFO,
        __file__,
        1,
        '%s - "%s %s HTTP/%s" %d',
        ("127.0.0.1:5000", "POST", PUSH, "1.1", 200),
        None,
    )
    assert RedactPushSecrets().filter(record)
    assert SECRET not in record.getMessage()
    assert "/ingest/hikvision/***" in record.getMessage()

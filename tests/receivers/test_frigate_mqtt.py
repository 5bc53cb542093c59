"""Frigate through the real Mosquitto broker: events with snapshots, reviews, availability.

Each test publishes under a topic prefix of its own, so tests sharing the broker never see
each other's messages.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path

import aiomqtt
import httpx
import pytest
from sqlalchemy import select

from conftest import TOKEN
from support.http_stub import Request, StubServer, open_stub_server, response
from watchfloor.app import Platform, open_platform
from watchfloor.config import Secret, Settings
from watchfloor.core.cameras import CameraRegistration
from watchfloor.core.devices import DeviceKind
from watchfloor.core.mapping_overrides import parse_overrides
from watchfloor.core.ports import AlarmEvent, AlarmEventKind
from watchfloor.store.tables import metadata

BROKER = "mqtt://127.0.0.1:1883"
#: Generous, for a loaded machine; waits end as soon as the awaited thing happens.
WAIT = 10.0
JPEG = b"\xff\xd8\xff\xe0frigate-snapshot\xff\xd9"
CORPUS = json.loads(
    (Path(__file__).parents[1] / "data" / "frigate" / "events_and_reviews.json").read_text()
)
IDENTITIES = ("John Smith", "Bob", "ABC12345")


async def _broker_is_up() -> bool:
    try:
        async with asyncio.timeout(2):
            _, writer = await asyncio.open_connection("127.0.0.1", 1883)
    except (OSError, TimeoutError):
        return False
    writer.close()
    return True


@pytest.fixture
async def snapshots() -> AsyncIterator[StubServer]:
    async def handler(request: Request, writer: asyncio.StreamWriter) -> None:
        if request.path.endswith("/snapshot.jpg"):
            writer.write(response("200 OK", JPEG, "image/jpeg"))
        else:
            writer.write(response("404 Not Found", b"no"))

    async with open_stub_server(handler) as stub:
        yield stub


@pytest.fixture
async def frigate_platform(
    settings: Settings, snapshots: StubServer
) -> AsyncIterator[tuple[Platform, str]]:
    if not await _broker_is_up():  # pragma: no cover - depends on the machine
        pytest.skip("no MQTT broker on 127.0.0.1:1883")
    prefix = f"wf{uuid.uuid4().hex[:12]}"
    async with open_platform(replace(settings, mqtt_url=Secret(BROKER))) as platform:
        await platform.cameras.add_camera(
            CameraRegistration(
                kind=DeviceKind.FRIGATE,
                name="nvr",
                site="Depot",
                url=snapshots.base_url,
                topic_prefix=prefix,
                overrides=parse_overrides(
                    {"rules": [{"code": "person", "zone": "loading_dock", "type": 702}]},
                    known_types=frozenset(platform.taxonomy.types),
                ),
            )
        )
        async with asyncio.timeout(WAIT):
            await platform.frigate.subscribed.wait()
        yield platform, prefix


def _example(index: int) -> dict[str, object]:
    payload: dict[str, object] = json.loads(json.dumps(CORPUS["examples"][index]["payload"]))
    return payload


def _new_person_with_identity() -> dict[str, object]:
    """The corpus's ``new`` event, with the identity fields Frigate can fill in."""
    payload = _example(1)
    after = payload["after"]
    assert isinstance(after, dict)
    after.update(
        sub_label=["John Smith", 0.93],
        attributes={"face": 0.91},
        current_attributes=[{"label": "face", "score": 0.91}],
        recognized_license_plate="ABC12345",
    )
    return payload


async def _publish(topic: str, payload: bytes | str) -> None:
    async with aiomqtt.Client(hostname="127.0.0.1", port=1883) as client:
        await client.publish(topic, payload, qos=1)


async def _next(queue: asyncio.Queue[AlarmEvent | None]) -> AlarmEvent:
    async with asyncio.timeout(WAIT):
        event = await queue.get()
    assert event is not None
    return event


async def test_event_with_snapshot_raises_an_alarm_without_identity(
    frigate_platform: tuple[Platform, str], snapshots: StubServer
) -> None:
    platform, prefix = frigate_platform
    payload = _new_person_with_identity()
    async with platform.bus.subscribe() as queue:
        await _publish(f"{prefix}/events", json.dumps(payload))
        created = await _next(queue)

    assert created.kind is AlarmEventKind.CREATED
    alarm = created.alarm
    assert (alarm.type_code, alarm.zone, alarm.device, alarm.site) == (
        700,
        "mailbox",
        "nvr",
        "Depot",
    )
    assert [r.path for r in snapshots.requests] == [
        "/api/events/1733152597.08157-flkir5/snapshot.jpg"
    ]
    transport = httpx.ASGITransport(app=platform.api)
    async with httpx.AsyncClient(transport=transport, base_url="http://wf") as client:
        auth = {"Authorization": f"Bearer {TOKEN}"}
        listed = (await client.get(f"/api/alarms/{alarm.id}/snapshots", headers=auth)).json()
        picture = await client.get(listed["items"][0]["url"], headers=auth)
    assert picture.content == JPEG

    # Identity never reached the store: not in any column of any table.
    async with platform.engine.connect() as connection:
        for table in metadata.sorted_tables:
            rows = (await connection.execute(select(table))).all()
            text = repr(rows)
            assert not any(identity in text for identity in IDENTITIES), table.name
            assert "sub_label" not in text
            assert "face" not in text


async def test_end_restores_and_a_new_zone_follows_the_override(
    frigate_platform: tuple[Platform, str],
) -> None:
    platform, prefix = frigate_platform
    new = _new_person_with_identity()
    update = json.loads(json.dumps(new))
    update["type"] = "update"
    update["before"] = new["after"]
    after = dict(update["after"])
    after.update(current_zones=["loading_dock"], entered_zones=["mailbox", "loading_dock"])
    update["after"] = after
    end = json.loads(json.dumps(update))
    end["type"] = "end"
    end["before"] = after
    end["after"] = {**after, "end_time": 1733152620.0, "active": False}

    async with platform.bus.subscribe() as queue:
        await _publish(f"{prefix}/events", json.dumps(new))
        first = await _next(queue)
        await _publish(f"{prefix}/events", json.dumps(update))
        intrusion = await _next(queue)
        await _publish(f"{prefix}/events", json.dumps(end))
        restored = await _next(queue)

    assert (first.alarm.type_code, first.alarm.zone) == (700, "mailbox")
    assert (intrusion.alarm.type_code, intrusion.alarm.zone) == (702, "loading_dock")
    assert restored.alarm.id == intrusion.alarm.id
    assert restored.alarm.restored_at is not None


async def test_review_alert_availability_and_garbage(
    frigate_platform: tuple[Platform, str],
) -> None:
    platform, prefix = frigate_platform
    async with platform.bus.subscribe() as queue:
        await _publish(f"{prefix}/events", b"\x00garbage{")
        await _publish(f"{prefix}/reviews", b'{"type": "new"}')
        await _publish(f"{prefix}/reviews", json.dumps(_example(3)))
        review = await _next(queue)
        await _publish(f"{prefix}/available", "offline")
        offline = await _next(queue)
        await _publish(f"{prefix}/front/status/record", "offline")
        recording = await _next(queue)
        await _publish(f"{prefix}/available", "online")
        online = await _next(queue)

    assert (review.alarm.type_code, review.alarm.zone) == (700, "front_yard")
    assert offline.alarm.type_code == 620
    assert (recording.alarm.type_code, recording.alarm.zone) == (713, "front")
    assert online.alarm.id == offline.alarm.id
    assert online.alarm.restored_at is not None
    assert platform.frigate.counters["rejected_malformed"] == 2


async def test_unknown_prefixes_are_ignored(frigate_platform: tuple[Platform, str]) -> None:
    platform, prefix = frigate_platform
    record = await platform.frigate.handle(f"x{prefix}/events", b"{}")
    assert record is None
    assert platform.frigate.counters["ignored_unknown_prefix"] >= 1

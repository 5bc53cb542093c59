"""Notifications out through the running platform: webhook, MQTT, e-mail and the CAP feed.

The receiving ends are real: an HTTP server, the local Mosquitto broker and an aiosmtpd
server, each on 127.0.0.1. Alarms are raised by staff reports through the API.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from contextlib import ExitStack
from dataclasses import dataclass, replace
from pathlib import Path
from xml.etree import ElementTree as ET

import httpx
import pytest
import xmlschema

from conftest import TOKEN
from support.receivers import (
    MqttSubscriber,
    SmtpSink,
    WebhookReceiver,
    open_mqtt_subscriber,
    open_smtp_sink,
    open_webhook_receiver,
    signature_of,
)
from watchfloor.app import Platform, open_platform
from watchfloor.codecs.webhook import verify_signature
from watchfloor.config import Settings
from watchfloor.core.notifications import (
    Channel,
    EmailTarget,
    Match,
    MqttTarget,
    NotificationRule,
    WebhookTarget,
)
from watchfloor.core.ports import AlarmEventKind
from watchfloor.core.principals import Role

ADMIN = {"Authorization": f"Bearer {TOKEN}"}
GUARD = {"Authorization": "Bearer guard-token"}
SECRET = "s3cret"
CAP_SCHEMA = xmlschema.XMLSchema(Path(__file__).parents[1] / "data" / "cap" / "CAP-v1.2.xsd")
ATOM = "{http://www.w3.org/2005/Atom}"
CAP = "{urn:oasis:names:tc:emergency:cap:1.2}"


@dataclass
class Ends:
    webhook: WebhookReceiver
    mqtt: MqttSubscriber
    smtp: SmtpSink
    api: httpx.AsyncClient
    platform: Platform


def _rules(ends: tuple[WebhookReceiver, MqttSubscriber, SmtpSink]) -> tuple[NotificationRule, ...]:
    webhook, mqtt, smtp = ends
    fires = Match(max_priority=3, events=frozenset({AlarmEventKind.CREATED}))
    return (
        NotificationRule(
            name="ops-hook",
            channel=Channel.WEBHOOK,
            match=fires,
            target=WebhookTarget(url=webhook.url, secret=SECRET),
        ),
        NotificationRule(
            name="home-assistant",
            channel=Channel.MQTT,
            match=fires,
            target=MqttTarget(host="127.0.0.1", port=1883, topic_prefix=mqtt.prefix),
        ),
        NotificationRule(
            name="duty-mail",
            channel=Channel.EMAIL,
            match=replace(fires, categories=frozenset({"fire"})),
            target=EmailTarget(
                host="127.0.0.1",
                port=smtp.port,
                sender="watchfloor@arc.example.org",
                recipients=("duty@arc.example.org",),
            ),
        ),
        NotificationRule(name="agencies", channel=Channel.CAP, match=Match(max_priority=3)),
    )


@pytest.fixture
async def ends(settings: Settings) -> AsyncIterator[Ends]:
    with ExitStack() as stack:
        webhook = stack.enter_context(open_webhook_receiver())
        mqtt = stack.enter_context(open_mqtt_subscriber())
        smtp = stack.enter_context(open_smtp_sink())
        configured = replace(
            settings, notify=_rules((webhook, mqtt, smtp)), cap_sender="arc.example.org"
        )
        async with open_platform(configured) as platform:
            await platform.users.ensure_token(
                user="guard", role=Role.PATROL, label="phone", token="guard-token"
            )
            transport = httpx.ASGITransport(app=platform.api)
            async with httpx.AsyncClient(transport=transport, base_url="http://wf") as api:
                yield Ends(webhook=webhook, mqtt=mqtt, smtp=smtp, api=api, platform=platform)


async def _report(ends: Ends, type_code: int, text: str = "Guard Gerrit saw smoke") -> int:
    body = {
        "report_id": str(uuid.uuid4()),
        "type_code": type_code,
        "site": "Depot North",
        "text": text,
    }
    response = await ends.api.post("/api/reports", headers=GUARD, json=body)
    assert response.status_code == 201, response.text
    alarm_id: int = response.json()["alarm_id"]
    return alarm_id


async def test_an_alarm_reaches_webhook_mqtt_and_email(ends: Ends) -> None:
    alarm_id = await _report(ends, 110)

    delivery = await asyncio.to_thread(ends.webhook.next)
    now = int(ends.platform.writer._clock.now().timestamp())
    assert verify_signature(signature_of(delivery), delivery.body, secret=SECRET.encode(), now=now)
    hook = json.loads(delivery.body)
    assert (hook["event"], hook["alarm"]["id"], hook["alarm"]["type_code"]) == (
        "alarm.created",
        alarm_id,
        110,
    )

    topic, payload, qos, retain = await asyncio.to_thread(ends.mqtt.next)
    assert topic == f"{ends.mqtt.prefix}/Depot_North/110"
    assert (qos, retain) == (1, False)
    assert json.loads(payload)["alarm"]["id"] == alarm_id

    mail = await asyncio.to_thread(ends.smtp.next)
    assert mail["To"] == "duty@arc.example.org"
    assert mail["Subject"] == "[watchfloor] P1 Fire alarm at Depot North (new)"

    for received in (delivery.body, payload, mail.as_bytes()):
        assert b"Gerrit" not in received
        assert b"guard" not in received


async def test_rules_that_do_not_match_stay_silent(ends: Ends) -> None:
    await _report(ends, 850)  # a staff report: priority 3, category "report"
    await _report(ends, 110)  # fire: every rule
    hooks = [json.loads((await asyncio.to_thread(ends.webhook.next)).body) for _ in range(2)]
    assert sorted(h["alarm"]["type_code"] for h in hooks) == [110, 850]
    # The e-mail rule matches fire only: the first message is the fire alarm's.
    assert "Fire alarm" in (await asyncio.to_thread(ends.smtp.next))["Subject"]
    assert ends.smtp.messages.empty()


async def test_the_cap_feed_lists_valid_cap_alerts(ends: Ends) -> None:
    alarm_id = await _report(ends, 110)
    index = await ends.api.get("/api/cap/alerts", headers=ADMIN)
    assert index.status_code == 200
    assert index.headers["content-type"] == "application/atom+xml"
    feed = ET.fromstring(index.content)  # noqa: S314 - our own output
    links = [link.get("href") for link in feed.iter(f"{ATOM}link")]
    assert links == [f"http://wf/api/cap/alerts/{alarm_id}.xml"]

    alert = await ends.api.get(f"/api/cap/alerts/{alarm_id}.xml", headers=ADMIN)
    assert alert.status_code == 200
    assert alert.headers["content-type"] == "application/cap+xml"
    CAP_SCHEMA.validate(alert.text)
    document = ET.fromstring(alert.content)  # noqa: S314 - our own output
    assert document.findtext(f"{CAP}sender") == "arc.example.org"
    assert document.findtext(f"{CAP}msgType") == "Alert"
    assert document.findtext(f"{CAP}info/{CAP}category") == "Fire"
    assert document.findtext(f"{CAP}info/{CAP}area/{CAP}areaDesc") == "Depot North"
    assert b"Gerrit" not in alert.content

    acknowledged = await ends.api.post(f"/api/alarms/{alarm_id}/acknowledge", headers=ADMIN)
    assert acknowledged.status_code == 200
    update = await ends.api.get(f"/api/cap/alerts/{alarm_id}.xml", headers=ADMIN)
    CAP_SCHEMA.validate(update.text)
    updated = ET.fromstring(update.content)  # noqa: S314 - our own output
    assert updated.findtext(f"{CAP}msgType") == "Update"
    assert f"watchfloor-alarm-{alarm_id}-1" in (updated.findtext(f"{CAP}references") or "")


async def test_the_cap_feed_publishes_only_what_its_rules_select(ends: Ends) -> None:
    quiet = await _report(ends, 850)
    response = await ends.api.get(f"/api/cap/alerts/{quiet}.xml", headers=ADMIN)
    assert response.status_code == 200  # priority 3 is within the rule
    assert (await ends.api.get("/api/cap/alerts/9999.xml", headers=ADMIN)).status_code == 404
    assert (await ends.api.get("/api/cap/alerts", headers=GUARD)).status_code == 403

"""The whole story in one test: a guard's report and a phoned-in call reach the console, a
unit is dispatched and acknowledges from its phone, and every receiving end hears of it.

Real parts only: ``watchfloor serve`` as a process with ``[[notify]]`` rules in its config
file, Debian's Chromium (a 360 px phone and a desk), an HTTP webhook receiver checking the
signature, the local Mosquitto, an aiosmtpd SMTP server, and a CAP consumer validating
against the OASIS CAP 1.2 schema.
"""

from __future__ import annotations

import json
import time
from contextlib import ExitStack
from pathlib import Path
from typing import TYPE_CHECKING
from xml.etree import ElementTree as ET

import pytest
import xmlschema

from support.console import add_console_user, sign_in, start_console
from support.receivers import (
    open_mqtt_subscriber,
    open_smtp_sink,
    open_webhook_receiver,
    signature_of,
)
from support.server import run_server
from support.tokens import add_token
from watchfloor.codecs.webhook import verify_signature
from watchfloor.core.principals import Role

if TYPE_CHECKING:
    from playwright.sync_api import Browser

pytestmark = pytest.mark.browser

sync_api = pytest.importorskip("playwright.sync_api")
expect = sync_api.expect

SECRET = "e2e webhook secret"
CAP_SCHEMA = xmlschema.XMLSchema(Path(__file__).parents[1] / "data" / "cap" / "CAP-v1.2.xsd")
ATOM = "{http://www.w3.org/2005/Atom}"
TIMEOUT_MS = 5000


def _config(path: Path, *, webhook: str, mqtt_prefix: str, smtp_port: int) -> Path:
    path.write_text(
        f"""
cap_sender = "arc.example.org"

[[notify]]
name = "ops-hook"
channel = "webhook"
url = "{webhook}"
secret = "{SECRET}"

[[notify]]
name = "home-assistant"
channel = "mqtt"
broker = "127.0.0.1:1883"
topic_prefix = "{mqtt_prefix}"

[[notify]]
name = "duty-mail"
channel = "email"
smtp = "127.0.0.1:{smtp_port}"
sender = "watchfloor@arc.example.org"
to = ["duty@arc.example.org"]

[[notify]]
name = "agencies"
channel = "cap"
"""
    )
    return path


def test_report_and_call_dispatched_and_notified_everywhere(
    browser: Browser, tmp_path: Path
) -> None:
    with ExitStack() as stack:
        webhook = stack.enter_context(open_webhook_receiver())
        mqtt = stack.enter_context(open_mqtt_subscriber())
        smtp = stack.enter_context(open_smtp_sink())
        config = _config(
            tmp_path / "watchfloor.toml",
            webhook=webhook.url,
            mqtt_prefix=mqtt.prefix,
            smtp_port=smtp.port,
        )
        server = stack.enter_context(
            run_server(tmp_path / "var", extra_env={"WATCHFLOOR_CONFIG": str(config)})
        )
        guard = add_token(server.data_dir, user="gerrit", role=Role.PATROL, token="gerrit-phone")
        api = stack.enter_context(server.client())
        add_console_user(api, "carla", role="operator")  # the call-taker
        unit = api.post("/api/units", json={"name": "Patrol 1", "user": "gerrit"})
        assert unit.status_code == 201, unit.text

        # The desk: the console, signed in, and the call intake page beside it.
        desk = browser.new_context()
        desk.set_default_timeout(TIMEOUT_MS)
        stack.callback(desk.close)
        console = desk.new_page()
        console.goto(f"{server.base_url}/#token={server.token}")
        expect(console.locator("#connection")).to_have_text("live")
        start_console(console)

        # A guard on patrol reports from a phone-sized screen.
        phone = browser.new_context(viewport={"width": 360, "height": 740}, is_mobile=True)
        phone.set_default_timeout(TIMEOUT_MS)
        stack.callback(phone.close)
        patrol = phone.new_page()
        patrol.goto(f"{server.base_url}/patrol.html#token={guard}")
        expect(patrol.locator("#type option")).not_to_have_count(0)
        patrol.select_option("#type", "850")
        patrol.fill("#site", "Depot North")
        patrol.fill("#text", "Side door forced, nobody inside")
        patrol.click("#send")
        expect(patrol.locator("#reports li", has_text="Depot North")).to_have_attribute(
            "data-state", "sent"
        )

        # A call-taker, at a desk of their own, enters a call by keyboard alone.
        taker = browser.new_context()
        taker.set_default_timeout(TIMEOUT_MS)
        stack.callback(taker.close)
        calls = taker.new_page()
        sign_in(calls, server.base_url, "carla")  # the call-taker's own console session
        calls.goto(server.base_url + "/calls.html")
        expect(calls.locator("#type")).to_be_focused()
        expect(calls.locator("#types option")).not_to_have_count(0)
        for text in ("860", "Harbour Office", "+31 20 555 0199", "Caller hears glass breaking"):
            calls.keyboard.type(text)
            calls.keyboard.press("Tab")
        calls.keyboard.press("Shift+Tab")
        calls.keyboard.press("Enter")
        # A site nobody knows yet is entered as a new one only on a second Enter.
        expect(calls.locator("#site-problem")).to_contain_text("is not a site we know")
        calls.keyboard.press("Enter")
        expect(calls.locator("#result")).to_contain_text("Call entered: alarm")

        # Both reach the console's queue.
        for site in ("Depot North", "Harbour Office"):
            expect(console.locator("#alarms tr", has_text=site)).to_have_count(1)
        alarms = {a["site"]: a for a in api.get("/api/alarms").json()["items"]}
        report_alarm, call_alarm = alarms["Depot North"], alarms["Harbour Office"]
        assert (report_alarm["origin"], call_alarm["origin"]) == ("patrol", "call")

        # The operator acknowledges and dispatches the unit; the unit acknowledges on its phone.
        unit_id = unit.json()["id"]
        assert api.post(f"/api/alarms/{report_alarm['id']}/acknowledge").status_code == 200
        dispatched = api.post(
            f"/api/alarms/{report_alarm['id']}/dispatch-units", json={"unit_ids": [unit_id]}
        )
        assert dispatched.status_code == 200, dispatched.text
        patrol.reload()
        expect(patrol.locator("#dispatch-text")).to_have_text(
            "Go to Depot North: Staff report (priority 3)"
        )
        patrol.click("#acknowledge")
        expect(patrol.locator("#acknowledge")).to_be_hidden()
        patrol.click("[data-status=en_route]")
        expect(patrol.locator("#unit-status")).to_have_text("en route")
        patrol.click("[data-status=on_scene]")
        expect(patrol.locator("#unit-status")).to_have_text("on scene")
        dispatches = api.get(f"/api/alarms/{report_alarm['id']}/dispatches").json()["items"]
        assert dispatches[0]["acknowledged_at"] is not None
        assert dispatches[0]["on_scene_at"] is not None
        expect(console.locator("#alarms tr", has_text="Depot North")).to_contain_text("dispatched")

        # Every receiving end heard of both alarms, and only what it needs.
        expected = {report_alarm["id"], call_alarm["id"]}
        hooks = [webhook.next() for _ in expected]
        for hook in hooks:
            assert verify_signature(
                signature_of(hook), hook.body, secret=SECRET.encode(), now=int(time.time())
            )
        assert {json.loads(h.body)["alarm"]["id"] for h in hooks} == expected
        published = [mqtt.next() for _ in expected]
        assert {json.loads(p)["alarm"]["id"] for _, p, _, _ in published} == expected
        assert {t for t, _, _, _ in published} == {
            f"{mqtt.prefix}/Depot_North/850",
            f"{mqtt.prefix}/Harbour_Office/860",
        }
        mails = [smtp.next() for _ in expected]
        assert {m["Subject"].split(" at ")[1].split(" (")[0] for m in mails} == {
            "Depot North",
            "Harbour Office",
        }
        for received in [h.body for h in hooks] + [p for _, p, _, _ in published]:
            for personal in (b"gerrit", b"555 0199", b"glass", b"Side door"):
                assert personal not in received

        index = api.get("/api/cap/alerts")
        assert index.status_code == 200
        links = [
            link.get("href")
            for link in ET.fromstring(index.content).iter(f"{ATOM}link")  # noqa: S314 - our server
        ]
        assert len(links) == 2
        for link in links:
            alert = api.get(str(link))
            assert alert.status_code == 200
            CAP_SCHEMA.validate(alert.text)

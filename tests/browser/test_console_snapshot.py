"""The console shows a Frigate event's picture beside its alarm (real server, broker, Chromium)."""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import TYPE_CHECKING

import aiomqtt
import httpx
import pytest

from support.console import start_console
from support.server import ServerProcess, run_server

if TYPE_CHECKING:
    from playwright.sync_api import Page

pytestmark = pytest.mark.browser

sync_api = pytest.importorskip("playwright.sync_api")
expect = sync_api.expect

DATA = Path(__file__).parents[1] / "data" / "frigate"
JPEG = (DATA / "snapshot.jpg").read_bytes()
BROKER = ("127.0.0.1", 1883)


def _broker_is_up() -> bool:
    try:
        socket.create_connection(BROKER, timeout=2).close()
    except OSError:
        return False
    return True


class _Snapshots(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        if not self.path.endswith("/snapshot.jpg"):
            self.send_error(404)
            return
        self.send_response(200)
        self.send_header("Content-Type", "image/jpeg")
        self.send_header("Content-Length", str(len(JPEG)))
        self.end_headers()
        self.wfile.write(JPEG)

    def log_message(self, format: str, *args: object) -> None:
        return


@pytest.fixture(scope="module")
def frigate_http() -> Iterator[str]:
    """Frigate's snapshot API, on a loopback port."""
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Snapshots)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()


@pytest.fixture(scope="module")
def mqtt_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    if not _broker_is_up():  # pragma: no cover - depends on the machine
        pytest.skip("no MQTT broker on 127.0.0.1:1883")
    data_dir = tmp_path_factory.mktemp("snapshot") / "var"
    with run_server(data_dir, extra_env={"WATCHFLOOR_MQTT_URL": "mqtt://127.0.0.1:1883"}) as server:
        yield server


def _publish_retained(topic: str, payload: bytes) -> None:
    """Publish from a thread of its own: Playwright's sync API holds this thread's loop.

    Retained, so the server's subscription gets it whether it subscribed before or after.
    """

    async def publish() -> None:
        async with aiomqtt.Client(hostname=BROKER[0], port=BROKER[1]) as client:
            await client.publish(topic, payload, qos=1, retain=True)

    failures: list[BaseException] = []

    def run() -> None:
        try:
            asyncio.run(publish())
        except Exception as err:  # noqa: BLE001 - handed to the test thread below
            failures.append(err)

    thread = threading.Thread(target=run)
    thread.start()
    thread.join(timeout=30)
    assert not thread.is_alive()
    assert not failures, failures


def test_the_picture_of_a_frigate_event_shows_beside_its_alarm(
    mqtt_server: ServerProcess, frigate_http: str, page: Page
) -> None:
    prefix = f"wf{uuid.uuid4().hex[:12]}"
    with mqtt_server.client() as api:
        created = api.post(
            "/api/devices",
            json={
                "kind": "frigate",
                "name": "yard-nvr",
                "site": "Harbour",
                "url": frigate_http,
                "topic_prefix": prefix,
            },
        )
        assert created.status_code == 201, created.text
    page.goto(f"{mqtt_server.base_url}/#token={mqtt_server.token}")
    expect(page.locator("#connection")).to_have_text("live")
    start_console(page)

    event = {
        "type": "new",
        "before": {},
        "after": {
            "id": "1733152597.08157-flkir5",
            "camera": "quay",
            "label": "person",
            "sub_label": ["Somebody", 0.9],
            "current_zones": ["gate"],
            "entered_zones": ["gate"],
            "has_snapshot": True,
            "false_positive": False,
            "start_time": 1733152597.08,
        },
    }
    try:
        _publish_retained(f"{prefix}/events", json.dumps(event).encode())
        row = page.locator("#alarms tr").first
        expect(row).to_contain_text("Harbour")
        row.click()
        image = page.locator("#snapshot-image")
        expect(image).to_be_visible()
        expect(page.locator("#snapshot-caption")).to_contain_text("Signal")
        # The picture decoded: the browser knows its size.
        expect(image).to_have_js_property("naturalWidth", 64)
        assert page.locator("#detail").inner_text().count("Somebody") == 0
    finally:
        _publish_retained(f"{prefix}/events", b"")


def test_the_picture_is_refused_without_a_token(mqtt_server: ServerProcess) -> None:
    response = httpx.get(f"{mqtt_server.base_url}/api/signals/1/snapshot", timeout=10)
    assert response.status_code == 401

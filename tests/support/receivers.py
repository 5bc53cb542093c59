"""Receiving ends of notifications for tests: a webhook server, an SMTP server, MQTT.

Each runs on 127.0.0.1 with an ephemeral port in a thread of its own, so that both async
tests (which wait with ``asyncio.to_thread``) and browser tests (which wait directly) can
use them. Waits are bounded by a timeout; nothing sleeps.
"""

from __future__ import annotations

import queue
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email import message_from_bytes
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import paho.mqtt.client as mqtt
from aiosmtpd.controller import Controller
from paho.mqtt.enums import CallbackAPIVersion

from support.server import free_port
from watchfloor.codecs.webhook import SIGNATURE_HEADER

__all__ = [
    "Delivery",
    "MqttSubscriber",
    "SmtpSink",
    "WebhookReceiver",
    "open_mqtt_subscriber",
    "open_smtp_sink",
    "open_webhook_receiver",
]

MQTT_HOST = "127.0.0.1"
MQTT_PORT = 1883
WAIT_SECONDS = 15.0


@dataclass(frozen=True)
class Delivery:
    """One request the webhook receiver got."""

    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class WebhookReceiver:
    """An HTTP server that records each POST and answers with scripted statuses."""

    port: int
    statuses: list[int] = field(default_factory=list)
    deliveries: queue.Queue[Delivery] = field(default_factory=queue.Queue)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    def next(self, timeout: float = WAIT_SECONDS) -> Delivery:
        return self.deliveries.get(timeout=timeout)


@contextmanager
def open_webhook_receiver(statuses: list[int] | None = None) -> Iterator[WebhookReceiver]:
    """Serve until the block ends; each POST pops the next status (200 once they run out)."""
    receiver = WebhookReceiver(port=0, statuses=list(statuses or []))

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            receiver.deliveries.put(
                Delivery(path=self.path, headers=dict(self.headers.items()), body=body)
            )
            status = receiver.statuses.pop(0) if receiver.statuses else 200
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    receiver.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield receiver
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


def signature_of(delivery: Delivery) -> str:
    """Return the signature header of a delivery, whatever its case on the wire."""
    headers = {k.lower(): v for k, v in delivery.headers.items()}
    return headers[SIGNATURE_HEADER.lower()]


@dataclass
class SmtpSink:
    """An SMTP server that keeps each message it receives."""

    port: int
    messages: queue.Queue[Message] = field(default_factory=queue.Queue)

    def next(self, timeout: float = WAIT_SECONDS) -> Message:
        return self.messages.get(timeout=timeout)


@contextmanager
def open_smtp_sink() -> Iterator[SmtpSink]:
    """Run an aiosmtpd server on 127.0.0.1, an ephemeral port, until the block ends."""
    sink = SmtpSink(port=0)

    class Handler:
        async def handle_DATA(self, server: object, session: object, envelope: Any) -> str:
            sink.messages.put(message_from_bytes(envelope.content))
            return "250 OK"

    # aiosmtpd checks its server by connecting to the port it was given: 0 will not do.
    sink.port = free_port()
    controller = Controller(Handler(), hostname="127.0.0.1", port=sink.port)
    controller.start()
    try:
        yield sink
    finally:
        controller.stop()


@dataclass
class MqttSubscriber:
    """A subscriber to ``<prefix>/#`` on the local Mosquitto; ``prefix`` is unique per test."""

    prefix: str
    messages: queue.Queue[tuple[str, bytes, int, bool]] = field(default_factory=queue.Queue)

    def next(self, timeout: float = WAIT_SECONDS) -> tuple[str, bytes, int, bool]:
        """Return (topic, payload, qos, retain) of the next message."""
        return self.messages.get(timeout=timeout)


@contextmanager
def open_mqtt_subscriber() -> Iterator[MqttSubscriber]:
    """Subscribe (QoS 1) under a fresh topic prefix until the block ends."""
    subscriber = MqttSubscriber(prefix=f"wftest-{uuid.uuid4().hex[:12]}")
    subscribed = threading.Event()
    client = mqtt.Client(CallbackAPIVersion.VERSION2)

    def on_connect(
        client: mqtt.Client, userdata: object, flags: object, reason: object, props: object
    ) -> None:
        client.subscribe(f"{subscriber.prefix}/#", qos=1)

    def on_subscribe(
        client: mqtt.Client, userdata: object, mid: object, reasons: object, props: object
    ) -> None:
        subscribed.set()

    def on_message(client: mqtt.Client, userdata: object, message: mqtt.MQTTMessage) -> None:
        subscriber.messages.put(
            (message.topic, bytes(message.payload), message.qos, bool(message.retain))
        )

    client.on_connect = on_connect
    client.on_subscribe = on_subscribe
    client.on_message = on_message
    client.connect(MQTT_HOST, MQTT_PORT)
    client.loop_start()
    try:
        if not subscribed.wait(timeout=WAIT_SECONDS):
            raise TimeoutError("the MQTT subscription was not confirmed")
        yield subscriber
    finally:
        client.disconnect()
        client.loop_stop()

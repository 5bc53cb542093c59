"""Frigate over MQTT: events, reviews and availability from every registered instance.

One subscription serves every Frigate instance on the broker: topics are
``<prefix>/events``, ``<prefix>/reviews``, ``<prefix>/available`` and
``<prefix>/<camera>/status/<role>``, and the prefix names the registered instance (looked up
per message, so an instance added while running is served at once). A new tracked object's
snapshot is fetched from the instance's HTTP API before the signal is handed in, so that the
signal and its picture are committed together. Identity fields never get this far: the
codec has no place for them. A payload that does not decode is counted, logged and dropped;
the subscription carries on.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import Awaitable, Callable
from typing import Protocol
from urllib.parse import quote, urlsplit

import aiomqtt
import httpx

from watchfloor.codecs.errors import DecodeError
from watchfloor.codecs.frigate import (
    MessageKind,
    decode_availability,
    decode_event,
    decode_review,
)
from watchfloor.codecs.hikvision import Picture
from watchfloor.core.devices import Device
from watchfloor.core.ports import Clock, SignalSink
from watchfloor.core.signals import Signal, SignalRecord, Snapshot
from watchfloor.receivers.camera_mapping import (
    SnapshotLimits,
    availability_signal,
    event_signal,
    keep_snapshots,
    review_signal,
)
from watchfloor.receivers.hikvision import Backoff

__all__ = ["FRIGATE_TOPICS", "FrigateReceiver", "fetch_frigate_snapshot"]

logger = logging.getLogger(__name__)

#: The subscriptions, for any topic prefix of one level.
FRIGATE_TOPICS = ("+/events", "+/reviews", "+/available", "+/+/status/+")


class FrigateDirectory(Protocol):
    """Where the receiver finds the Frigate instance behind a topic prefix."""

    async def find_by_topic_prefix(self, prefix: str) -> Device | None:
        """Return the enabled Frigate instance publishing under this prefix, or None."""
        ...

    async def frigate_url(self, name: str) -> str | None:
        """Return the instance's HTTP API address, if it has one."""
        ...


#: Fetches an event's snapshot: (API address, event id) -> the picture, or None.
FetchSnapshot = Callable[[str, str], Awaitable[Picture | None]]


def fetch_frigate_snapshot(client: httpx.AsyncClient, *, max_bytes: int) -> FetchSnapshot:
    """Return a fetcher of ``/api/events/<id>/snapshot.jpg`` that gives up quietly.

    A snapshot is a help to the operator, never a reason to lose the signal: any failure,
    or a picture above ``max_bytes``, is logged and yields None.
    """

    async def fetch(base_url: str, event_id: str) -> Picture | None:
        url = f"{base_url.rstrip('/')}/api/events/{quote(event_id, safe='')}/snapshot.jpg"
        try:
            async with client.stream("GET", url, timeout=5.0) as response:
                response.raise_for_status()
                data = bytearray()
                async for chunk in response.aiter_bytes():
                    data += chunk
                    if len(data) > max_bytes:
                        logger.warning("frigate snapshot %s exceeds %d bytes", event_id, max_bytes)
                        return None
        except httpx.HTTPError as err:
            logger.warning("frigate snapshot %s not fetched: %s", event_id, err)
            return None
        return Picture(content_type="image/jpeg", data=bytes(data))

    return fetch


class FrigateReceiver:
    """Turns Frigate MQTT messages into stored signals; ``counters`` counts by outcome.

    ``subscribed`` is set while ``serve`` holds its subscriptions on the broker.
    """

    def __init__(
        self,
        *,
        directory: FrigateDirectory,
        sink: SignalSink,
        clock: Clock,
        fetch_snapshot: FetchSnapshot | None = None,
        snapshots: SnapshotLimits | None = None,
    ) -> None:
        self._directory = directory
        self._sink = sink
        self._clock = clock
        self._fetch = fetch_snapshot
        self._limits = snapshots or SnapshotLimits()
        self.counters: Counter[str] = Counter()
        self.subscribed = asyncio.Event()

    async def handle(self, topic: str, payload: bytes) -> SignalRecord | None:
        """Store what one message means; return the signal's record, or None if nothing.

        Returns after the commit. A payload that does not decode is counted and logged,
        and nothing is stored.

        Raises:
            StoreUnavailableError: the store could not commit.
        """
        levels = topic.split("/")
        device = await self._directory.find_by_topic_prefix(levels[0])
        if device is None:
            self.counters["ignored_unknown_prefix"] += 1
            return None
        try:
            signal = await self._signal_of(device, levels[1:], payload)
        except DecodeError as err:
            self.counters["rejected_malformed"] += 1
            logger.warning("frigate %s: %s refused: %s", device.name, topic, err)
            return None
        if signal is None:
            self.counters["ignored"] += 1
            return None
        (record,) = await self._sink.submit([signal])
        self.counters["stored"] += 1
        return record

    async def _signal_of(self, device: Device, levels: list[str], payload: bytes) -> Signal | None:
        now = self._clock.now()
        match levels:
            case ["events"]:
                event = decode_event(payload)
                pictures: tuple[Snapshot, ...] = ()
                if event.has_snapshot and event.kind is not MessageKind.END:
                    pictures = await self._snapshot(device, event.id)
                return event_signal(event, device=device, received_at=now, snapshots=pictures)
            case ["reviews"]:
                return review_signal(decode_review(payload), device=device, received_at=now)
            case ["available"]:
                return availability_signal(
                    decode_availability(payload), device=device, received_at=now
                )
            case [camera, "status", role]:
                return availability_signal(
                    decode_availability(payload),
                    device=device,
                    received_at=now,
                    camera=camera,
                    role=role,
                )
        return None

    async def _snapshot(self, device: Device, event_id: str) -> tuple[Snapshot, ...]:
        if self._fetch is None:
            return ()
        base_url = await self._directory.frigate_url(device.name)
        if base_url is None:
            return ()
        picture = await self._fetch(base_url, event_id)
        return () if picture is None else keep_snapshots([picture], self._limits)

    async def serve(
        self,
        mqtt_url: str,
        *,
        backoff: Backoff | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        """Subscribe on the broker at ``mqtt_url`` until cancelled.

        ``mqtt_url`` is ``mqtt://[user:pass@]host[:port]``; a lost connection is retried
        after a capped exponential backoff.
        """
        parts = urlsplit(mqtt_url)
        backoff = backoff or Backoff()
        while True:
            try:
                async with aiomqtt.Client(
                    hostname=parts.hostname or "127.0.0.1",
                    port=parts.port or 1883,
                    username=parts.username,
                    password=parts.password,
                ) as client:
                    for topic in FRIGATE_TOPICS:
                        await client.subscribe(topic)
                    self.counters["connections"] += 1
                    self.subscribed.set()
                    backoff.reset()
                    async for message in client.messages:
                        await self._handle_safely(str(message.topic), message.payload)
            except aiomqtt.MqttError as err:
                self.subscribed.clear()
                self.counters["disconnected"] += 1
                logger.warning("frigate MQTT connection to %s lost: %s", parts.hostname, err)
            await sleep(backoff.next_delay())

    async def _handle_safely(self, topic: str, payload: object) -> None:
        data = payload if isinstance(payload, bytes | bytearray) else str(payload).encode()
        try:
            await self.handle(topic, bytes(data))
        except Exception:
            # Task boundary (STYLE §5): one message must not end the subscription. A store
            # outage loses this message: MQTT at QoS 0 has no acknowledgement to withhold.
            self.counters["failed"] += 1
            logger.exception("frigate message on %s failed", topic)

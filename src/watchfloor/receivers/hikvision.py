"""Hikvision ISAPI: the alarm-server push receiver and the alertStream puller.

Push: a camera or NVR posts each event to ``/ingest/hikvision/<secret>``. The receiver finds
the device by its secret, reads the body up to a limit, decodes it, and hands the signal (with
its pictures) to the intake; the HTTP route answers 200 only once ``receive`` has returned,
i.e. after the commit (DESIGN rule 1). Every refusal is counted by reason.

Pull: for devices that cannot push, ``AlertStreamPuller`` keeps ``GET
/ISAPI/Event/notification/alertStream`` open with digest auth, cuts the multipart stream
(boundary from the response header) and hands each event in. When the stream ends, fails, or
stays silent beyond the device's heartbeat interval (plus grace), it reconnects after a
capped exponential backoff. The link-lost alarm itself comes from supervision: the device's
heartbeat is its supervision interval, and heartbeats are link tests that prove the link.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import timedelta
from typing import Protocol

import httpx

from watchfloor.codecs.errors import DecodeError, UnsupportedMessageError
from watchfloor.codecs.hikvision import AlertStreamSplitter, HikvisionPush, Picture, decode_push
from watchfloor.core.cameras import PullTarget
from watchfloor.core.devices import Device
from watchfloor.core.errors import PayloadTooLargeError, UnknownSenderError
from watchfloor.core.ports import Clock, SignalSink
from watchfloor.core.signals import SignalRecord
from watchfloor.receivers.camera_mapping import SnapshotLimits, hikvision_item, keep_snapshots

__all__ = ["ALERT_STREAM_PATH", "AlertStreamPuller", "Backoff", "HikvisionPushReceiver"]

logger = logging.getLogger(__name__)

ALERT_STREAM_PATH = "/ISAPI/Event/notification/alertStream"


class SecretDirectory(Protocol):
    """Where the receiver finds the device a push secret belongs to."""

    async def find_by_secret(self, secret: str) -> Device | None:
        """Return the enabled device with this push secret, or None."""
        ...


class HikvisionPushReceiver:
    """Turns alarm-server pushes into stored signals; ``counters`` counts by outcome."""

    def __init__(
        self,
        *,
        devices: SecretDirectory,
        sink: SignalSink,
        clock: Clock,
        max_body: int = 10 * 1024 * 1024,
        snapshots: SnapshotLimits | None = None,
    ) -> None:
        self._devices = devices
        self._sink = sink
        self._clock = clock
        self._max_body = max_body
        self._limits = snapshots or SnapshotLimits()
        self.counters: Counter[str] = Counter()

    async def receive(
        self, secret: str, content_type: str, body: AsyncIterator[bytes], *, peer: str | None
    ) -> SignalRecord | None:
        """Store one push; return its signal's record (None for a heartbeat).

        Returns only after the commit. Nothing is stored when it raises.

        Raises:
            UnknownSenderError: no enabled device has this secret.
            PayloadTooLargeError: the body exceeds ``max_body`` bytes.
            UnsupportedMessageError: neither XML nor multipart.
            DecodeError: malformed XML or a truncated multipart body.
            StoreUnavailableError: the store could not commit; the device will retry.
        """
        device = await self._devices.find_by_secret(secret)
        if device is None:
            self.counters["rejected_unknown_device"] += 1
            logger.warning("hikvision push from %s with an unknown secret refused", peer)
            raise UnknownSenderError("no device has this secret")
        data = bytearray()
        async for chunk in body:
            data += chunk
            if len(data) > self._max_body:
                self.counters["rejected_too_large"] += 1
                logger.warning("hikvision push from %s (%s) too large", device.name, peer)
                raise PayloadTooLargeError(f"the body exceeds {self._max_body} bytes")
        try:
            push = decode_push(content_type, bytes(data))
        except UnsupportedMessageError:
            self.counters["rejected_content_type"] += 1
            logger.warning("hikvision push from %s: content type %.80r", device.name, content_type)
            raise
        except DecodeError as err:
            self.counters["rejected_malformed"] += 1
            logger.warning("hikvision push from %s refused: %s", device.name, err)
            raise
        item = hikvision_item(
            push.alert,
            device=device,
            xml=push.xml,
            received_at=self._clock.now(),
            peer=peer,
            snapshots=keep_snapshots(push.pictures, self._limits),
        )
        (record,) = await self._sink.submit([item])
        self.counters["stored" if record is not None else "heartbeat"] += 1
        return record


class Backoff:
    """Capped exponential delays: ``initial``, doubling up to ``cap``.

    ``reset`` after a connection that worked.
    """

    def __init__(self, *, initial: float = 1.0, cap: float = 60.0) -> None:
        self._initial = initial
        self._cap = cap
        self._next = initial

    def next_delay(self) -> float:
        """Return the delay before the next attempt, and double the one after it."""
        delay = self._next
        self._next = min(self._cap, self._next * 2)
        return delay

    def reset(self) -> None:
        """Start again from ``initial``."""
        self._next = self._initial


class AlertStreamPuller:
    """Pulls one device's alertStream until cancelled (``serve``), reconnecting as needed.

    ``sleep`` waits between attempts (injected so tests need not wait); ``counters`` counts
    connections, events, silences and failures.
    """

    def __init__(
        self,
        target: PullTarget,
        *,
        sink: SignalSink,
        clock: Clock,
        client: httpx.AsyncClient,
        snapshots: SnapshotLimits | None = None,
        backoff: Backoff | None = None,
        grace: timedelta = timedelta(seconds=30),
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._target = target
        self._sink = sink
        self._clock = clock
        self._client = client
        self._limits = snapshots or SnapshotLimits()
        self._backoff = backoff or Backoff()
        heartbeat = target.heartbeat or timedelta(seconds=60)
        self._silence = (heartbeat + grace).total_seconds()
        self._sleep = sleep
        self.counters: Counter[str] = Counter()

    async def serve(self, *, attempts: int | None = None) -> None:
        """Pull until cancelled (or, for tests, until ``attempts`` connections were tried)."""
        tried = 0
        while attempts is None or tried < attempts:
            tried += 1
            try:
                if await self.pull_once():
                    self._backoff.reset()
            except TimeoutError:
                self.counters["silent"] += 1
                logger.warning(
                    "alertStream of %s silent beyond %g s; reconnecting",
                    self._target.device.name,
                    self._silence,
                )
            except (httpx.HTTPError, DecodeError) as err:
                self.counters["failed"] += 1
                logger.warning("alertStream of %s failed: %s", self._target.device.name, err)
            await self._sleep(self._backoff.next_delay())

    async def pull_once(self) -> bool:
        """Connect once and hand in events until the stream ends; return whether any came.

        Raises:
            TimeoutError: nothing arrived for longer than the heartbeat interval + grace.
            httpx.HTTPError: the connection failed or the device refused it.
            DecodeError: the stream is not multipart, or a part is oversized.
        """
        self.counters["connections"] += 1
        url = self._target.url.rstrip("/") + ALERT_STREAM_PATH
        auth = (
            httpx.DigestAuth(self._target.username, self._target.password or "")
            if self._target.username
            else None
        )
        got_any = False
        async with self._client.stream(
            "GET", url, auth=auth, timeout=httpx.Timeout(10.0, read=None)
        ) as response:
            response.raise_for_status()
            splitter = AlertStreamSplitter(
                response.headers.get("content-type", ""), max_part=self._limits.max_bytes * 2
            )
            chunks = response.aiter_raw()
            while True:
                async with asyncio.timeout(self._silence):
                    chunk = await anext(chunks, None)
                if chunk is None:
                    return got_any
                for found in splitter.feed(chunk):
                    got_any = True
                    await self._hand_in(found)

    async def _hand_in(self, found: HikvisionPush | Picture | DecodeError) -> None:
        if isinstance(found, DecodeError):
            self.counters["rejected_malformed"] += 1
            logger.warning("alertStream of %s: part refused: %s", self._target.device.name, found)
            return
        if isinstance(found, Picture):
            # Pictures in a stream come apart from their event; the event's own URLs stay.
            self.counters["pictures_skipped"] += 1
            return
        item = hikvision_item(
            found.alert,
            device=self._target.device,
            xml=found.xml,
            received_at=self._clock.now(),
            peer=self._target.url,
        )
        await self._sink.submit([item])
        self.counters["events"] += 1

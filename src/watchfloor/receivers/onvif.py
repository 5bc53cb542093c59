"""The ONVIF receiver: a PullPoint subscription per camera, pulled, renewed and re-made.

Theory of operation (ONVIF Core §9.3 "Real-time Pull-Point Notification Interface"): the
receiver discovers the camera's event service (``GetServices``), creates a PullPoint
subscription, and pulls in a loop, each pull bounded by a timeout well inside the heartbeat.
A reply is decoded by ``codecs.onvif``; each message that raises or restores becomes a
``Signal``, and a ``LinkTest`` proves the camera alive on every successful pull, so that the
supervision watch raises "link lost" once the camera has been silent past its supervision
interval (the heartbeat). Everything pulled is handed to the sink and pulling resumes only
after the commit: the camera keeps later messages queued meanwhile. The subscription is renewed
at 80 % of its lifetime as the camera's own clock states it (``CurrentTime`` and
``TerminationTime``), measured on our monotonic clock. Any failure (unreachable camera, SOAP
fault, garbage reply) drops the subscription; a new one is made after a capped exponential
backoff. The state of each state topic survives reconnects, so the ``Initialized`` messages of
a new subscription repeat nothing.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import aiohttp
from zeep.exceptions import Error as ZeepError
from zeep.settings import Settings as ZeepSettings

from watchfloor.codecs.errors import DecodeError, FormatError
from watchfloor.codecs.onvif import (
    Action,
    OnvifEvent,
    PullMessagesReply,
    decide,
    decode_pull_messages,
)
from watchfloor.core.alarm_types import CodeSystem, SourceCode
from watchfloor.core.errors import StoreUnavailableError
from watchfloor.core.ports import Clock, SignalSink
from watchfloor.core.signals import LinkTest, Signal, SignalSource

# The onvif package calls logging.basicConfig(level=INFO) when it is first imported, which
# would configure the whole process's logging (every command would print INFO lines to
# stderr). Import it with the root logger put back as it was.
_ROOT = logging.getLogger()
_ROOT_STATE = (list(_ROOT.handlers), _ROOT.level)
from onvif import ONVIFCamera  # noqa: E402
from onvif.exceptions import ONVIFError  # noqa: E402

_ROOT.handlers[:] = _ROOT_STATE[0]
_ROOT.setLevel(_ROOT_STATE[1])

__all__ = ["OnvifCamera", "OnvifReceiver", "OnvifTiming", "serve_onvif_device"]

logger = logging.getLogger(__name__)

_PULLPOINT = "http://www.onvif.org/ver10/events/wsdl/PullPointSubscription"
#: Renew when this share of the subscription's lifetime has passed (as onvif-zeep-async does).
_RENEW_AT = 0.8
#: What a camera may do wrong: refuse, time out, fault, answer garbage.
_DEVICE_ERRORS = (
    ONVIFError,
    ZeepError,
    DecodeError,
    aiohttp.ClientError,
    TimeoutError,
    OSError,
)


@dataclass(frozen=True, slots=True, kw_only=True)
class OnvifCamera:
    """How to reach one ONVIF camera and the device name its signals carry.

    ``device`` is the name the camera is registered under (a device of kind ``onvif``); the
    password never appears in a repr or a log.
    """

    device: str
    host: str
    port: int = 80
    username: str | None = None
    password: str | None = field(default=None, repr=False)


@dataclass(frozen=True, slots=True, kw_only=True)
class OnvifTiming:
    """The receiver's timing.

    ``heartbeat`` is how often a healthy camera is proven alive; it is the device's
    supervision interval. Each pull waits at most half of it (and at most ``max_pull``) for
    messages. ``subscription`` is the lifetime asked for at creation and renewal. After a
    failure the next attempt waits ``backoff_initial`` seconds, doubling up to ``backoff_max``.
    """

    heartbeat: timedelta = timedelta(seconds=60)
    max_pull: timedelta = timedelta(seconds=20)
    subscription: timedelta = timedelta(minutes=10)
    backoff_initial: float = 1.0
    backoff_max: float = 60.0
    #: How much longer than the pull itself an HTTP exchange may take.
    slack: float = 10.0
    #: How long discovery and subscription may take (the first one loads the WSDL files).
    setup_timeout: float = 60.0

    @property
    def pull_seconds(self) -> int:
        """The PullMessages ``Timeout``, in whole seconds (at least one)."""
        return max(1, int(min(self.heartbeat / 2, self.max_pull).total_seconds()))


class OnvifReceiver:
    """Receives one camera's events until cancelled; ``counters`` feed the metrics."""

    def __init__(
        self,
        *,
        camera: OnvifCamera,
        sink: SignalSink,
        clock: Clock,
        timing: OnvifTiming | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._camera = camera
        self._sink = sink
        self._clock = clock
        self._timing = timing or OnvifTiming()
        self._sleep = sleep
        self._peer = f"{camera.host}:{camera.port}"
        #: The last known state of each (topic, source) property of a state topic.
        self._states: dict[tuple[str, tuple[tuple[str, str], ...]], bool | None] = {}
        self.counters: Counter[str] = Counter()

    async def serve(self) -> None:
        """Subscribe, pull and deliver until cancelled; reconnect after every failure.

        Cancellation unsubscribes (best effort, bounded) and closes the HTTP sessions.
        Messages pulled but not yet committed when cancelled are lost, as when a camera
        restarts: ONVIF has no acknowledgement of pulled messages. A store outage is not a
        cancellation: delivery is retried until it commits, and the camera queues meanwhile.
        """
        delay = self._timing.backoff_initial
        while True:
            pulls = self.counters["pulls"]
            try:
                await self._session()
            except _DEVICE_ERRORS as err:
                self.counters["failures"] += 1
                logger.warning(
                    "onvif %s: %s: %s; reconnecting",
                    self._camera.device,
                    type(err).__name__,
                    err,
                )
            except Exception:  # task boundary: one camera's bug must not end its receiver
                self.counters["failures"] += 1
                logger.exception("onvif %s: receiver failed", self._camera.device)
            # Only a session that pulled resets the backoff: a camera that accepts the
            # subscription and then fails every pull is still backed off.
            if self.counters["pulls"] > pulls:
                delay = self._timing.backoff_initial
            await self._sleep(delay)
            delay = min(delay * 2, self._timing.backoff_max)

    async def _session(self) -> None:
        """Run one subscription until it fails (it only ends by raising)."""
        camera = ONVIFCamera(
            self._camera.host,
            self._camera.port,
            self._camera.username,
            self._camera.password,
            no_cache=True,
        )
        subscription = None
        try:
            async with asyncio.timeout(self._timing.setup_timeout):
                await camera.update_xaddrs()
                events = await camera.create_events_service()
                created = await events.CreatePullPointSubscription(
                    {"InitialTerminationTime": self._lifetime()}
                )
                camera.xaddrs[_PULLPOINT] = created.SubscriptionReference.Address._value_1
                subscription = await camera.create_subscription_service("PullPointSubscription")
                pullpoint = await camera.create_pullpoint_service()
            self.counters["subscriptions"] += 1
            # PullMessages replies go to the codec as received (zeep would parse them and
            # fail on garbage in ways of its own). Only this client gets the setting: the
            # library's default settings object is shared by every camera.
            pullpoint.zeep_client.settings = ZeepSettings(raw_response=True)
            renew_at = self._renew_at(created.CurrentTime, created.TerminationTime)
            while True:
                async with asyncio.timeout(self._timing.pull_seconds + self._timing.slack):
                    response = await pullpoint.PullMessages(
                        {"Timeout": f"PT{self._timing.pull_seconds}S", "MessageLimit": 100}
                    )
                await self._deliver(self._decode(response.content))
                self.counters["pulls"] += 1
                if self._clock.monotonic() >= renew_at:
                    async with asyncio.timeout(self._timing.slack):
                        renewed = await subscription.Renew({"TerminationTime": self._lifetime()})
                    self.counters["renewals"] += 1
                    renew_at = self._renew_at(
                        getattr(renewed, "CurrentTime", None), renewed.TerminationTime
                    )
        finally:
            await self._close(camera, subscription)

    def _decode(self, content: object) -> PullMessagesReply:
        try:
            if not isinstance(content, bytes):
                raise FormatError("the camera's reply has no body")
            reply = decode_pull_messages(content)
        except DecodeError:
            self.counters["rejected_replies"] += 1
            raise
        for error in reply.rejected:
            self.counters["rejected_messages"] += 1
            logger.warning("onvif %s: message rejected: %s", self._camera.device, error)
        return reply

    async def _deliver(self, reply: PullMessagesReply) -> None:
        """Hand the reply's signals and a link test to the sink; retry while it cannot commit.

        The states are updated only once committed, so a retry decides the same again.
        """
        now = self._clock.now()
        states = dict(self._states)
        signals = [
            signal
            for event in reply.events
            if (signal := self._signal(event, states, now)) is not None
        ]
        items: Sequence[Signal | LinkTest] = [
            *signals,
            LinkTest(
                source=SignalSource.ONVIF,
                received_at=now,
                device=self._camera.device,
                peer=self._peer,
            ),
        ]
        delay = self._timing.backoff_initial
        while True:
            try:
                await self._sink.submit(items)
                break
            except StoreUnavailableError:
                self.counters["store_unavailable"] += 1
                logger.error(
                    "onvif %s: store unavailable; retrying in %g s", self._camera.device, delay
                )
                await self._sleep(delay)
                delay = min(delay * 2, self._timing.backoff_max)
        self._states = states
        self.counters["messages"] += len(reply.events)
        self.counters["signals"] += len(signals)

    def _signal(
        self,
        event: OnvifEvent,
        states: dict[tuple[str, tuple[tuple[str, str], ...]], bool | None],
        now: datetime,
    ) -> Signal | None:
        decision = decide(event, states.get(event.state_key))
        states[event.state_key] = decision.state
        if decision.action is Action.IGNORE:
            logger.debug(
                "onvif %s: %s ignored (%s)", self._camera.device, event.topic, decision.reason
            )
            return None
        data = " ".join(f"{name}={value}" for name, value in event.data)
        return Signal(
            source=SignalSource.ONVIF,
            received_at=now,
            device=self._camera.device,
            code=SourceCode(system=CodeSystem.ONVIF, code=event.topic),
            zone=event.zone,
            restore=decision.action is Action.RESTORE,
            text=f"{event.topic} {data}".strip(),
            raw=event.raw,
            peer=self._peer,
        )

    def _lifetime(self) -> str:
        return f"PT{int(self._timing.subscription.total_seconds())}S"

    def _renew_at(self, current: datetime | None, termination: datetime | None) -> float:
        # The camera's two times come from the same clock, so their difference is right even
        # when that clock is wrong; without them, trust the lifetime asked for.
        lifetime = (
            termination - current
            if isinstance(current, datetime) and isinstance(termination, datetime)
            else self._timing.subscription
        )
        return self._clock.monotonic() + max(lifetime.total_seconds(), 1.0) * _RENEW_AT

    async def _close(self, camera: ONVIFCamera, subscription: Any) -> None:
        try:
            if subscription is not None:
                async with asyncio.timeout(self._timing.slack):
                    await subscription.Unsubscribe()
        except _DEVICE_ERRORS as err:
            logger.debug("onvif %s: unsubscribe failed: %s", self._camera.device, err)
        finally:
            await camera.close()


async def serve_onvif_device(
    *,
    host: str,
    port: int,
    username: str | None,
    password: str | None,
    device: str,
    sink: SignalSink,
    clock: Clock,
    heartbeat: timedelta = timedelta(seconds=60),
) -> None:
    """Receive one camera's events until cancelled (see ``OnvifReceiver``).

    ``heartbeat`` must equal the device's supervision interval: a healthy camera is heard
    (a link test) at least twice per heartbeat.
    """
    receiver = OnvifReceiver(
        camera=OnvifCamera(
            device=device, host=host, port=port, username=username, password=password
        ),
        sink=sink,
        clock=clock,
        timing=OnvifTiming(heartbeat=heartbeat),
    )
    await receiver.serve()

"""Signed webhooks: delivery to a real HTTP server, retries with backoff, dead letters.

Time is a FakeClock; the outbox attempts what is due when ``run_due`` is called, so the
retry schedule is checked without sleeping.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import httpx
import pytest

from conftest import TOKEN
from support.clock import FakeClock
from support.receivers import open_webhook_receiver, signature_of
from watchfloor.app import Platform
from watchfloor.codecs.webhook import verify_signature
from watchfloor.core.alarms import Alarm, AlarmState
from watchfloor.core.notifications import (
    Channel,
    DeliveryOutcome,
    NotificationRule,
    SentNotice,
    WebhookTarget,
    notice_of,
)
from watchfloor.core.ports import AlarmEvent, AlarmEventKind
from watchfloor.core.principals import Role
from watchfloor.core.signals import Origin
from watchfloor.notifiers.webhook import RetryPolicy, WebhookOutbox
from watchfloor.store.dispatch import SqlDispatchStore

SECRET = "webhook secret"
T0 = datetime(2026, 1, 15, 3, 0, tzinfo=UTC)


class RecordingLog:
    """A NotificationLog that keeps what it is told."""

    def __init__(self) -> None:
        self.sent: list[SentNotice] = []

    def record(self, sent: SentNotice) -> None:
        self.sent.append(sent)

    @property
    def outcomes(self) -> list[DeliveryOutcome]:
        return [s.outcome for s in self.sent]


def _notice() -> AlarmEvent:
    alarm = Alarm(
        id=5,
        origin=Origin.PATROL,
        type_code=850,
        type_name="Staff report",
        category="report",
        priority=3,
        state=AlarmState.NEW,
        site="Depot",
        device="patrol:guard",
        zone=None,
        signal_count=1,
        first_at=T0,
        last_at=T0,
    )
    return AlarmEvent(kind=AlarmEventKind.CREATED, alarm=alarm)


def _rule(url: str) -> NotificationRule:
    return NotificationRule(
        name="ops", channel=Channel.WEBHOOK, target=WebhookTarget(url=url, secret=SECRET)
    )


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient() as client:
        yield client


async def test_a_delivery_is_signed_and_retried_with_backoff(
    platform: Platform, http: httpx.AsyncClient, clock: FakeClock
) -> None:
    log = RecordingLog()
    outbox = WebhookOutbox(
        client=http,
        clock=clock,
        dead_letters=SqlDispatchStore(platform.engine, clock),
        log=log,
        policy=RetryPolicy(max_attempts=5, first_delay=2, max_delay=3),
    )
    with open_webhook_receiver(statuses=[500, 503, 502]) as receiver:
        assert outbox.enqueue(_rule(receiver.url), notice_of(_notice()))
        schedule: list[int] = []
        for step in (0, 1, 1, 1, 1, 1, 1, 1, 1):  # bounded: more steps than the schedule needs
            clock.advance(step)
            schedule.append(await outbox.run_due())
        deliveries = [await asyncio.to_thread(receiver.next) for _ in range(4)]
    # Attempts at 0 s, then after 2 s, 3 s (capped) and 3 s again.
    assert schedule == [1, 0, 1, 0, 0, 1, 0, 0, 1]
    assert log.outcomes == [DeliveryOutcome.FAILED] * 3 + [DeliveryOutcome.SENT]
    assert [s.attempt for s in log.sent] == [1, 2, 3, 4]
    assert outbox.pending == 0
    for delivery in deliveries:
        now = int(clock.now().timestamp())
        assert verify_signature(
            signature_of(delivery), delivery.body, secret=SECRET.encode(), now=now
        )
    body = json.loads(deliveries[-1].body)
    assert body["event"] == "alarm.created"
    assert body["alarm"]["site"] == "Depot"
    assert "guard" not in deliveries[-1].body.decode()


async def test_a_delivery_that_always_fails_becomes_a_dead_letter(
    platform: Platform, http: httpx.AsyncClient, clock: FakeClock
) -> None:
    log = RecordingLog()
    outbox = WebhookOutbox(
        client=http,
        clock=clock,
        dead_letters=SqlDispatchStore(platform.engine, clock),
        log=log,
        policy=RetryPolicy(max_attempts=3, first_delay=1, max_delay=60),
    )
    with open_webhook_receiver(statuses=[500] * 10) as receiver:
        outbox.enqueue(_rule(receiver.url), notice_of(_notice()))
        for step in (0, 1, 2, 4):
            clock.advance(step)
            await outbox.run_due()
    assert log.outcomes == [DeliveryOutcome.FAILED] * 2 + [DeliveryOutcome.DEAD_LETTER]
    assert outbox.pending == 0
    transport = httpx.ASGITransport(app=platform.api)
    async with httpx.AsyncClient(transport=transport, base_url="http://wf") as api:
        letters = await api.get(
            "/api/notifications/dead-letters", headers={"Authorization": f"Bearer {TOKEN}"}
        )
    assert letters.status_code == 200
    (letter,) = letters.json()["items"]
    assert (letter["rule"], letter["attempts"], letter["last_error"]) == ("ops", 3, "HTTP 500")
    assert letter["destination"] == receiver.url
    assert json.loads(letter["body"])["alarm"]["id"] == 5


async def test_an_unreachable_receiver_is_retried(
    platform: Platform, http: httpx.AsyncClient, clock: FakeClock
) -> None:
    log = RecordingLog()
    outbox = WebhookOutbox(
        client=http,
        clock=clock,
        dead_letters=SqlDispatchStore(platform.engine, clock),
        log=log,
    )
    with open_webhook_receiver() as receiver:
        closed_url = receiver.url
    outbox.enqueue(_rule(closed_url), notice_of(_notice()))
    await outbox.run_due()
    assert log.outcomes == [DeliveryOutcome.FAILED]
    assert "ConnectError" in log.sent[0].detail
    assert outbox.next_due() == clock.monotonic() + 2


async def test_a_full_outbox_drops_and_says_so(
    platform: Platform, http: httpx.AsyncClient, clock: FakeClock
) -> None:
    log = RecordingLog()
    outbox = WebhookOutbox(
        client=http,
        clock=clock,
        dead_letters=SqlDispatchStore(platform.engine, clock),
        log=log,
        max_pending=1,
    )
    rule = _rule("http://127.0.0.1:9/hook")
    assert outbox.enqueue(rule, notice_of(_notice()))
    assert not outbox.enqueue(rule, notice_of(_notice()))
    assert log.outcomes == [DeliveryOutcome.DROPPED]
    assert outbox.pending == 1


def test_backoff_doubles_and_is_capped() -> None:
    policy = RetryPolicy(first_delay=2, max_delay=30)
    assert [policy.delay(n) for n in range(1, 7)] == [2, 4, 8, 16, 30, 30]


async def test_dead_letters_are_for_administrators(platform: Platform) -> None:
    await platform.users.ensure_token(
        user="olga",
        role=Role.OPERATOR,
        label="t",
        token="operator-token",
    )
    transport = httpx.ASGITransport(app=platform.api)
    async with httpx.AsyncClient(transport=transport, base_url="http://wf") as api:
        response = await api.get(
            "/api/notifications/dead-letters", headers={"Authorization": "Bearer operator-token"}
        )
    assert response.status_code == 403

"""Signed webhooks with retries and a dead-letter list.

Theory of operation: ``enqueue`` puts a delivery in a bounded outbox (full: the notice is
dropped and logged; intake is never held up). ``run_due`` attempts every delivery whose time
has come; a failure (no connection, timeout, non-2xx) is retried after a capped exponential
backoff, and after ``max_attempts`` the delivery goes to the dead-letter store for
administrators. ``serve`` calls ``run_due`` whenever a delivery falls due. Each attempt is
signed afresh (``codecs.webhook``), so a retry never carries a stale timestamp.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
from dataclasses import dataclass, replace

import httpx

from watchfloor.codecs.webhook import SIGNATURE_HEADER, sign_body
from watchfloor.core.notifications import (
    Channel,
    DeadLetter,
    DeadLetterStore,
    DeliveryOutcome,
    Notice,
    NotificationLog,
    NotificationRule,
    SentNotice,
    WebhookTarget,
    encode_notice,
)
from watchfloor.core.ports import Clock

__all__ = ["DEFAULT_RETRY", "RetryPolicy", "WebhookOutbox"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True, kw_only=True)
class RetryPolicy:
    """How often and how patiently a delivery is retried."""

    max_attempts: int = 6
    first_delay: float = 2.0
    max_delay: float = 300.0
    timeout: float = 10.0

    def delay(self, attempt: int) -> float:
        """Return the wait after failed attempt ``attempt`` (1-based): doubling, capped."""
        return float(min(self.max_delay, self.first_delay * 2 ** (attempt - 1)))


DEFAULT_RETRY = RetryPolicy()


@dataclass(frozen=True, slots=True, kw_only=True)
class _Delivery:
    id: int
    rule: str
    target: WebhookTarget
    notice: Notice
    body: bytes
    attempt: int
    due: float


class WebhookOutbox:
    """Deliveries of webhook notices, attempted when due."""

    def __init__(
        self,
        *,
        client: httpx.AsyncClient,
        clock: Clock,
        dead_letters: DeadLetterStore,
        log: NotificationLog,
        policy: RetryPolicy = DEFAULT_RETRY,
        max_pending: int = 10_000,
    ) -> None:
        self._client = client
        self._clock = clock
        self._dead_letters = dead_letters
        self._log = log
        self._policy = policy
        self._max_pending = max_pending
        self._pending: list[_Delivery] = []
        self._ids = itertools.count(1)
        self._wakeup = asyncio.Event()

    @property
    def pending(self) -> int:
        """How many deliveries wait for their (next) attempt."""
        return len(self._pending)

    def enqueue(self, rule: NotificationRule, notice: Notice) -> bool:
        """Queue a notice for a webhook rule; False (and logged) when the outbox is full."""
        assert isinstance(rule.target, WebhookTarget)  # noqa: S101 - the dispatcher's routing
        if len(self._pending) >= self._max_pending:
            self._record(rule.name, rule.target, notice, DeliveryOutcome.DROPPED, 0, "outbox full")
            return False
        self._pending.append(
            _Delivery(
                id=next(self._ids),
                rule=rule.name,
                target=rule.target,
                notice=notice,
                body=encode_notice(notice),
                attempt=1,
                due=self._clock.monotonic(),
            )
        )
        self._wakeup.set()
        return True

    def next_due(self) -> float | None:
        """Return the monotonic time of the next attempt (None: nothing pending)."""
        return min((d.due for d in self._pending), default=None)

    async def run_due(self) -> int:
        """Attempt every delivery that is due now; return how many were attempted."""
        now = self._clock.monotonic()
        due = [d for d in self._pending if d.due <= now]
        self._pending = [d for d in self._pending if d.due > now]
        for delivery in due:
            await self._attempt(delivery)
        return len(due)

    async def serve(self) -> None:
        """Attempt deliveries as they fall due, until cancelled (pending ones are lost)."""
        while True:
            await self.run_due()
            self._wakeup.clear()
            next_due = self.next_due()
            wait = None if next_due is None else max(0.0, next_due - self._clock.monotonic())
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(wait):
                    await self._wakeup.wait()

    async def _attempt(self, delivery: _Delivery) -> None:
        timestamp = int(self._clock.now().timestamp())
        headers = {
            "Content-Type": "application/json",
            SIGNATURE_HEADER: sign_body(
                delivery.body, secret=delivery.target.secret.encode(), timestamp=timestamp
            ),
            "X-Watchfloor-Event": delivery.notice.event.value,
            "X-Watchfloor-Delivery": str(delivery.id),
        }
        try:
            response = await self._client.post(
                delivery.target.url,
                content=delivery.body,
                headers=headers,
                timeout=self._policy.timeout,
            )
            error = "" if response.is_success else f"HTTP {response.status_code}"
        except httpx.HTTPError as err:
            error = f"{type(err).__name__}: {err}"
        if not error:
            self._record(
                delivery.rule,
                delivery.target,
                delivery.notice,
                DeliveryOutcome.SENT,
                delivery.attempt,
            )
            return
        if delivery.attempt >= self._policy.max_attempts:
            await self._bury(delivery, error)
            return
        self._record(
            delivery.rule,
            delivery.target,
            delivery.notice,
            DeliveryOutcome.FAILED,
            delivery.attempt,
            error,
        )
        self._pending.append(
            replace(
                delivery,
                attempt=delivery.attempt + 1,
                due=self._clock.monotonic() + self._policy.delay(delivery.attempt),
            )
        )

    async def _bury(self, delivery: _Delivery, error: str) -> None:
        self._record(
            delivery.rule,
            delivery.target,
            delivery.notice,
            DeliveryOutcome.DEAD_LETTER,
            delivery.attempt,
            error,
        )
        try:
            await self._dead_letters.add_dead_letter(
                DeadLetter(
                    id=0,
                    rule=delivery.rule,
                    channel=Channel.WEBHOOK.value,
                    destination=delivery.target.url,
                    alarm_id=delivery.notice.alarm_id,
                    body=delivery.body.decode(),
                    attempts=delivery.attempt,
                    last_error=error,
                    failed_at=self._clock.now(),
                )
            )
        except Exception:  # task boundary: the outbox must outlive a store failure
            logger.exception("could not keep the dead letter of rule %s", delivery.rule)

    def _record(
        self,
        rule: str,
        target: WebhookTarget,
        notice: Notice,
        outcome: DeliveryOutcome,
        attempt: int,
        detail: str = "",
    ) -> None:
        self._log.record(
            SentNotice(
                rule=rule,
                channel=Channel.WEBHOOK,
                destination=target.url,
                notice=notice,
                outcome=outcome,
                at=self._clock.now(),
                attempt=attempt,
                detail=detail,
            )
        )

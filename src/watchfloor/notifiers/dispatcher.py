"""The notification dispatcher: committed alarm changes in, notices out per the rules.

Theory of operation: the dispatcher subscribes to the alarm bus like a console. The bus
never blocks intake: each subscriber has a bounded queue, and one that falls behind is cut
off. When that happens the dispatcher counts the lost backlog as dropped, logs it, and
subscribes again. For each change, every matching rule gets the minimal ``Notice``:
webhooks go to the outbox (retried there), MQTT and e-mail are sent at once under a
timeout. Every outcome passes the one ``NotificationLog``.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence

from watchfloor.core.notifications import (
    Channel,
    DeliveryOutcome,
    EmailTarget,
    MqttTarget,
    Notice,
    NotificationLog,
    NotificationRule,
    SentNotice,
    matching_rules,
    notice_of,
)
from watchfloor.core.ports import AlarmEvent, Clock, EventSource
from watchfloor.notifiers.webhook import WebhookOutbox

__all__ = ["NotificationDispatcher", "Send"]

logger = logging.getLogger(__name__)

#: Sends one notice for a rule; returns where it went; raises on failure.
Send = Callable[[NotificationRule, Notice], Awaitable[str]]


class NotificationDispatcher:
    """Sends the notices of committed alarm changes per the configured rules."""

    def __init__(
        self,
        *,
        rules: Sequence[NotificationRule],
        outbox: WebhookOutbox,
        senders: Mapping[Channel, Send],
        log: NotificationLog,
        clock: Clock,
        send_timeout: float = 15.0,
    ) -> None:
        self._rules = tuple(rules)
        self._outbox = outbox
        self._senders = senders
        self._log = log
        self._clock = clock
        self._send_timeout = send_timeout
        self.dropped_backlogs = 0

    async def serve(self, events: EventSource) -> None:
        """Notify for every change on the bus until cancelled."""
        task = asyncio.current_task()
        while True:
            async for event in _events(events):
                await self.notify(event)
                if task is not None and task.cancelling():
                    # A sender's client library swallowed our cancellation (seen at
                    # shutdown, mid-send): honour it rather than wait for the next event.
                    raise asyncio.CancelledError
            self.dropped_backlogs += 1
            logger.error(
                "notifications fell behind the alarm stream and lost its backlog "
                "(%s times so far); resubscribing",
                self.dropped_backlogs,
            )

    async def notify(self, event: AlarmEvent) -> None:
        """Send (or queue) the notices of one change; failures are logged, never raised."""
        notice = notice_of(event)
        for rule in matching_rules(self._rules, event):
            if rule.channel is Channel.WEBHOOK:
                self._outbox.enqueue(rule, notice)
                continue
            await self._send(rule, notice)

    async def _send(self, rule: NotificationRule, notice: Notice) -> None:
        send = self._senders[rule.channel]
        destination = _destination(rule)
        try:
            async with asyncio.timeout(self._send_timeout):
                destination = await send(rule, notice)
        except Exception as err:  # noqa: BLE001 - task boundary: one receiver's fault stops no other; logged by the notification log
            self._record(rule, notice, destination, DeliveryOutcome.FAILED, f"{err!r}")
            return
        self._record(rule, notice, destination, DeliveryOutcome.SENT)

    def _record(
        self,
        rule: NotificationRule,
        notice: Notice,
        destination: str,
        outcome: DeliveryOutcome,
        detail: str = "",
    ) -> None:
        self._log.record(
            SentNotice(
                rule=rule.name,
                channel=rule.channel,
                destination=destination,
                notice=notice,
                outcome=outcome,
                at=self._clock.now(),
                detail=detail,
            )
        )


def _destination(rule: NotificationRule) -> str:
    target = rule.target
    if isinstance(target, MqttTarget):
        return f"mqtt://{target.host}:{target.port}/{target.topic_prefix}"
    if isinstance(target, EmailTarget):
        return ", ".join(target.recipients)
    return rule.name


async def _events(source: EventSource) -> AsyncIterator[AlarmEvent]:
    async with source.subscribe() as queue:
        while (event := await queue.get()) is not None:
            yield event

"""The channel senders the dispatcher calls, bound to their rules' targets."""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from watchfloor.core.notifications import (
    Channel,
    EmailTarget,
    MqttTarget,
    Notice,
    NotificationRule,
)
from watchfloor.notifiers.dispatcher import Send
from watchfloor.notifiers.email import send_email
from watchfloor.notifiers.mqtt import publish_mqtt

__all__ = ["SENDERS"]


async def _mqtt(rule: NotificationRule, notice: Notice) -> str:
    assert isinstance(rule.target, MqttTarget)  # noqa: S101 - rules are checked at start-up
    return await publish_mqtt(rule.target, notice)


async def _email(rule: NotificationRule, notice: Notice) -> str:
    assert isinstance(rule.target, EmailTarget)  # noqa: S101 - rules are checked at start-up
    return await send_email(rule.target, notice)


#: The sender of each channel that sends at once (webhooks go through the outbox).
SENDERS: Mapping[Channel, Send] = MappingProxyType({Channel.MQTT: _mqtt, Channel.EMAIL: _email})

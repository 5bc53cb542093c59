"""MQTT publication of notices, for Home Assistant and Node-RED users."""

from __future__ import annotations

import aiomqtt

from watchfloor.core.notifications import MqttTarget, Notice, encode_notice, mqtt_topic

__all__ = ["publish_mqtt"]


async def publish_mqtt(target: MqttTarget, notice: Notice, *, patience: float = 10.0) -> str:
    """Publish a notice (QoS 1, not retained) under its topic; return the topic.

    One connection per notice: alarms are rare enough, and nothing is left open towards a
    broker that restarts. Raises ``aiomqtt.MqttError`` or ``TimeoutError``.
    """
    topic = mqtt_topic(target.topic_prefix, notice)
    async with aiomqtt.Client(
        target.host,
        port=target.port,
        username=target.username,
        password=target.password,
        timeout=patience,
    ) as client:
        await client.publish(topic, payload=encode_notice(notice), qos=1, retain=False)
    return topic

"""The ``[[notify]]`` rules of the config file, checked and turned into notification rules.

Each entry names a ``channel`` and its target, and what it matches::

    [[notify]]
    name = "ops"                  # optional; "<channel>-<n>" otherwise
    channel = "webhook"           # webhook | mqtt | email | cap
    url = "https://hooks.example.org/watchfloor"
    secret = "shared secret"      # webhook: signs each body
    events = ["created", "updated", "escalated"]   # default: ["created"]
    types = [110, 130]            # alarm type codes; default: all
    categories = ["fire"]         # default: all
    sites = ["Depot North"]       # default: all
    max_priority = 2              # least urgent priority that fires; default 5
    levels = ["duty_manager"]     # escalation levels reached (the taxonomy's ladder); default: all

MQTT takes ``broker = "HOST:PORT"``, ``topic_prefix``, ``username``, ``password``; e-mail
takes ``smtp = "HOST:PORT"``, ``sender``, ``to = [...]``, ``username``, ``password``,
``starttls``; ``cap`` takes no target (it selects what the CAP feed publishes).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

from watchfloor.core.notifications import (
    Channel,
    EmailTarget,
    Match,
    MqttTarget,
    NotificationRule,
    WebhookTarget,
)
from watchfloor.core.ports import AlarmEventKind

__all__ = ["read_notify_rules"]

_EVENTS: Final = {kind.value.removeprefix("alarm."): kind for kind in AlarmEventKind}
_MATCH_KEYS: Final = {
    "name",
    "channel",
    "events",
    "types",
    "categories",
    "sites",
    "max_priority",
    "levels",
}
_TARGET_KEYS: Final = {
    Channel.WEBHOOK: {"url", "secret"},
    Channel.MQTT: {"broker", "topic_prefix", "username", "password"},
    Channel.EMAIL: {"smtp", "sender", "to", "username", "password", "starttls"},
    Channel.CAP: set(),
}


class _Reader:
    def __init__(self, where: str, entry: Mapping[str, object], problems: list[str]) -> None:
        self.where = where
        self.entry = entry
        self.problems = problems

    def fail(self, message: str) -> None:
        self.problems.append(f"{self.where}: {message}")

    def text(self, key: str, *, required: bool = True) -> str | None:
        value = self.entry.get(key)
        if value is None and not required:
            return None
        if not isinstance(value, str) or not value.strip():
            self.fail(f"{key} must be a non-empty string")
            return None
        return value.strip()

    def texts(self, key: str) -> frozenset[str]:
        value = self.entry.get(key, [])
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            self.fail(f"{key} must be a list of strings")
            return frozenset()
        return frozenset(value)

    def address(self, key: str) -> tuple[str, int] | None:
        text = self.text(key)
        if text is None:
            return None
        host, _, port = text.rpartition(":")
        if not host or not port.isdigit() or not 0 < int(port) < 65536:
            self.fail(f"{key} must be HOST:PORT, not {text!r}")
            return None
        return host.strip("[]"), int(port)

    def match(self) -> Match:
        events = self.texts("events") or frozenset({"created"})
        unknown = sorted(events - _EVENTS.keys())
        if unknown:
            self.fail(f"unknown events {unknown}; choose from {sorted(_EVENTS)}")
        types = self.entry.get("types", [])
        if not isinstance(types, list) or not all(
            isinstance(t, int) and not isinstance(t, bool) for t in types
        ):
            self.fail("types must be a list of alarm type codes")
            types = []
        max_priority = self.entry.get("max_priority", 5)
        if isinstance(max_priority, bool) or max_priority not in range(1, 6):
            self.fail("max_priority must be a whole number from 1 to 5")
            max_priority = 5
        return Match(
            events=frozenset(_EVENTS[e] for e in events if e in _EVENTS),
            type_codes=frozenset(types),
            categories=self.texts("categories"),
            sites=self.texts("sites"),
            max_priority=int(str(max_priority)),
            levels=self.texts("levels"),
        )

    def target(self, channel: Channel) -> WebhookTarget | MqttTarget | EmailTarget | None:
        if channel is Channel.WEBHOOK:
            url, secret = self.text("url"), self.text("secret")
            if url is not None and not url.startswith(("http://", "https://")):
                self.fail(f"url must be http:// or https://, not {url!r}")
            return None if url is None or secret is None else WebhookTarget(url=url, secret=secret)
        if channel is Channel.MQTT:
            broker = self.address("broker")
            prefix = self.text("topic_prefix", required=False) or "watchfloor"
            if any(c in prefix for c in "+#") or prefix.startswith("/"):
                self.fail(f"topic_prefix {prefix!r} may not hold + or # or start with /")
            return (
                None
                if broker is None
                else MqttTarget(
                    host=broker[0],
                    port=broker[1],
                    topic_prefix=prefix,
                    username=self.text("username", required=False),
                    password=self.text("password", required=False),
                )
            )
        if channel is Channel.EMAIL:
            smtp, sender = self.address("smtp"), self.text("sender")
            recipients = tuple(sorted(self.texts("to")))
            if not recipients:
                self.fail("to must list at least one recipient")
            starttls = self.entry.get("starttls", False)
            if not isinstance(starttls, bool):
                self.fail("starttls must be true or false")
            if smtp is None or sender is None or not recipients:
                return None
            return EmailTarget(
                host=smtp[0],
                port=smtp[1],
                sender=sender,
                recipients=recipients,
                username=self.text("username", required=False),
                password=self.text("password", required=False),
                starttls=starttls is True,
            )
        return None


def read_notify_rules(
    entries: object, *, origin: str
) -> tuple[tuple[NotificationRule, ...], list[str]]:
    """Return the rules of a decoded ``notify`` array and every problem found in it."""
    problems: list[str] = []
    if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
        return (), [f"{origin}: notify must be an array of tables ([[notify]])"]
    rules: list[NotificationRule] = []
    for index, entry in enumerate(entries, start=1):
        reader = _Reader(f"{origin}: notify #{index}", entry, problems)
        try:
            channel = Channel(str(entry.get("channel")))
        except ValueError:
            reader.fail(f"channel must be one of {[c.value for c in Channel]}")
            continue
        unknown = sorted(set(entry) - _MATCH_KEYS - _TARGET_KEYS[channel])
        if unknown:
            reader.fail(f"unknown keys {unknown} for a {channel} rule")
        name = reader.text("name", required=False) or f"{channel}-{index}"
        match = reader.match()
        target = reader.target(channel)
        if target is not None or channel is Channel.CAP:
            rules.append(NotificationRule(name=name, channel=channel, match=match, target=target))
    return tuple(rules), problems

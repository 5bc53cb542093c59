"""The [[notify]] rules of the config file: read into rules, every problem reported."""

from __future__ import annotations

from pathlib import Path

import pytest

from watchfloor.config import SettingsError, load_settings
from watchfloor.core.notifications import (
    Channel,
    EmailTarget,
    Match,
    MqttTarget,
    NotificationRule,
    WebhookTarget,
)
from watchfloor.core.ports import AlarmEventKind

GOOD = """
cap_sender = "arc.example.org"

[[notify]]
name = "ops"
channel = "webhook"
url = "https://hooks.example.org/wf"
secret = "s3cret"
events = ["created", "escalated"]
types = [110, 130]
max_priority = 2
levels = ["duty_manager"]

[[notify]]
channel = "mqtt"
broker = "127.0.0.1:1883"
topic_prefix = "home/alarms"
sites = ["Depot North"]

[[notify]]
channel = "email"
smtp = "mail.example.org:587"
sender = "wf@example.org"
to = ["duty@example.org", "boss@example.org"]
starttls = true
categories = ["fire"]

[[notify]]
channel = "cap"
max_priority = 3
"""


def _load(tmp_path: Path, text: str) -> tuple[NotificationRule, ...]:
    config = tmp_path / "watchfloor.toml"
    config.write_text(text)
    return load_settings(config_file=config, environ={}).notify


def test_rules_are_read_with_their_targets_and_matches(tmp_path: Path) -> None:
    ops, mqtt, mail, cap = _load(tmp_path, GOOD)
    assert ops == NotificationRule(
        name="ops",
        channel=Channel.WEBHOOK,
        match=Match(
            events=frozenset({AlarmEventKind.CREATED, AlarmEventKind.ESCALATED}),
            type_codes=frozenset({110, 130}),
            max_priority=2,
            levels=frozenset({"duty_manager"}),
        ),
        target=WebhookTarget(url="https://hooks.example.org/wf", secret="s3cret"),
    )
    assert mqtt.name == "mqtt-2"
    assert mqtt.target == MqttTarget(host="127.0.0.1", port=1883, topic_prefix="home/alarms")
    assert mqtt.match.sites == frozenset({"Depot North"})
    assert mail.target == EmailTarget(
        host="mail.example.org",
        port=587,
        sender="wf@example.org",
        recipients=("boss@example.org", "duty@example.org"),
        starttls=True,
    )
    assert (cap.channel, cap.target, cap.match.max_priority) == (Channel.CAP, None, 3)


def test_the_secret_stays_out_of_the_settings_repr(tmp_path: Path) -> None:
    config = tmp_path / "watchfloor.toml"
    config.write_text(GOOD)
    assert "s3cret" not in repr(load_settings(config_file=config, environ={}))


@pytest.mark.parametrize(
    ("entry", "problem"),
    [
        ('channel = "pigeon"', "channel must be one of"),
        ('channel = "webhook"\nurl = "ftp://x"\nsecret = "s"', "url must be http:// or https://"),
        ('channel = "webhook"\nurl = "http://x"', "secret must be a non-empty string"),
        ('channel = "mqtt"\nbroker = "nowhere"', "broker must be HOST:PORT"),
        ('channel = "mqtt"\nbroker = "h:1"\ntopic_prefix = "a/#"', "may not hold + or #"),
        ('channel = "email"\nsmtp = "h:25"\nsender = "a@b"\nto = []', "at least one recipient"),
        (
            'channel = "email"\nsmtp = "h:25"\nsender = "a@b"\nto = ["c@d"]\nstarttls = "yes"',
            "starttls",
        ),
        ('channel = "cap"\nevents = ["exploded"]', "unknown events ['exploded']"),
        ('channel = "cap"\ntypes = ["fire"]', "types must be a list"),
        ('channel = "cap"\nmax_priority = 9', "max_priority must be"),
        ('channel = "cap"\nsites = "Depot"', "sites must be a list of strings"),
        ('channel = "cap"\nlevels = "supervisor"', "levels must be a list of strings"),
        ('channel = "cap"\nurl = "http://x"', "unknown keys ['url']"),
    ],
)
def test_bad_rules_are_reported_with_their_place(tmp_path: Path, entry: str, problem: str) -> None:
    config = tmp_path / "watchfloor.toml"
    config.write_text(f"[[notify]]\n{entry}\n")
    with pytest.raises(SettingsError) as raised:
        load_settings(config_file=config, environ={})
    assert f"{config}: notify #1: " in str(raised.value)
    assert problem in str(raised.value)


def test_notify_must_be_an_array_of_tables(tmp_path: Path) -> None:
    config = tmp_path / "watchfloor.toml"
    config.write_text('notify = "everything"\n')
    with pytest.raises(SettingsError, match=r"notify must be an array of tables"):
        load_settings(config_file=config, environ={})


def test_a_cap_sender_with_spaces_is_refused() -> None:
    with pytest.raises(SettingsError, match="CAP sender"):
        load_settings(environ={"WATCHFLOOR_CAP_SENDER": "our control room"})

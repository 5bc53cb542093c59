"""Notification rules: what fires, and what a receiver learns (nothing personal)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from watchfloor.codecs.cap import CapCategory, CapCertainty, CapMsgType, CapUrgency
from watchfloor.core.alarms import Alarm, AlarmState
from watchfloor.core.notifications import (
    CAP_CATEGORY,
    Channel,
    Match,
    MqttTarget,
    NotificationRule,
    WebhookTarget,
    cap_alert_of,
    email_of,
    encode_notice,
    levels_off_the_ladder,
    matching_rules,
    mqtt_topic,
    notice_of,
)
from watchfloor.core.ports import AlarmEvent, AlarmEventKind
from watchfloor.core.signals import Origin

T0 = datetime(2026, 1, 15, 3, 0, tzinfo=UTC)


def _alarm(**changes: object) -> Alarm:
    values: dict[str, object] = {
        "id": 12,
        "origin": Origin.CALL,
        "type_code": 110,
        "type_name": "Fire",
        "category": "fire",
        "priority": 1,
        "state": AlarmState.NEW,
        "site": "Depot North",
        "device": "call-taker:carol",
        "zone": "3",
        "signal_count": 1,
        "first_at": T0,
        "last_at": T0,
        "claimed_by": "olivia",
        "acknowledged_by": "olivia",
    }
    values.update(changes)
    return Alarm(**values)  # type: ignore[arg-type]


def _event(kind: AlarmEventKind = AlarmEventKind.CREATED, **changes: object) -> AlarmEvent:
    return AlarmEvent(kind=kind, alarm=_alarm(**changes))


@pytest.mark.parametrize(
    ("match", "fires"),
    [
        (Match(), True),
        (Match(type_codes=frozenset({110})), True),
        (Match(type_codes=frozenset({130})), False),
        (Match(categories=frozenset({"intrusion"})), False),
        (Match(sites=frozenset({"Depot North"})), True),
        (Match(sites=frozenset({"Depot South"})), False),
        (Match(max_priority=1), True),
        (Match(events=frozenset({AlarmEventKind.UPDATED})), False),
        (Match(levels=frozenset({"supervisor"})), False),
    ],
)
def test_a_rule_fires_by_event_type_category_site_and_priority(match: Match, fires: bool) -> None:
    rule = NotificationRule(
        name="r",
        channel=Channel.WEBHOOK,
        match=match,
        target=WebhookTarget(url="http://x", secret="s"),
    )
    assert matching_rules([rule], _event()) == ([rule] if fires else [])


def test_a_rule_with_levels_fires_when_the_alarm_reaches_one_of_them() -> None:
    pager = NotificationRule(
        name="duty manager",
        channel=Channel.WEBHOOK,
        match=Match(
            events=frozenset({AlarmEventKind.ESCALATED}), levels=frozenset({"duty_manager"})
        ),
        target=WebhookTarget(url="http://x", secret="s"),
    )
    escalated = AlarmEventKind.ESCALATED
    supervisor = _event(escalated, escalation_count=1, escalation_level="supervisor")
    duty_manager = _event(escalated, escalation_count=2, escalation_level="duty_manager")
    assert matching_rules([pager], supervisor) == []
    assert matching_rules([pager], duty_manager) == [pager]
    # An update of an alarm that reached the level is not an escalation: nobody is told again.
    updated = _event(AlarmEventKind.UPDATED, escalation_count=2, escalation_level="duty_manager")
    assert matching_rules([pager], updated) == []


def test_a_notice_and_its_email_say_an_alarm_escalated_and_to_whom() -> None:
    event = _event(AlarmEventKind.ESCALATED, escalation_count=1, escalation_level="duty_manager")
    body = encode_notice(notice_of(event)).decode()
    assert '"escalation_level":"duty_manager"' in body
    assert '"overdue":true' in body
    assert '"priority":1' in body
    subject, text = email_of(notice_of(event))
    assert subject == (
        "[watchfloor] P1 Fire at Depot North (new): not acknowledged, escalated to duty manager"
    )
    assert "State: new (overdue: not acknowledged in time)" in text


def test_rules_naming_levels_off_the_ladder_are_reported() -> None:
    rule = NotificationRule(
        name="pager",
        channel=Channel.MQTT,
        match=Match(levels=frozenset({"duty-manager", "supervisor"})),
    )
    assert levels_off_the_ladder([rule], ["supervisor", "duty_manager"]) == [
        "notify rule 'pager': level 'duty-manager' is not on the escalation ladder "
        "(supervisor, duty_manager; the taxonomy file's [escalation])"
    ]
    assert levels_off_the_ladder([NotificationRule(name="all", channel=Channel.CAP)], []) == []


def test_less_urgent_alarms_than_the_rule_allows_do_not_fire() -> None:
    rule = NotificationRule(name="r", channel=Channel.MQTT, match=Match(max_priority=2))
    assert matching_rules([rule], _event(priority=3)) == []


def test_cap_rules_select_the_feed_and_send_nothing() -> None:
    rule = NotificationRule(name="feed", channel=Channel.CAP)
    assert matching_rules([rule], _event()) == []
    assert rule.match.selects(_alarm())


def test_a_notice_carries_no_device_zone_or_names() -> None:
    body = encode_notice(notice_of(_event())).decode()
    for personal in ("carol", "olivia", "call-taker", '"zone"', '"device"'):
        assert personal not in body
    assert '"site":"Depot North"' in body
    assert '"type_code":110' in body
    assert '"event":"alarm.created"' in body


def test_secrets_never_show_in_a_repr() -> None:
    target = WebhookTarget(url="http://x", secret="hunter2")
    mqtt = MqttTarget(host="h", password="hunter3")
    assert "hunter2" not in repr(target)
    assert "hunter3" not in repr(mqtt)


@pytest.mark.parametrize(
    ("site", "segment"),
    [("Depot North", "Depot_North"), ("a/#/+", "a"), (None, "_"), ("Gate 2 / Yard", "Gate_2_Yard")],
)
def test_mqtt_topics_have_safe_segments(site: str | None, segment: str) -> None:
    assert mqtt_topic("wf", notice_of(_event(site=site))) == f"wf/{segment}/110"


def test_the_email_names_type_site_and_state() -> None:
    subject, body = email_of(notice_of(_event()))
    assert subject == "[watchfloor] P1 Fire at Depot North (new)"
    assert "Alarm 12: Fire (110, fire)" in body
    assert "olivia" not in body


def test_a_new_alarm_is_a_cap_alert_and_later_versions_update_it() -> None:
    first = cap_alert_of(notice_of(_event()), sender="arc")
    assert first.msg_type is CapMsgType.ALERT
    assert first.identifier == "watchfloor-alarm-12-1"
    assert first.info.category is CapCategory.FIRE
    assert first.info.certainty is CapCertainty.LIKELY
    assert first.references == ()
    resolved = cap_alert_of(
        notice_of(
            _event(
                AlarmEventKind.UPDATED,
                state=AlarmState.RESOLVED,
                version=3,
                acknowledged_at=T0 + timedelta(seconds=20),
                resolved_at=T0 + timedelta(minutes=9),
            )
        ),
        sender="arc",
    )
    assert resolved.msg_type is CapMsgType.UPDATE
    assert resolved.references == (("arc", "watchfloor-alarm-12-1", T0),)
    assert resolved.sent == T0 + timedelta(minutes=9)
    assert resolved.info.urgency is CapUrgency.PAST
    assert resolved.info.certainty is CapCertainty.OBSERVED


def test_unknown_categories_and_priorities_map_to_other_and_unknown() -> None:
    alert = cap_alert_of(notice_of(_event(category="arming", priority=9)), sender="arc")
    assert alert.info.category is CapCategory.OTHER
    assert alert.info.urgency is CapUrgency.UNKNOWN
    assert set(CAP_CATEGORY.values()) <= set(CapCategory)


def test_a_notice_names_the_described_zone_in_the_webhook_body_and_the_cap_area() -> None:
    notice = notice_of(_event(zone_name="Rear door, ground floor"))
    assert '"zone_name":"Rear door, ground floor"' in encode_notice(notice).decode()
    alert = cap_alert_of(notice, sender="arc")
    assert alert.info.area_desc == "Depot North, Rear door, ground floor"
    undescribed = notice_of(_event())
    assert '"zone_name":null' in encode_notice(undescribed).decode()
    assert cap_alert_of(undescribed, sender="arc").info.area_desc == "Depot North"

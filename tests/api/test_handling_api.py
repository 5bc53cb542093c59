"""Handling alarms through the API: the workflow, procedures, claims, concurrency, escalation
across a restart, test mode, bulk actions and statistics — on the real app and store."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import replace
from datetime import datetime, timedelta
from importlib import resources
from pathlib import Path

import httpx
import pytest

from conftest import TOKEN
from support.clock import FakeClock
from support.panel import open_tcp_panel, reply_token, sia_frame
from watchfloor.app import Platform, open_platform
from watchfloor.config import Settings, SettingsError
from watchfloor.core.alarms import Alarm
from watchfloor.core.notifications import Channel, Match, NotificationRule
from watchfloor.core.ports import AlarmEventKind
from watchfloor.core.principals import Role
from watchfloor.store.repository import SqlRepository

ADMIN = {"Authorization": f"Bearer {TOKEN}"}
OPERATOR = {"Authorization": "Bearer operator-token"}
OTHER_OPERATOR = {"Authorization": "Bearer other-operator-token"}


@asynccontextmanager
async def _client(platform: Platform) -> AsyncIterator[httpx.AsyncClient]:
    await platform.users.ensure_token(
        user="olga", role=Role.OPERATOR, label="test", token="operator-token"
    )
    await platform.users.ensure_token(
        user="omar", role=Role.OPERATOR, label="test", token="other-operator-token"
    )
    transport = httpx.ASGITransport(app=platform.api)
    async with httpx.AsyncClient(transport=transport, base_url="http://watchfloor") as http:
        yield http


@pytest.fixture
async def client(platform: Platform) -> AsyncIterator[httpx.AsyncClient]:
    async with _client(platform) as http:
        yield http


async def _raise(platform: Platform, data: str = "#1234|Nri1/BA05", seq: int = 1) -> int:
    host, port = platform.dc09_address
    async with open_tcp_panel(host, port) as panel:
        assert reply_token(await panel.exchange(sia_frame("1234", seq, data))) == "ACK"
    alarms = await platform.repository.list_alarms(state=None, limit=1, after=None)
    return alarms[0].id


async def test_alarm_from_new_to_closed(client: httpx.AsyncClient, platform: Platform) -> None:
    await platform.repository.add_account(account="1234", site="Depot", key=None)
    alarm_id = await _raise(platform)
    detail = (await client.get(f"/api/alarms/{alarm_id}", headers=OPERATOR)).json()
    steps = [s for s in detail["sop"] if not s["optional"]]
    assert steps, "a burglary has a procedure"
    ack = await client.post(f"/api/alarms/{alarm_id}/acknowledge", headers=OPERATOR)
    assert ack.status_code == 200
    assert (ack.json()["state"], ack.json()["claimed_by"]) == ("acknowledged", "olga")
    premature = await client.post(
        f"/api/alarms/{alarm_id}/resolve", headers=OPERATOR, json={"outcome": "false"}
    )
    assert premature.status_code == 409
    assert premature.json()["error"] == "sop_incomplete"
    assert premature.json()["missing_steps"] == [s["step"] for s in steps]
    for step in steps:
        done = await client.post(
            f"/api/alarms/{alarm_id}/sop/{step['step']}", headers=OPERATOR, json={"done": True}
        )
        assert done.status_code == 200
    note = await client.post(
        f"/api/alarms/{alarm_id}/notes", headers=OPERATOR, json={"text": "Keyholder on the way"}
    )
    assert note.status_code == 200
    assert (await client.post(f"/api/alarms/{alarm_id}/dispatch", headers=OPERATOR)).json()[
        "state"
    ] == "dispatched"
    resolved = await client.post(
        f"/api/alarms/{alarm_id}/resolve",
        headers=OPERATOR,
        json={"outcome": "false", "note": "cat in the warehouse"},
    )
    assert resolved.json()["state"] == "resolved"
    closed = await client.post(f"/api/alarms/{alarm_id}/close", headers=OPERATOR)
    assert closed.json()["state"] == "closed"
    again = await client.post(f"/api/alarms/{alarm_id}/acknowledge", headers=OPERATOR)
    assert again.status_code == 409
    assert again.json()["state"] == "closed"
    timeline = (await client.get(f"/api/alarms/{alarm_id}", headers=OPERATOR)).json()["timeline"]
    kinds = [t["kind"] for t in timeline]
    assert kinds[:2] == ["created", "acknowledged"]
    assert {"sop_step", "note", "dispatched", "resolved", "closed"} <= set(kinds)
    resolved_entry = next(t for t in timeline if t["kind"] == "resolved")
    assert resolved_entry["actor"] == "olga"
    assert "outcome: false" in resolved_entry["detail"]


async def test_muting_an_alarm_is_on_its_timeline_and_audited(
    client: httpx.AsyncClient, platform: Platform
) -> None:
    alarm_id = await _raise(platform, "#1234|Nri1/FA01")
    muted = await client.post(f"/api/alarms/{alarm_id}/mute", headers=OPERATOR)
    assert muted.status_code == 200, muted.text
    assert muted.json()["state"] == "new"  # muting acknowledges nothing
    timeline = (await client.get(f"/api/alarms/{alarm_id}", headers=OPERATOR)).json()["timeline"]
    assert (timeline[-1]["kind"], timeline[-1]["actor"], timeline[-1]["detail"]) == (
        "note",
        "olga",
        "sound muted for 1 minute",
    )
    rows = await platform.audit_log.search(limit=100)
    assert any(
        r.entry.action == "alarm.mute" and r.entry.target == f"alarm:{alarm_id}" for r in rows
    )
    missing = await client.post("/api/alarms/999999/mute", headers=OPERATOR)
    assert missing.status_code == 404


async def test_two_operators_acknowledge_at_once_exactly_one_wins(
    client: httpx.AsyncClient, platform: Platform
) -> None:
    alarm_id = await _raise(platform)
    responses = await asyncio.gather(
        client.post(f"/api/alarms/{alarm_id}/acknowledge", headers=OPERATOR),
        client.post(f"/api/alarms/{alarm_id}/acknowledge", headers=OTHER_OPERATOR),
    )
    assert sorted(r.status_code for r in responses) == [200, 409]
    loser = next(r for r in responses if r.status_code == 409)
    assert loser.json()["state"] == "acknowledged"
    timeline = (await client.get(f"/api/alarms/{alarm_id}", headers=ADMIN)).json()["timeline"]
    assert [t["kind"] for t in timeline].count("acknowledged") == 1


async def test_only_a_supervisor_overrides_or_takes_over(
    client: httpx.AsyncClient, platform: Platform
) -> None:
    alarm_id = await _raise(platform)
    await client.post(f"/api/alarms/{alarm_id}/acknowledge", headers=OPERATOR)
    taken = await client.post(f"/api/alarms/{alarm_id}/claim", headers=OTHER_OPERATOR)
    assert taken.status_code == 409
    assert "held by olga" in taken.json()["detail"]
    refused = await client.post(
        f"/api/alarms/{alarm_id}/claim", headers=OTHER_OPERATOR, json={"take_over": True}
    )
    assert refused.status_code == 403
    assert (
        await client.post(f"/api/alarms/{alarm_id}/claim", headers=ADMIN, json={"take_over": True})
    ).json()["claimed_by"] == "admin"
    override = {"outcome": "false", "override_reason": "confirmed false by keyholder"}
    assert (
        await client.post(f"/api/alarms/{alarm_id}/resolve", headers=OPERATOR, json=override)
    ).status_code == 403
    resolved = await client.post(f"/api/alarms/{alarm_id}/resolve", headers=ADMIN, json=override)
    assert resolved.json()["state"] == "resolved"


async def test_hold_resume_release_and_bad_input(
    client: httpx.AsyncClient, platform: Platform
) -> None:
    alarm_id = await _raise(platform)
    await client.post(f"/api/alarms/{alarm_id}/acknowledge", headers=OPERATOR)
    held = await client.post(
        f"/api/alarms/{alarm_id}/hold", headers=OPERATOR, json={"note": "waiting for the keyholder"}
    )
    assert (held.json()["state"], held.json()["held_from"]) == ("held", "acknowledged")
    assert (await client.post(f"/api/alarms/{alarm_id}/resume", headers=OPERATOR)).json()[
        "state"
    ] == "acknowledged"
    assert (await client.post(f"/api/alarms/{alarm_id}/release", headers=OPERATOR)).json()[
        "claimed_by"
    ] is None
    assert (
        await client.post(f"/api/alarms/{alarm_id}/explode", headers=OPERATOR)
    ).status_code == 422
    assert (
        await client.post(f"/api/alarms/{alarm_id}/sop/99", headers=OPERATOR, json={"done": True})
    ).status_code == 404
    assert (await client.post("/api/alarms/999/acknowledge", headers=OPERATOR)).status_code == 404
    bad_outcome = await client.post(
        f"/api/alarms/{alarm_id}/resolve", headers=OPERATOR, json={"outcome": "maybe"}
    )
    assert bad_outcome.status_code == 422
    assert "outcome" in bad_outcome.json()["detail"]


async def test_bulk_resolve_a_flood_with_a_reason(
    client: httpx.AsyncClient, platform: Platform
) -> None:
    await platform.repository.add_account(account="1234", site="Depot", key=None)
    for seq, zone in enumerate(["01", "02", "03"], start=1):
        await _raise(platform, f"#1234|Nri1/BA{zone}", seq=seq)
    body = {
        "action": "resolve",
        "outcome": "false",
        "reason": "faulty detector bus",
        "site": "Depot",
    }
    assert (await client.post("/api/alarms/bulk", headers=OPERATOR, json=body)).status_code == 403
    done = await client.post("/api/alarms/bulk", headers=ADMIN, json=body)
    assert done.status_code == 200, done.text
    assert (len(done.json()["done"]), done.json()["skipped"]) == (3, [])
    no_filter = await client.post(
        "/api/alarms/bulk", headers=ADMIN, json={"action": "acknowledge", "reason": "x"}
    )
    assert no_filter.status_code == 422


async def test_alarm_types_list_the_procedures(client: httpx.AsyncClient) -> None:
    items = (await client.get("/api/alarm-types", headers=OPERATOR)).json()["items"]
    fire = next(t for t in items if t["code"] == 110)
    assert (fire["priority"], fire["basis"], fire["ack_within_seconds"]) == (1, "fire", 30)
    assert fire["sop"][0]["step"] == 1


async def test_escalation_on_time_and_across_a_restart(
    settings: Settings, clock: FakeClock
) -> None:
    async with (
        open_platform(settings, clock=clock) as platform,
        platform.bus.subscribe() as events,
    ):
        alarm_id = await _raise(platform)  # burglary, priority 3: 3 minutes
        clock.advance(179)
        assert await platform.handling.escalate_overdue() == []
        clock.advance(1)
        escalated = await platform.handling.escalate_overdue()
        assert [(a.id, a.priority, a.escalation_level) for a in escalated] == [
            (alarm_id, 3, "supervisor")
        ]
        kinds = [events.get_nowait() for _ in range(events.qsize())]
        assert AlarmEventKind.ESCALATED in {e.kind for e in kinds if e is not None}
    clock.advance(60)
    async with open_platform(settings, clock=clock) as restarted:
        # The duty manager is told 120 s after the deadline: not yet, and no repeat of the
        # supervisor after the restart.
        assert await restarted.handling.escalate_overdue() == []
        clock.advance(60)
        again = await restarted.handling.escalate_overdue()
        assert [(a.priority, a.escalation_count, a.escalation_level) for a in again] == [
            (3, 2, "duty_manager")
        ]
        detail = await restarted.repository.get_alarm(alarm_id)
        assert [str(t.kind) for t in detail.timeline].count("escalated") == 2


async def test_an_alarm_left_alone_past_three_deadlines_keeps_its_priority(
    settings: Settings, clock: FakeClock
) -> None:
    async with (
        open_platform(settings, clock=clock) as platform,
        _client(platform) as client,
        platform.bus.subscribe() as events,
    ):
        await platform.repository.add_account(account="1234", site="Depot", key=None)
        alarm_id = await _raise(platform)  # burglary, priority 3: 3 minutes
        raised = (await client.get(f"/api/alarms/{alarm_id}", headers=OPERATOR)).json()
        assert (raised["priority"], raised["overdue"], raised["escalation_level"]) == (
            3,
            False,
            None,
        )

        seen: list[dict[str, object]] = []
        # The deadline (3 min), the duty manager's (2 min later), and long after: a third
        # deadline a priority step would have brought.
        for wait in (180, 120, 180, 3600):
            clock.advance(wait)
            await platform.handling.escalate_overdue()
            seen.append((await client.get(f"/api/alarms/{alarm_id}", headers=OPERATOR)).json())

        assert [a["priority"] for a in seen] == [3, 3, 3, 3]
        assert [(a["escalation_count"], a["escalation_level"]) for a in seen] == [
            (1, "supervisor"),
            (2, "duty_manager"),
            (2, "duty_manager"),
            (2, "duty_manager"),
        ]
        assert all(a["overdue"] for a in seen)
        first_deadline = datetime.fromisoformat(raised["ack_deadline"])
        assert datetime.fromisoformat(str(seen[0]["ack_deadline"])) == first_deadline + timedelta(
            seconds=120
        )
        assert [a["ack_deadline"] for a in seen[1:]] == [None, None, None]
        escalations = [
            (t["kind"], t["actor"], t["detail"])
            for t in seen[-1]["timeline"]  # type: ignore[attr-defined]
            if t["kind"] == "escalated"
        ]
        assert escalations == [
            ("escalated", "system", "escalated to supervisor: not acknowledged in time"),
            ("escalated", "system", "escalated to duty manager: not acknowledged in time"),
        ]
        published = [events.get_nowait() for _ in range(events.qsize())]
        told = [e.alarm.escalation_level for e in published if e and e.kind == "alarm.escalated"]
        assert told == ["supervisor", "duty_manager"]

        stats = (await client.get("/api/stats?by=site", headers=ADMIN)).json()
        assert [(r["label"], r["escalations"]) for r in stats["rows"]] == [("Depot", 2)]
        assert stats["total"]["escalations"] == 2

        acknowledged = await client.post(f"/api/alarms/{alarm_id}/acknowledge", headers=OPERATOR)
        assert acknowledged.status_code == 200, acknowledged.text
        body = acknowledged.json()
        assert (body["overdue"], body["priority"], body["escalation_count"]) == (False, 3, 2)


async def test_the_queue_shows_the_oldest_of_a_priority_first(
    settings: Settings, clock: FakeClock
) -> None:
    async with open_platform(settings, clock=clock) as platform, _client(platform) as client:
        await platform.repository.add_account(account="1234", site="Depot", key=None)
        handled_fire = await _raise(platform, "#1234|Nri1/FA09", seq=1)
        await client.post(
            f"/api/alarms/{handled_fire}/resolve",
            headers=ADMIN,
            json={"outcome": "false", "override_reason": "detector cleaned"},
        )
        clock.advance(10)
        old_fire = await _raise(platform, "#1234|Nri1/FA01", seq=2)
        clock.advance(10)
        burglary = await _raise(platform, "#1234|Nri1/BA02", seq=3)
        clock.advance(10)
        new_fire = await _raise(platform, "#1234|Nri1/FA03", seq=4)

        queue = (await client.get("/api/alarms", headers=OPERATOR)).json()["items"]
        assert [a["id"] for a in queue] == [old_fire, new_fire, burglary, handled_fire]
        assert [a["priority"] for a in queue] == [1, 1, 3, 1]

        paged: list[int] = []
        after = ""
        while page := (await client.get(f"/api/alarms?limit=1{after}", headers=OPERATOR)).json()[
            "items"
        ]:
            paged.append(page[0]["id"])
            after = f"&after={page[0]['id']}"
        assert paged == [old_fire, new_fire, burglary, handled_fire]

        newest = (await client.get("/api/alarms?order=newest", headers=OPERATOR)).json()["items"]
        assert [a["id"] for a in newest] == [new_fire, burglary, old_fire, handled_fire]
        bad = await client.get("/api/alarms?order=loudest", headers=OPERATOR)
        assert bad.status_code == 422
        assert "order" in bad.json()["detail"]


async def test_acknowledged_alarm_never_escalates(settings: Settings, clock: FakeClock) -> None:
    async with open_platform(settings, clock=clock) as platform, _client(platform) as client:
        alarm_id = await _raise(platform)
        await client.post(f"/api/alarms/{alarm_id}/acknowledge", headers=OPERATOR)
        clock.advance(3600)
        assert await platform.handling.escalate_overdue() == []


async def test_account_on_test_stores_signals_without_alarms(
    settings: Settings, clock: FakeClock
) -> None:
    async with open_platform(settings, clock=clock) as platform, _client(platform) as client:
        await platform.repository.add_account(account="1234", site="Depot", key=None)
        until = (clock.now() + timedelta(hours=1)).isoformat()
        refused = await client.put(
            "/api/accounts/1234/test", headers=OPERATOR, json={"until": until}
        )
        assert refused.status_code == 403
        assert (
            await client.put("/api/accounts/1234/test", headers=ADMIN, json={"until": until})
        ).status_code == 200
        host, port = platform.dc09_address
        async with open_tcp_panel(host, port) as panel:
            assert reply_token(await panel.exchange(sia_frame("1234", 1))) == "ACK"
        assert await platform.repository.list_alarms(state=None, limit=5, after=None) == []
        signals = (await client.get("/api/signals?device=1234", headers=OPERATOR)).json()
        assert [s["alarm_id"] for s in signals["items"]] == [None]
        clock.advance(3601)  # the test ends by itself
        async with open_tcp_panel(host, port) as panel:
            assert reply_token(await panel.exchange(sia_frame("1234", 2))) == "ACK"
        assert len(await platform.repository.list_alarms(state=None, limit=5, after=None)) == 1
        assert (
            await client.put("/api/sites/Nowhere/test", headers=ADMIN, json={"until": None})
        ).status_code == 404


async def test_statistics_json_and_csv(client: httpx.AsyncClient, platform: Platform) -> None:
    await platform.repository.add_account(account="1234", site="Depot", key=None)
    alarm_id = await _raise(platform)
    await client.post(f"/api/alarms/{alarm_id}/acknowledge", headers=OPERATOR)
    assert (await client.get("/api/stats", headers=OPERATOR)).status_code == 403
    stats = await client.get("/api/stats?by=site", headers=ADMIN)
    assert stats.status_code == 200, stats.text
    body = stats.json()
    assert [(r["label"], r["alarms"], r["acknowledged"]) for r in body["rows"]] == [("Depot", 1, 1)]
    assert body["total"]["to_acknowledge"]["count"] == 1
    refused = await client.get("/api/stats?by=operator&format=csv", headers=ADMIN)
    assert refused.status_code == 422
    assert refused.json()["detail"].startswith("reason:")
    csv_text = (
        await client.get("/api/stats?by=operator&format=csv&reason=monthly+report", headers=ADMIN)
    ).text
    lines = csv_text.strip().splitlines()
    assert lines[0].startswith("key,label,alarms")
    assert lines[1].startswith("olga,olga,1,1")
    assert lines[-1].startswith(",all,1,1")
    bad = await client.get(
        "/api/stats?from=2026-01-02T00:00:00Z&to=2026-01-01T00:00:00Z", headers=ADMIN
    )
    assert bad.status_code == 422
    naive = await client.get("/api/stats?from=2026-01-01T00:00:00", headers=ADMIN)
    assert naive.status_code == 422


async def test_two_nodes_escalating_at_once_escalate_once(
    settings: Settings, clock: FakeClock
) -> None:
    async with open_platform(settings, clock=clock) as platform:
        alarm_id = await _raise(platform)
        clock.advance(181)
        stale = await platform.repository.overdue_alarms(clock.now())

        class LateNode(SqlRepository):
            """Another node that read the overdue alarms just before this one escalated."""

            async def overdue_alarms(self, now: datetime, *, limit: int = 500) -> list[Alarm]:
                return stale

        other = replace(platform.handling, repository=LateNode(platform.engine, clock))
        assert len(await platform.handling.escalate_overdue()) == 1
        assert await other.escalate_overdue() == []
        detail = await platform.repository.get_alarm(alarm_id)
        assert [str(t.kind) for t in detail.timeline].count("escalated") == 1


async def test_test_mode_survives_a_restart_and_ends_by_itself(
    settings: Settings, clock: FakeClock
) -> None:
    async def send(platform: Platform, seq: int) -> None:
        host, port = platform.dc09_address
        async with open_tcp_panel(host, port) as panel:
            assert reply_token(await panel.exchange(sia_frame("1234", seq))) == "ACK"

    async with open_platform(settings, clock=clock) as platform:
        await platform.repository.add_account(account="1234", site="Depot", key=None)
        await platform.repository.set_on_test(site="Depot", until=clock.now() + timedelta(hours=2))
    clock.advance(3600)
    async with open_platform(settings, clock=clock) as restarted:
        await send(restarted, 1)
        assert await restarted.repository.list_alarms(state=None, limit=5, after=None) == []
        clock.advance(3600)
        await send(restarted, 2)
        alarms = await restarted.repository.list_alarms(state=None, limit=5, after=None)
        assert [a.site for a in alarms] == ["Depot"]


async def test_a_notify_rule_naming_a_level_off_the_ladder_stops_the_start(
    settings: Settings,
) -> None:
    rule = NotificationRule(
        name="pager", channel=Channel.CAP, match=Match(levels=frozenset({"night_boss"}))
    )
    with pytest.raises(SettingsError, match="level 'night_boss' is not on the escalation ladder"):
        async with open_platform(replace(settings, notify=(rule,))):
            pass


async def test_a_ladder_cut_short_while_an_alarm_waits_ends_its_deadlines(
    settings: Settings, clock: FakeClock, tmp_path: Path
) -> None:
    async with open_platform(settings, clock=clock) as platform:
        alarm_id = await _raise(platform)
        clock.advance(180)
        assert len(await platform.handling.escalate_overdue()) == 1  # the supervisor
    shipped = resources.files("watchfloor.taxonomy").joinpath("taxonomy.toml").read_text()
    one_level = tmp_path / "taxonomy.toml"
    one_level.write_text(
        shipped.replace('    { level = "duty_manager", after_seconds = 120 },\n', "")
    )
    clock.advance(120)
    async with open_platform(replace(settings, taxonomy_file=one_level), clock=clock) as cut:
        assert [level.name for level in cut.handling.taxonomy.escalation_ladder] == ["supervisor"]
        assert await cut.handling.escalate_overdue() == []
        detail = await cut.repository.get_alarm(alarm_id)
        assert (detail.alarm.escalation_count, detail.alarm.ack_deadline) == (1, None)
        assert detail.alarm.overdue
        assert [str(t.kind) for t in detail.timeline].count("escalated") == 1
        assert await cut.repository.overdue_alarms(clock.now()) == []

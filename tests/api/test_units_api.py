"""Units and dispatch through the API: register, dispatch, the unit's own page, statistics."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import replace
from typing import Any

import httpx
import pytest
from httpx_ws import AsyncWebSocketSession, WebSocketDisconnect, aconnect_ws
from httpx_ws.transport import ASGIWebSocketTransport

from conftest import TOKEN
from support.clock import FakeClock
from watchfloor.app import Platform, open_platform
from watchfloor.config import Settings
from watchfloor.core.ports import AlarmEventKind
from watchfloor.core.principals import Role

ADMIN = {"Authorization": f"Bearer {TOKEN}"}
OPERATOR = {"Authorization": "Bearer operator-token"}
GUARD = {"Authorization": "Bearer guard-token"}
OTHER_GUARD = {"Authorization": "Bearer other-guard-token"}


@pytest.fixture
async def timed_platform(settings: Settings, clock: FakeClock) -> AsyncIterator[Platform]:
    async with open_platform(settings, clock=clock) as running:
        for user, role, token in (
            ("olga", Role.OPERATOR, "operator-token"),
            ("guard", Role.PATROL, "guard-token"),
            ("gus", Role.PATROL, "other-guard-token"),
        ):
            await running.users.ensure_token(user=user, role=role, label="t", token=token)
        yield running


@pytest.fixture
async def client(timed_platform: Platform) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=timed_platform.api)
    async with httpx.AsyncClient(transport=transport, base_url="http://watchfloor") as http:
        yield http


async def _unit(client: httpx.AsyncClient, name: str = "Patrol 1", user: str = "guard") -> int:
    response = await client.post("/api/units", headers=ADMIN, json={"name": name, "user": user})
    assert response.status_code == 201, response.text
    assert response.json()["status"] == "available"
    unit_id: int = response.json()["id"]
    return unit_id


async def _acknowledged_alarm(client: httpx.AsyncClient) -> int:
    report = {"report_id": str(uuid.uuid4()), "type_code": 850, "site": "Depot", "text": "x"}
    alarm_id: int = (await client.post("/api/reports", headers=GUARD, json=report)).json()[
        "alarm_id"
    ]
    acknowledged = await client.post(f"/api/alarms/{alarm_id}/acknowledge", headers=OPERATOR)
    assert acknowledged.status_code == 200, acknowledged.text
    return alarm_id


async def _status(client: httpx.AsyncClient, unit_id: int, status: str) -> httpx.Response:
    return await client.post(f"/api/units/{unit_id}/status", headers=GUARD, json={"status": status})


async def test_dispatch_to_arrival_with_timeline_and_statistics(
    client: httpx.AsyncClient, clock: FakeClock
) -> None:
    unit_id = await _unit(client)
    alarm_id = await _acknowledged_alarm(client)
    clock.advance(30)
    dispatched = await client.post(
        f"/api/alarms/{alarm_id}/dispatch-units", headers=OPERATOR, json={"unit_ids": [unit_id]}
    )
    assert dispatched.status_code == 200, dispatched.text
    assert dispatched.json()["state"] == "dispatched"

    mine = (await client.get("/api/units/mine", headers=GUARD)).json()["items"]
    assert [u["status"] for u in mine] == ["dispatched"]
    dispatch = mine[0]["dispatch"]
    assert (dispatch["alarm_id"], dispatch["site"], dispatch["type_name"]) == (
        alarm_id,
        "Depot",
        "Staff report",
    )
    clock.advance(10)
    acknowledged = await client.post(f"/api/dispatches/{dispatch['id']}/acknowledge", headers=GUARD)
    assert acknowledged.status_code == 200, acknowledged.text
    assert acknowledged.json()["acknowledged_at"] is not None
    clock.advance(60)
    assert (await _status(client, unit_id, "en_route")).status_code == 200
    clock.advance(500)
    on_scene = await _status(client, unit_id, "on_scene")
    assert on_scene.json()["status"] == "on_scene"
    assert on_scene.json()["dispatch"]["on_scene_at"] is not None
    clock.advance(100)
    cleared = (await _status(client, unit_id, "available")).json()
    assert (cleared["status"], cleared["dispatch"]) == ("available", None)

    detail = (await client.get(f"/api/alarms/{alarm_id}", headers=ADMIN)).json()
    units_lines = [
        (e["kind"], e["detail"]) for e in detail["timeline"] if e["kind"] in {"dispatched", "unit"}
    ]
    assert units_lines == [
        ("dispatched", "units: Patrol 1"),
        ("unit", "Patrol 1: dispatch acknowledged"),
        ("unit", "Patrol 1: en route"),
        ("unit", "Patrol 1: on scene"),
        ("unit", "Patrol 1: available"),
    ]
    history = (await client.get(f"/api/alarms/{alarm_id}/dispatches", headers=ADMIN)).json()
    assert history["items"][0]["cleared_at"] is not None

    stats = (
        await client.get(
            "/api/stats?from=2026-01-15T00:00:00Z&to=2026-01-16T00:00:00Z", headers=ADMIN
        )
    ).json()
    assert stats["total"]["to_dispatch"] == {"count": 1, "p50": 30.0, "p90": 30.0, "p99": 30.0}
    assert stats["total"]["to_arrival"]["p50"] == 600.0
    csv_text = (
        await client.get(
            "/api/stats?from=2026-01-15T00:00:00Z&to=2026-01-16T00:00:00Z&format=csv"
            "&reason=monthly+report",
            headers=ADMIN,
        )
    ).text
    header, *_, total = csv_text.strip().splitlines()
    assert header.endswith(
        "dispatch_p50_s,dispatch_p90_s,dispatch_p99_s,arrival_p50_s,arrival_p90_s,arrival_p99_s"
    )
    assert total.endswith("30,30,30,600,600,600")


async def test_a_dispatched_alarm_takes_more_units(client: httpx.AsyncClient) -> None:
    first, second = await _unit(client, "P1"), await _unit(client, "P2", "gus")
    alarm_id = await _acknowledged_alarm(client)
    url = f"/api/alarms/{alarm_id}/dispatch-units"
    await client.post(url, headers=OPERATOR, json={"unit_ids": [first]})
    again = await client.post(url, headers=OPERATOR, json={"unit_ids": [second]})
    assert again.status_code == 200, again.text
    units = (await client.get("/api/units", headers=OPERATOR)).json()["items"]
    assert [(u["name"], u["status"]) for u in units] == [("P1", "dispatched"), ("P2", "dispatched")]


async def test_dispatch_refusals(client: httpx.AsyncClient) -> None:
    unit_id = await _unit(client)
    report = {"report_id": str(uuid.uuid4()), "type_code": 850, "site": "Depot"}
    new_alarm = (await client.post("/api/reports", headers=GUARD, json=report)).json()["alarm_id"]
    url = f"/api/alarms/{new_alarm}/dispatch-units"
    refused = await client.post(url, headers=OPERATOR, json={"unit_ids": [unit_id]})
    assert refused.status_code == 409
    assert refused.json()["state"] == "new"

    alarm_id = await _acknowledged_alarm(client)
    url = f"/api/alarms/{alarm_id}/dispatch-units"
    assert (await client.post(url, headers=OPERATOR, json={"unit_ids": [999]})).status_code == 404
    assert (await client.post(url, headers=OPERATOR, json={"unit_ids": []})).status_code == 422
    assert (await client.post(url, headers=GUARD, json={"unit_ids": [unit_id]})).status_code == 403
    await _status(client, unit_id, "off_duty")
    busy = await client.post(url, headers=OPERATOR, json={"unit_ids": [unit_id]})
    assert busy.status_code == 409
    assert "the unit is off_duty" in busy.json()["detail"]
    assert (await client.get(f"/api/alarms/{alarm_id}", headers=ADMIN)).json()["state"] == (
        "acknowledged"
    )


async def test_units_only_change_their_own_status(client: httpx.AsyncClient) -> None:
    unit_id = await _unit(client)
    same = await _status(client, unit_id, "available")
    assert (same.status_code, same.json()["status"]) == (200, "available")
    others = await client.post(
        f"/api/units/{unit_id}/status", headers=OTHER_GUARD, json={"status": "off_duty"}
    )
    assert others.status_code == 403
    assert "gus does not report for unit Patrol 1" in others.json()["detail"]
    by_supervisor = await client.post(
        f"/api/units/{unit_id}/status", headers=ADMIN, json={"status": "off_duty"}
    )
    assert by_supervisor.status_code == 200
    assert (await _status(client, unit_id, "dispatched")).status_code == 422
    assert (await _status(client, unit_id, "on_scene")).status_code == 409
    assert (await _status(client, unit_id, "teleported")).status_code == 422
    assert (await _status(client, 999, "available")).status_code == 404


async def test_units_are_registered_once_by_managers(client: httpx.AsyncClient) -> None:
    await _unit(client)
    again = await client.post("/api/units", headers=ADMIN, json={"name": "Patrol 1"})
    assert again.status_code == 409
    by_operator = await client.post("/api/units", headers=OPERATOR, json={"name": "P9"})
    assert by_operator.status_code == 403
    assert (await client.get("/api/units", headers=GUARD)).status_code == 403


async def test_another_guard_cannot_acknowledge_a_dispatch(client: httpx.AsyncClient) -> None:
    unit_id = await _unit(client)
    alarm_id = await _acknowledged_alarm(client)
    await client.post(
        f"/api/alarms/{alarm_id}/dispatch-units", headers=OPERATOR, json={"unit_ids": [unit_id]}
    )
    dispatch = (await client.get(f"/api/alarms/{alarm_id}/dispatches", headers=ADMIN)).json()
    dispatch_id = dispatch["items"][0]["id"]
    url = f"/api/dispatches/{dispatch_id}/acknowledge"
    assert (await client.post(url, headers=OTHER_GUARD)).status_code == 403
    first = (await client.post(url, headers=GUARD)).json()
    second = (await client.post(url, headers=GUARD)).json()
    assert first["acknowledged_at"] == second["acknowledged_at"]
    assert (await client.post("/api/dispatches/999/acknowledge", headers=GUARD)).status_code == 404


async def test_a_units_progress_is_published_on_its_alarm(
    timed_platform: Platform, client: httpx.AsyncClient
) -> None:
    unit_id = await _unit(client)
    alarm_id = await _acknowledged_alarm(client)
    await client.post(
        f"/api/alarms/{alarm_id}/dispatch-units", headers=OPERATOR, json={"unit_ids": [unit_id]}
    )
    dispatch = (await client.get(f"/api/alarms/{alarm_id}/dispatches", headers=ADMIN)).json()
    url = f"/api/dispatches/{dispatch['items'][0]['id']}/acknowledge"
    async with timed_platform.bus.subscribe() as events:
        assert (await client.post(url, headers=GUARD)).status_code == 200
        assert (await client.post(url, headers=GUARD)).status_code == 200  # no news
        assert (await _status(client, unit_id, "en_route")).status_code == 200
        heard = [events.get_nowait() for _ in range(events.qsize())]
    assert [(e.kind, e.alarm.id, e.alarm.state) for e in heard if e is not None] == [
        (AlarmEventKind.UPDATED, alarm_id, "dispatched")
    ] * 2


@asynccontextmanager
async def _unit_stream(platform: Platform, token: str) -> AsyncIterator[AsyncWebSocketSession]:
    # Entered and left in the test's own task, as the transport's task group requires.
    transport = ASGIWebSocketTransport(app=platform.api)
    async with httpx.AsyncClient(transport=transport, base_url="http://watchfloor") as http:
        path = f"/api/units/mine/stream?token={token}"
        connection: AbstractAsyncContextManager[AsyncWebSocketSession] = aconnect_ws(path, http)
        async with connection as ws:
            yield ws


async def _units_pushed(ws: AsyncWebSocketSession) -> list[dict[str, Any]]:
    message = json.loads(await ws.receive_text(timeout=10))
    assert message["event"] == "units.mine"
    items: list[dict[str, Any]] = message["items"]
    return items


async def test_a_dispatch_is_pushed_to_the_crews_phone_at_once(
    client: httpx.AsyncClient, timed_platform: Platform
) -> None:
    unit_id = await _unit(client)
    site = {"name": "Depot", "address": "1 Depot Road, Leeds"}
    made = await client.post("/api/sites", headers=ADMIN, json=site)
    assert made.status_code == 201, made.text
    async with _unit_stream(timed_platform, "guard-token") as ws:
        [unit] = await _units_pushed(ws)
        assert (unit["id"], unit["status"], unit["dispatch"]) == (unit_id, "available", None)

        alarm_id = await _acknowledged_alarm(client)
        dispatched = await client.post(
            f"/api/alarms/{alarm_id}/dispatch-units", headers=OPERATOR, json={"unit_ids": [unit_id]}
        )
        assert dispatched.status_code == 200, dispatched.text
        # The report's new alarm and its acknowledgement changed nothing of the unit: the next
        # message is the dispatch.
        [unit] = await _units_pushed(ws)
        dispatch = unit["dispatch"]
        assert unit["status"] == "dispatched"
        assert (dispatch["alarm_id"], dispatch["site"], dispatch["type_name"]) == (
            alarm_id,
            "Depot",
            "Staff report",
        )
        # Where to go: the site record's address (a report names no zone).
        assert (dispatch["zone"], dispatch["zone_name"], dispatch["address"]) == (
            None,
            None,
            "1 Depot Road, Leeds",
        )
        assert dispatch["acknowledged_at"] is None

        acknowledged = await client.post(
            f"/api/dispatches/{dispatch['id']}/acknowledge", headers=GUARD
        )
        assert acknowledged.status_code == 200, acknowledged.text
        [unit] = await _units_pushed(ws)
        assert unit["dispatch"]["acknowledged_at"] is not None


async def test_the_unit_stream_is_only_for_crews(timed_platform: Platform) -> None:
    for token, code in (("nope", 4401), ("operator-token", 4403)):
        with pytest.raises(WebSocketDisconnect) as closed:
            async with _unit_stream(timed_platform, token) as ws:
                await ws.receive_text(timeout=10)
        assert closed.value.code == code


async def test_a_crew_without_a_unit_hears_that_it_has_none(timed_platform: Platform) -> None:
    async with _unit_stream(timed_platform, "other-guard-token") as ws:
        assert await _units_pushed(ws) == []


async def _listen_while_revoking(platform: Platform, token: str) -> None:
    async with _unit_stream(platform, token) as ws:
        assert await _units_pushed(ws) == []
        found = await platform.users.find_token("guard", "t")
        assert found is not None
        await platform.users.revoke_token(found.id, platform.handling.clock.now())
        await ws.receive_text(timeout=10)


async def test_the_unit_stream_ends_when_the_phones_token_is_revoked(settings: Settings) -> None:
    quick = replace(settings, stream_recheck_seconds=0.05)
    async with open_platform(quick) as platform:
        await platform.users.ensure_token(
            user="guard", role=Role.PATROL, label="t", token="guard-token"
        )
        with pytest.raises(WebSocketDisconnect) as closed:
            await _listen_while_revoking(platform, "guard-token")
    assert (closed.value.code, closed.value.reason) == (4401, "session ended or token revoked")

"""The HTTP API and the alarm stream, as the real app through httpx's ASGI transport."""

from __future__ import annotations

import asyncio
import json
import sqlite3
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import replace

import httpx
import pytest
from httpx_ws import AsyncWebSocketSession, WebSocketDisconnect, aconnect_ws
from httpx_ws.transport import ASGIWebSocketTransport

from conftest import TOKEN
from support.panel import open_tcp_panel, reply_token, sia_frame
from watchfloor.app import Platform, open_platform
from watchfloor.config import Settings

AUTH = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture
async def client(platform: Platform) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=platform.api)
    async with httpx.AsyncClient(transport=transport, base_url="http://watchfloor") as http:
        yield http


@asynccontextmanager
async def _ws_client(platform: Platform) -> AsyncIterator[httpx.AsyncClient]:
    # Entered and left in the test's own task, as the transport's task group requires.
    transport = ASGIWebSocketTransport(app=platform.api)
    async with httpx.AsyncClient(transport=transport, base_url="http://watchfloor") as http:
        yield http


def _connect(
    client: httpx.AsyncClient, path: str
) -> AbstractAsyncContextManager[AsyncWebSocketSession]:
    connection: AbstractAsyncContextManager[AsyncWebSocketSession] = aconnect_ws(path, client)
    return connection


async def _raise_alarm(platform: Platform, account: str = "1234", seq: int = 1) -> None:
    host, port = platform.dc09_address
    async with open_tcp_panel(host, port) as panel:
        assert reply_token(await panel.exchange(sia_frame(account, seq))) == "ACK"


async def test_healthz_is_ok_when_the_store_accepts_writes(client: httpx.AsyncClient) -> None:
    response = await client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


async def test_healthz_is_503_while_another_process_holds_the_write_lock(
    client: httpx.AsyncClient, platform: Platform
) -> None:
    database = platform.engine.url.database
    assert database is not None
    # A real fault: another process holds SQLite's write lock past the busy timeout. Taken
    # from a thread, so that the platform's own background writes (the first purge, say)
    # can finish while it waits instead of being stalled behind a blocked event loop.
    locker = sqlite3.connect(database, isolation_level=None, timeout=30, check_same_thread=False)
    try:
        await asyncio.to_thread(locker.execute, "BEGIN EXCLUSIVE")
        response = await client.get("/healthz")
    finally:
        locker.execute("ROLLBACK")
        locker.close()
    assert response.status_code == 503
    assert response.json()["status"] == "unavailable"
    assert (await client.get("/healthz")).status_code == 200


@pytest.mark.parametrize(
    "path",
    ["/api/alarms", "/api/alarms/1", "/api/signals"],
)
async def test_api_needs_a_valid_bearer_token(client: httpx.AsyncClient, path: str) -> None:
    missing = await client.get(path)
    assert missing.status_code == 401
    assert missing.json()["error"] == "unauthorized"
    wrong = await client.get(path, headers={"Authorization": "Bearer nope"})
    assert wrong.status_code == 401


async def test_alarm_list_and_detail(client: httpx.AsyncClient, platform: Platform) -> None:
    await platform.repository.add_account(account="1234", site="Main Street 1", key=None)
    await _raise_alarm(platform)
    listing = (await client.get("/api/alarms", headers=AUTH)).json()
    assert len(listing["items"]) == 1
    alarm = listing["items"][0]
    for field in (
        "id",
        "origin",
        "type_code",
        "type_name",
        "category",
        "priority",
        "state",
        "site",
        "device",
        "zone",
        "signal_count",
        "first_at",
        "last_at",
    ):
        assert field in alarm
    assert (alarm["origin"], alarm["state"], alarm["site"]) == ("equipment", "new", "Main Street 1")
    detail = (await client.get(f"/api/alarms/{alarm['id']}", headers=AUTH)).json()
    assert [s["source"] for s in detail["signals"]] == ["dc09"]
    assert detail["signals"][0]["raw"].startswith("\n") or "SIA-DCS" in detail["signals"][0]["raw"]
    assert [t["kind"] for t in detail["timeline"]] == ["created"]


async def test_missing_alarm_is_404(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/alarms/999", headers=AUTH)
    assert response.status_code == 404
    assert response.json()["error"] == "not_found"


async def test_alarm_list_filters_and_pages(client: httpx.AsyncClient, platform: Platform) -> None:
    for index in range(3):
        await _raise_alarm(platform, account=f"AB{index}", seq=index + 1)
    # One priority: the queue (the default) lists the oldest first, the log the newest.
    page = (await client.get("/api/alarms?limit=2", headers=AUTH)).json()["items"]
    assert len(page) == 2
    rest = (await client.get(f"/api/alarms?after={page[-1]['id']}", headers=AUTH)).json()
    assert [a["id"] for a in rest["items"]] == [page[-1]["id"] + 1]
    page = (await client.get("/api/alarms?limit=2&order=newest", headers=AUTH)).json()["items"]
    assert len(page) == 2
    path = f"/api/alarms?order=newest&after={page[-1]['id']}"
    rest = (await client.get(path, headers=AUTH)).json()
    assert [a["id"] for a in rest["items"]] == [page[-1]["id"] - 1]
    none = (await client.get("/api/alarms?state=resolved", headers=AUTH)).json()
    assert none["items"] == []
    bad = await client.get("/api/alarms?state=bogus", headers=AUTH)
    assert bad.status_code == 422
    assert "state" in bad.json()["detail"]


async def test_signals_by_device_carry_dc09_fields(
    client: httpx.AsyncClient, platform: Platform
) -> None:
    await _raise_alarm(platform, account="1234", seq=77)
    await _raise_alarm(platform, account="5678", seq=1)
    items = (await client.get("/api/signals?device=1234", headers=AUTH)).json()["items"]
    assert [(s["account"], s["seq"], s["token"], s["code"], s["zone"]) for s in items] == [
        ("1234", "0077", "SIA-DCS", "BA", "05")
    ]
    by_alarm = await client.get(f"/api/signals?alarm={items[0]['alarm_id']}", headers=AUTH)
    assert [s["id"] for s in by_alarm.json()["items"]] == [items[0]["id"]]


async def test_register_account(client: httpx.AsyncClient) -> None:
    created = await client.post(
        "/api/accounts",
        headers=AUTH,
        json={"account": "abc123", "site": "Depot", "key": "000102030405060708090A0B0C0D0E0F"},
    )
    assert created.status_code == 201
    body = created.json()
    assert (body["account"], body["site"], body["has_key"]) == ("ABC123", "Depot", True)
    assert "key" not in body
    again = await client.post("/api/accounts", headers=AUTH, json={"account": "ABC123"})
    assert again.status_code == 409


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"account": "12"}, "account"),
        ({"account": "12G4"}, "account"),
        ({"account": "1234", "key": "00"}, "key"),
        ({"account": "1234", "key_ascii": "short"}, "key"),
        ({"account": "1234", "colour": "red"}, "colour"),
    ],
)
async def test_register_account_names_the_bad_field(
    client: httpx.AsyncClient, payload: dict[str, str], field: str
) -> None:
    response = await client.post("/api/accounts", headers=AUTH, json=payload)
    assert response.status_code == 422
    assert field in response.json()["detail"]


async def test_openapi_lists_the_routes(client: httpx.AsyncClient) -> None:
    paths = (await client.get("/openapi.json")).json()["paths"]
    assert {
        "/healthz",
        "/api/alarms",
        "/api/alarms/{alarm_id}",
        "/api/signals",
        "/api/accounts",
    } <= set(paths)


async def test_metrics_report_receiver_and_intake(
    client: httpx.AsyncClient, platform: Platform
) -> None:
    await _raise_alarm(platform)
    text = (await client.get("/metrics", headers=AUTH)).text
    assert 'watchfloor_dc09_events_total{outcome="acked"} 1' in text
    assert "watchfloor_intake_signals_total 1" in text
    assert "watchfloor_intake_commit_seconds" in text


async def test_console_is_served_at_root(client: httpx.AsyncClient) -> None:
    response = await client.get("/")
    assert response.status_code == 200
    assert "watchfloor" in response.text


async def test_stream_pushes_created_and_updated(platform: Platform) -> None:
    async with (
        _ws_client(platform) as client,
        _connect(client, f"/api/stream?token={TOKEN}") as ws,
    ):
        await _raise_alarm(platform, seq=1)
        created = json.loads(await asyncio.wait_for(ws.receive_text(), 10))
        await _raise_alarm(platform, seq=2)
        updated = json.loads(await asyncio.wait_for(ws.receive_text(), 10))
    assert created["event"] == "alarm.created"
    assert updated["event"] == "alarm.updated"
    assert updated["alarm"]["id"] == created["alarm"]["id"]
    assert updated["alarm"]["signal_count"] == 2


async def test_stream_refuses_a_bad_token(platform: Platform) -> None:
    with pytest.raises(WebSocketDisconnect) as closed:
        async with (
            _ws_client(platform) as client,
            _connect(client, "/api/stream?token=nope") as ws,
        ):
            await ws.receive_text()
    assert closed.value.code == 4401


async def _listen_while_revoking(platform: Platform, token: str, token_id: int) -> None:
    async with (
        _ws_client(platform) as client,
        _connect(client, f"/api/stream?token={token}") as ws,
    ):
        transport = httpx.ASGITransport(app=platform.api)
        async with httpx.AsyncClient(transport=transport, base_url="http://watchfloor") as http:
            revoked = await http.delete(
                f"/api/tokens/{token_id}", headers={"Authorization": f"Bearer {TOKEN}"}
            )
            assert revoked.status_code in (200, 204), revoked.text
        await ws.receive_text(timeout=10)


async def test_an_open_stream_ends_when_its_token_is_revoked(settings: Settings) -> None:
    quick = replace(settings, stream_recheck_seconds=0.05)
    async with open_platform(quick) as platform:
        transport = httpx.ASGITransport(app=platform.api)
        admin = {"Authorization": f"Bearer {TOKEN}"}
        async with httpx.AsyncClient(transport=transport, base_url="http://watchfloor") as http:
            made = await http.post(
                "/api/users", headers=admin, json={"name": "wall", "role": "operator"}
            )
            assert made.status_code == 201, made.text
        # A token for another user is made on the server (the command line's door).
        token = await platform.api.state.services.user_admin.create_token(
            user="wall", label="screen", role=None, actor=None
        )
        with pytest.raises(WebSocketDisconnect) as closed:
            await _listen_while_revoking(platform, token.value, token.token.id)
    assert closed.value.code == 4401
    assert closed.value.reason == "session ended or token revoked"

"""Accountability through the real app: every refusal audited, floods of them counted, unknown
sign-in names kept only as hashes, and duties an administrator may not take alone.
"""

from __future__ import annotations

import hashlib
import logging
import sqlite3
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, closing
from dataclasses import replace

import httpx
import pytest
from httpx_ws import AsyncWebSocketSession, WebSocketDisconnect, aconnect_ws
from httpx_ws.transport import ASGIWebSocketTransport

from conftest import TOKEN
from support.clock import FakeClock
from watchfloor.api.auth import SESSION_COOKIE
from watchfloor.app import Platform, open_platform
from watchfloor.config import Settings
from watchfloor.core.audit import AuditOutcome, AuditRecord
from watchfloor.core.principals import Role
from watchfloor.core.refusals import repeat_count

ADMIN = {"Authorization": f"Bearer {TOKEN}"}
AUDITOR = {"Authorization": "Bearer acc-auditor-token"}
BASE = "http://watchfloor"
PASSWORD = "correct horse battery"
INTERVAL = 300.0


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


@pytest.fixture
async def platform(settings: Settings, clock: FakeClock) -> AsyncIterator[Platform]:
    configured = replace(settings, login_failures_per_name=3, audit_refusal_interval=INTERVAL)
    async with open_platform(configured, clock=clock) as running:
        for user, role in (("gus", Role.PATROL), ("guard", Role.PATROL), ("ada", Role.AUDITOR)):
            await running.users.ensure_token(
                user=user, role=role, label="t", token=f"acc-{user}-token"
            )
        await running.users.ensure_token(
            user="ada", role=Role.AUDITOR, label="audit", token="acc-auditor-token"
        )
        yield running


def _client(platform: Platform, address: str = "10.1.2.3") -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=platform.api, client=(address, 50000))
    return httpx.AsyncClient(transport=transport, base_url=BASE)


@pytest.fixture
async def client(platform: Platform) -> AsyncIterator[httpx.AsyncClient]:
    async with _client(platform) as http:
        yield http


async def _refusals(platform: Platform, action: str | None = None) -> list[AuditRecord]:
    rows = reversed(await platform.audit_log.search(limit=10_000, action=action))
    return [r for r in rows if r.entry.outcome is AuditOutcome.DENIED]


async def _add_user(client: httpx.AsyncClient, name: str = "alice", role: str = "operator") -> None:
    made = await client.post(
        "/api/users", json={"name": name, "role": role, "password": PASSWORD}, headers=ADMIN
    )
    assert made.status_code == 201, made.text


async def _sign_in(client: httpx.AsyncClient, name: str = "alice") -> tuple[str, str]:
    response = await client.post("/api/login", json={"name": name, "password": PASSWORD})
    assert response.status_code == 200, response.text
    client.cookies.clear()
    return response.cookies[SESSION_COOKIE], response.json()["csrf_token"]


def _stream(
    http: httpx.AsyncClient, path: str, headers: dict[str, str] | None = None
) -> AbstractAsyncContextManager[AsyncWebSocketSession]:
    connection: AbstractAsyncContextManager[AsyncWebSocketSession] = aconnect_ws(
        path, http, headers=headers or {}
    )
    return connection


async def _refused_stream(
    platform: Platform, path: str, headers: dict[str, str] | None = None
) -> int:
    """Open the stream as a client at 10.1.2.3 would; return the close code."""
    transport = ASGIWebSocketTransport(app=platform.api, client=("10.1.2.3", 50000))
    async with httpx.AsyncClient(transport=transport, base_url=BASE) as http:
        with pytest.raises(WebSocketDisconnect) as closed:
            async with _stream(http, path, headers) as ws:
                await ws.receive_text()
    return closed.value.code


# --- Every refusal is audited ---------------------------------------------------------------


async def test_csrf_refusals_are_audited_with_the_sessions_user(
    client: httpx.AsyncClient, platform: Platform
) -> None:
    await _add_user(client)
    cookie, csrf = await _sign_in(client)
    session = {"Cookie": f"{SESSION_COOKIE}={cookie}"}

    no_header = await client.post("/api/me/totp", json={}, headers=session)
    other_site = await client.post(
        "/api/me/totp",
        json={},
        headers={**session, "X-CSRF-Token": csrf, "Origin": "https://evil.example"},
    )
    sign_in = await client.post(
        "/api/login",
        json={"name": "alice", "password": PASSWORD},
        headers={"Origin": "https://evil.example"},
    )

    assert (no_header.status_code, other_site.status_code, sign_in.status_code) == (403, 403, 403)
    rows = [
        (r.entry.actor, r.entry.target, r.entry.reason, r.entry.peer)
        for r in await _refusals(platform, "csrf.refused")
    ]
    assert rows == [
        ("alice", "POST /api/me/totp", "missing or wrong X-CSRF-Token header", "10.1.2.3"),
        ("alice", "POST /api/me/totp", "cross-site request refused", "10.1.2.3"),
        ("anonymous", "POST /api/login", "cross-site sign-in", "10.1.2.3"),
    ]


async def test_a_forged_session_cookie_is_audited_as_its_hash(
    client: httpx.AsyncClient, platform: Platform
) -> None:
    forged = "forged-session-value-7f1c"
    response = await client.get("/api/me", headers={"Cookie": f"{SESSION_COOKIE}={forged}"})

    assert response.status_code == 401
    [row] = await _refusals(platform, "session.rejected")
    assert (row.entry.actor, row.entry.target) == ("anonymous", "GET /api/me")
    assert row.entry.digest == _sha256(forged)
    assert forged not in repr(await platform.audit_log.search(limit=1000))


async def test_the_crew_check_is_audited(client: httpx.AsyncClient, platform: Platform) -> None:
    made = await client.post("/api/units", headers=ADMIN, json={"name": "P1", "user": "guard"})
    unit_id = made.json()["id"]

    refused = await client.post(
        f"/api/units/{unit_id}/status",
        headers={"Authorization": "Bearer acc-gus-token"},
        json={"status": "en_route"},
    )

    assert refused.status_code == 403
    [row] = await _refusals(platform, "access.denied")
    assert (row.entry.actor, row.entry.role, row.entry.target) == (
        "gus",
        "patrol",
        f"POST /api/units/{unit_id}/status",
    )
    assert row.entry.reason == "gus does not report for unit P1"


async def test_every_stream_refusal_is_audited(
    client: httpx.AsyncClient, platform: Platform
) -> None:
    await _add_user(client)
    cookie, csrf = await _sign_in(client)
    ended = await client.post(
        "/api/logout", headers={"Cookie": f"{SESSION_COOKIE}={cookie}", "X-CSRF-Token": csrf}
    )
    assert ended.status_code == 204

    forged = await _refused_stream(platform, "/api/stream?token=guess-1234")
    wrong_role = await _refused_stream(platform, "/api/stream?token=acc-gus-token")
    other_site = await _refused_stream(
        platform, "/api/stream", {"Origin": "https://evil.example", "Cookie": "x=1"}
    )
    ended_session = await _refused_stream(
        platform, "/api/stream", {"Origin": BASE, "Cookie": f"{SESSION_COOKIE}={cookie}"}
    )

    assert (forged, wrong_role, other_site, ended_session) == (4401, 4403, 4401, 4401)
    rows = [
        (r.entry.action, r.entry.actor, r.entry.target, r.entry.peer, r.entry.digest)
        for r in await _refusals(platform)
    ]
    stream = "WEBSOCKET /api/stream"
    assert rows == [
        ("token.rejected", "anonymous", stream, "10.1.2.3", _sha256("guess-1234")),
        ("access.denied", "gus", stream, "10.1.2.3", None),
        ("csrf.refused", "anonymous", stream, "10.1.2.3", None),
        ("session.rejected", "anonymous", stream, "10.1.2.3", _sha256(cookie)),
    ]


async def test_a_guess_leaves_the_same_trace_over_the_stream_as_over_rest(
    platform: Platform,
) -> None:
    async with _client(platform, "10.9.9.9") as http:
        assert (await http.get("/api/alarms", headers={"Authorization": "Bearer g1"})).is_error
    assert await _refused_stream(platform, "/api/stream?token=g2") == 4401

    rows = await _refusals(platform, "token.rejected")
    assert [(r.entry.target, r.entry.digest) for r in rows] == [
        ("GET /api/alarms", _sha256("g1")),
        ("WEBSOCKET /api/stream", _sha256("g2")),
    ]


# --- Floods are counted, not written row by row ----------------------------------------------


async def test_a_flood_of_forged_tokens_makes_two_rows_with_the_exact_count(
    client: httpx.AsyncClient, platform: Platform, clock: FakeClock
) -> None:
    before = len(await platform.audit_log.search(limit=10_000))
    guesses = 400
    for n in range(guesses):
        response = await client.get("/api/alarms", headers={"Authorization": f"Bearer g-{n}"})
        assert response.status_code == 401
    for n in range(20):
        assert await _refused_stream(platform, f"/api/stream?token=w-{n}") == 4401

    written = await _refusals(platform, "token.rejected")
    assert [r.entry.digest for r in written] == [_sha256("g-0")]

    clock.advance(INTERVAL)
    assert await platform.refusals.close_due() == 1
    rows = await _refusals(platform, "token.rejected")
    assert len(rows) == 2
    assert sum(repeat_count(r.entry) for r in rows) == guesses + 20
    assert rows[-1].entry.reason is not None
    assert rows[-1].entry.reason.startswith(f"{guesses + 19} more from this source between")
    assert len(await platform.audit_log.search(limit=10_000)) == before + 2
    report = await platform.audit_log.verify(lambda *_: True)
    assert report.ok, report.problems


async def test_sources_are_counted_apart(platform: Platform) -> None:
    for address in ("10.0.0.1", "10.0.0.2"):
        async with _client(platform, address) as http:
            for n in range(30):
                await http.get("/api/alarms", headers={"Authorization": f"Bearer x-{n}"})
    assert [r.entry.peer for r in await _refusals(platform)] == ["10.0.0.1", "10.0.0.2"]


async def test_counts_open_at_shutdown_are_written(settings: Settings, clock: FakeClock) -> None:
    async with open_platform(settings, clock=clock) as platform, _client(platform) as http:
        for n in range(50):
            await http.get("/api/alarms", headers={"Authorization": f"Bearer s-{n}"})
        await http.get("/api/audit", headers={"Authorization": "Bearer s-0"})
    with closing(sqlite3.connect(settings.data_dir / "watchfloor.db")) as database:
        rows = database.execute(
            "SELECT reason FROM audit_log WHERE action = 'token.rejected' ORDER BY seq"
        ).fetchall()
        [(last_checkpoint,)] = database.execute(
            "SELECT count FROM audit_checkpoints ORDER BY id DESC LIMIT 1"
        ).fetchall()
        [(head,)] = database.execute("SELECT max(seq) FROM audit_log").fetchall()
    assert rows[0] == (None,)
    assert rows[1][0].startswith("50 more from this source")
    assert len(rows) == 2
    assert last_checkpoint == head  # the summary is under the shutdown checkpoint


async def test_repeated_sign_in_refusals_are_counted_too(
    client: httpx.AsyncClient, platform: Platform
) -> None:
    await _add_user(client)
    statuses = [
        (await client.post("/api/login", json={"name": "alice", "password": "no"})).status_code
        for _ in range(40)
    ]
    assert statuses == [401] * 3 + [429] * 37
    rows = await _refusals(platform, "login.")
    assert [r.entry.action for r in rows] == ["login.failed", "login.rate_limited"]


# --- Names no user has are kept only as their hash -------------------------------------------


async def test_an_unknown_sign_in_name_is_kept_only_as_its_hash(
    client: httpx.AsyncClient, platform: Platform, caplog: pytest.LogCaptureFixture
) -> None:
    typed = "hunter2-secret"
    await _add_user(client)
    with caplog.at_level(logging.DEBUG, logger="watchfloor"):
        for _ in range(4):  # three failures, then rate-limited for that name
            await client.post("/api/login", json={"name": typed, "password": "whatever it is"})
        await client.post("/api/login", json={"name": "alice", "password": "wrong password"})

    rows = await platform.audit_log.search(limit=1000)
    assert typed not in repr(rows)
    assert typed not in caplog.text
    assert typed not in repr([r.args for r in caplog.records])
    unknown = [r.entry for r in rows if r.entry.digest == _sha256(typed)]
    assert {(e.action, e.actor, e.target) for e in unknown} == {
        ("login.failed", "anonymous", None),
        ("login.rate_limited", "anonymous", None),
    }
    assert f"sha256:{_sha256(typed)}" in caplog.text
    known = [r.entry for r in rows if r.entry.action == "login.failed" and r.entry.target]
    assert [(e.actor, e.target) for e in known] == [("alice", "user:alice")]


# --- Separation of duties ---------------------------------------------------------------------


async def test_an_administrator_cannot_make_an_auditor_through_the_api(
    client: httpx.AsyncClient, platform: Platform
) -> None:
    await _add_user(client, "olga")
    created = await client.post(
        "/api/users", json={"name": "audrey", "role": "auditor"}, headers=ADMIN
    )
    promoted = await client.patch(
        "/api/users/olga",
        json={"role": "auditor", "password": "a new password, set by the admin"},
        headers=ADMIN,
    )

    for refused in (created, promoted):
        assert refused.status_code == 403, refused.text
        assert refused.json()["error"] == "separation_of_duties"
        assert "watchfloor users" in refused.json()["detail"]
    users = {
        u["name"]: u["role"]
        for u in (await client.get("/api/users", headers=ADMIN)).json()["items"]
    }
    assert users == {"olga": "operator"}
    await _sign_in(client, "olga")  # the password in the refused request was not set either
    rows = await _refusals(platform, "access.denied")
    assert [(r.entry.actor, r.entry.target, r.entry.via) for r in rows] == [
        ("admin", "user:audrey", "session"),
        ("admin", "user:olga", "session"),
    ]


async def test_an_administrator_cannot_mint_a_token_for_someone_else(
    client: httpx.AsyncClient, platform: Platform
) -> None:
    await _add_user(client, "olga")
    await _add_user(client, "alex", role="admin")

    for_olga = await client.post("/api/users/olga/tokens", json={"name": "ci"}, headers=ADMIN)
    cookie, csrf = await _sign_in(client, "alex")
    own = await client.post(
        "/api/users/alex/tokens",
        json={"name": "laptop", "role": "operator"},
        headers={"Cookie": f"{SESSION_COOKIE}={cookie}", "X-CSRF-Token": csrf},
    )

    assert for_olga.status_code == 403
    assert for_olga.json()["error"] == "separation_of_duties"
    assert "watchfloor tokens create" in for_olga.json()["detail"]
    assert (await client.get("/api/users/olga/tokens", headers=ADMIN)).json()["items"] == []
    assert own.status_code == 201, own.text
    [row] = await _refusals(platform, "access.denied")
    assert (row.entry.actor, row.entry.target) == ("admin", "user:olga")
    assert row.entry.reason is not None
    assert "act as them" in row.entry.reason


async def test_the_server_command_line_still_does_both(platform: Platform) -> None:
    admin = platform.api.state.services.user_admin
    await admin.add_user(name="audrey", role=Role.AUDITOR, password=None, actor=None)
    created = await admin.create_token(user="audrey", label="review", role=None, actor=None)
    async with _client(platform) as http:
        bearer = {"Authorization": f"Bearer {created.value}"}
        assert (await http.get("/api/audit", headers=bearer)).status_code == 200

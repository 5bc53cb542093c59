"""Console sign-in, sessions, CSRF, users and API tokens through the real app (ASGI)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager
from dataclasses import replace
from datetime import timedelta

import httpx
import pyotp
import pytest
from httpx_ws import AsyncWebSocketSession, WebSocketDisconnect, aconnect_ws
from httpx_ws.transport import ASGIWebSocketTransport

from conftest import TOKEN
from support.clock import FakeClock
from support.panel import open_tcp_panel, reply_token, sia_frame
from watchfloor.api.auth import SESSION_COOKIE
from watchfloor.app import Platform, open_platform
from watchfloor.config import Settings

ADMIN = {"Authorization": f"Bearer {TOKEN}"}
BASE = "http://watchfloor"
PASSWORD = "correct horse battery"


@pytest.fixture
async def platform(settings: Settings, clock: FakeClock) -> AsyncIterator[Platform]:
    """The platform on the test's clock, with few failures allowed per name."""
    async with open_platform(replace(settings, login_failures_per_name=3), clock=clock) as running:
        yield running


@pytest.fixture
async def client(platform: Platform) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=platform.api)
    async with httpx.AsyncClient(transport=transport, base_url=BASE) as http:
        yield http


async def _add_user(client: httpx.AsyncClient, name: str = "alice", role: str = "operator") -> None:
    response = await client.post(
        "/api/users", json={"name": name, "role": role, "password": PASSWORD}, headers=ADMIN
    )
    assert response.status_code == 201, response.text


class Session:
    """A signed-in browser, as far as the server can tell: the cookie and the CSRF token."""

    def __init__(self, client: httpx.AsyncClient, cookie: str, csrf: str) -> None:
        self.client = client
        self.cookie = cookie
        self.csrf = csrf

    def headers(self, csrf: bool = True, **extra: str) -> dict[str, str]:
        headers = {"Cookie": f"{SESSION_COOKIE}={self.cookie}"}
        if csrf:
            headers["X-CSRF-Token"] = self.csrf
        return headers | extra

    async def get(self, path: str) -> httpx.Response:
        return await self.client.get(path, headers=self.headers(csrf=False))

    async def post(self, path: str, body: object = None, **headers: str) -> httpx.Response:
        return await self.client.post(path, json=body, headers=self.headers(True, **headers))


async def _login(
    client: httpx.AsyncClient, name: str = "alice", password: str = PASSWORD, **extra: str
) -> Session:
    response = await client.post("/api/login", json={"name": name, "password": password, **extra})
    assert response.status_code == 200, response.text
    client.cookies.clear()  # each Session sends its own cookie
    return Session(client, response.cookies[SESSION_COOKIE], response.json()["csrf_token"])


async def _begin_totp(session: Session) -> pyotp.TOTP:
    uri = (await session.post("/api/me/totp", {})).json()["otpauth_uri"]
    totp = pyotp.parse_uri(uri)
    assert isinstance(totp, pyotp.TOTP)
    return totp


async def test_login_sets_a_strict_http_only_cookie_and_returns_who_and_the_csrf_token(
    client: httpx.AsyncClient,
) -> None:
    await _add_user(client)
    response = await client.post("/api/login", json={"name": "alice", "password": PASSWORD})

    assert response.status_code == 200
    cookie = response.headers["set-cookie"]
    assert cookie.startswith(f"{SESSION_COOKIE}=")
    for attribute in ("HttpOnly", "SameSite=strict", "Path=/"):
        assert attribute.lower() in cookie.lower()
    assert "secure" not in cookie.lower()  # plain http here; https requests get Secure
    body = response.json()
    assert body["user"] == "alice"
    assert body["role"] == "operator"
    assert body["via"] == "session"
    assert "handle_alarms" in body["permissions"]
    assert body["csrf_token"]
    assert response.cookies[SESSION_COOKIE] not in response.text


async def test_me_tells_a_session_from_a_token(client: httpx.AsyncClient) -> None:
    await _add_user(client)
    session = await _login(client)

    by_session = (await session.get("/api/me")).json()
    by_token = (await client.get("/api/me", headers=ADMIN)).json()

    assert by_session["via"] == "session"
    assert by_session["csrf_token"] == session.csrf
    assert by_session["expires_at"] == "2026-01-15T03:30:00Z"
    assert by_session["totp_enrolled"] is False
    assert by_session["idle_seconds"] == 1800
    assert by_token == {
        "user": "admin",
        "role": "admin",
        "permissions": by_token["permissions"],
        "via": "token",
        "expires_at": None,
        "csrf_token": None,
        "totp_enrolled": None,
        "idle_seconds": None,
    }
    assert (await client.get("/api/me")).status_code == 401


async def test_a_sign_in_from_another_site_is_refused(client: httpx.AsyncClient) -> None:
    await _add_user(client)
    response = await client.post(
        "/api/login",
        json={"name": "alice", "password": PASSWORD},
        headers={"Origin": "https://evil.example"},
    )
    assert response.status_code == 403
    assert SESSION_COOKIE not in response.cookies


@pytest.mark.parametrize(("name", "password"), [("alice", "wrong password"), ("bob", PASSWORD)])
async def test_a_failed_login_is_one_generic_401(
    client: httpx.AsyncClient, name: str, password: str
) -> None:
    await _add_user(client)
    response = await client.post("/api/login", json={"name": name, "password": password})
    assert response.status_code == 401
    assert response.json() == {
        "error": "login_refused",
        "detail": "the name, password or code is wrong",
    }
    assert SESSION_COOKIE not in response.cookies


async def test_repeated_failures_get_429_with_retry_after(
    client: httpx.AsyncClient, clock: FakeClock
) -> None:
    await _add_user(client)
    for _ in range(3):
        response = await client.post("/api/login", json={"name": "alice", "password": "nope"})
        assert response.status_code == 401
    limited = await client.post("/api/login", json={"name": "alice", "password": PASSWORD})

    assert limited.status_code == 429
    assert limited.headers["Retry-After"] == "30"
    assert limited.json()["error"] == "rate_limited"
    clock.advance(30)
    await _login(client)


async def test_a_guesser_elsewhere_does_not_lock_the_rightful_user_out(
    platform: Platform, client: httpx.AsyncClient, clock: FakeClock
) -> None:
    await _add_user(client)
    guesser = httpx.AsyncClient(
        transport=httpx.ASGITransport(app=platform.api, client=("203.0.113.66", 40000)),
        base_url=BASE,
    )
    async with guesser:
        for attempt in range(10):
            await guesser.post("/api/login", json={"name": "alice", "password": f"guess {attempt}"})
        still_slowed = await guesser.post("/api/login", json={"name": "alice", "password": "x"})
        assert still_slowed.status_code == 429

    office = httpx.AsyncClient(
        transport=httpx.ASGITransport(app=platform.api, client=("192.0.2.10", 50000)),
        base_url=BASE,
    )
    async with office:
        signed_in = await office.post("/api/login", json={"name": "alice", "password": PASSWORD})
    assert signed_in.status_code == 200, signed_in.text


async def test_a_cookie_alone_does_not_make_an_unsafe_request(client: httpx.AsyncClient) -> None:
    await _add_user(client)
    session = await _login(client)

    no_csrf = await client.post("/api/me/totp", json={}, headers=session.headers(csrf=False))
    wrong_csrf = await session.post("/api/me/totp", {}, **{"X-CSRF-Token": "guess"})
    other_origin = await session.post("/api/me/totp", {}, Origin="https://evil.example")
    cross_site = await session.post("/api/me/totp", {}, **{"Sec-Fetch-Site": "cross-site"})
    same_origin = await session.post(
        "/api/me/totp", {}, Origin=BASE, **{"Sec-Fetch-Site": "same-origin"}
    )

    assert no_csrf.status_code == 403
    assert "X-CSRF-Token" in no_csrf.json()["detail"]
    assert wrong_csrf.status_code == 403
    assert other_origin.status_code == 403
    assert cross_site.status_code == 403
    assert same_origin.status_code == 200
    assert same_origin.json()["otpauth_uri"].startswith("otpauth://totp/")


async def test_bearer_requests_need_no_csrf_token(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/api/accounts", json={"account": "1234", "site": "HQ"}, headers=ADMIN
    )
    assert response.status_code == 201


async def test_an_operator_session_works_an_alarm_and_is_named_on_it(
    client: httpx.AsyncClient, platform: Platform
) -> None:
    await _add_user(client)
    session = await _login(client)
    host, port = platform.dc09_address
    async with open_tcp_panel(host, port) as panel:
        assert reply_token(await panel.exchange(sia_frame("1234", 1))) == "ACK"
    alarm = (await session.get("/api/alarms")).json()["items"][0]

    refused = await client.post(
        f"/api/alarms/{alarm['id']}/acknowledge", headers=session.headers(csrf=False)
    )
    acknowledged = await session.post(f"/api/alarms/{alarm['id']}/acknowledge")

    assert refused.status_code == 403
    assert acknowledged.status_code == 200, acknowledged.text
    assert acknowledged.json()["acknowledged_by"] == "alice"


async def test_sessions_expire_when_idle_and_at_the_absolute_timeout(
    client: httpx.AsyncClient, clock: FakeClock
) -> None:
    await _add_user(client)
    idle = await _login(client)
    busy = await _login(client)
    clock.advance(29 * 60)
    assert (await busy.get("/api/me")).status_code == 200
    clock.advance(2 * 60)
    assert (await idle.get("/api/me")).status_code == 401  # 31 minutes unused

    clock.advance(27 * 60)
    assert (await busy.get("/api/me")).status_code == 200
    for _ in range(22):  # used every 29 minutes, until 11 h 36 min after sign-in
        clock.advance(29 * 60)
        assert (await busy.get("/api/me")).status_code == 200
    clock.advance(29 * 60)  # 12 h 5 min after sign-in, 29 minutes after its last use
    expired = await busy.get("/api/me")
    assert expired.status_code == 401
    assert "expired" in expired.json()["detail"]


async def test_logout_and_end_all_end_sessions(client: httpx.AsyncClient) -> None:
    await _add_user(client)
    first, second, third = [await _login(client) for _ in range(3)]

    logout = await first.post("/api/logout")
    assert logout.status_code == 204
    assert 'watchfloor_session=""' in logout.headers["set-cookie"]
    assert (await first.get("/api/me")).status_code == 401
    assert (await second.get("/api/me")).status_code == 200

    assert (await second.post("/api/sessions/end-all")).status_code == 204
    assert (await second.get("/api/me")).status_code == 401
    assert (await third.get("/api/me")).status_code == 401
    assert (await first.post("/api/logout")).status_code == 401


async def test_totp_enrolment_then_login_with_a_code(
    client: httpx.AsyncClient, clock: FakeClock
) -> None:
    await _add_user(client)
    session = await _login(client)
    totp = await _begin_totp(session)
    wrong = await session.post("/api/me/totp", {"code": "000000"})
    confirmed = await session.post("/api/me/totp", {"code": totp.at(clock.now())})
    assert wrong.status_code == 422
    assert confirmed.json() == {"enrolled": True, "otpauth_uri": None}

    clock.advance(30)
    asked = await client.post("/api/login", json={"name": "alice", "password": PASSWORD})
    assert asked.status_code == 401
    assert asked.json()["error"] == "totp_required"
    signed_in = await _login(client, code=totp.at(clock.now()))
    assert (await signed_in.get("/api/me")).json()["user"] == "alice"
    users = (await client.get("/api/users", headers=ADMIN)).json()["items"]
    assert users[0]["totp_enrolled"] is True
    assert "secret" not in json.dumps(users).lower()


async def test_changing_ones_password(client: httpx.AsyncClient) -> None:
    await _add_user(client)
    session = await _login(client)
    new = "another long passphrase"
    bad = await session.post("/api/me/password", {"current": PASSWORD, "new": "short"})
    changed = await session.post("/api/me/password", {"current": PASSWORD, "new": new})

    assert bad.status_code == 422
    assert bad.json()["problems"][0]["field"] == "password"
    assert changed.status_code == 204
    await _login(client, password=new)


async def test_only_user_managers_manage_users(client: httpx.AsyncClient) -> None:
    await _add_user(client)
    session = await _login(client)
    refused = await session.post("/api/users", {"name": "eve", "role": "admin"})
    bad = await client.post(
        "/api/users", json={"name": "bad name", "role": "operator"}, headers=ADMIN
    )
    taken = await client.post(
        "/api/users", json={"name": "alice", "role": "operator"}, headers=ADMIN
    )
    listed = await client.get("/api/users", headers=ADMIN)

    assert refused.status_code == 403
    assert bad.status_code == 422
    assert bad.json()["problems"] == [{"field": "name", "message": bad.json()["detail"]}]
    assert taken.status_code == 409
    assert [u["name"] for u in listed.json()["items"]] == ["alice"]
    assert "password" not in listed.text


async def test_disabling_a_user_ends_their_session_and_stops_their_tokens(
    client: httpx.AsyncClient, platform: Platform
) -> None:
    await _add_user(client)
    session = await _login(client)
    # A token for another user is made on the server (the command line's door).
    created = await platform.api.state.services.user_admin.create_token(
        user="alice", label="ci", role=None, actor=None
    )
    token = created.value

    changed = await client.patch("/api/users/alice", json={"disabled": True}, headers=ADMIN)

    assert changed.json()["disabled_at"] is not None
    assert (await session.get("/api/me")).status_code == 401
    bearer = {"Authorization": f"Bearer {token}"}
    assert (await client.get("/api/alarms", headers=bearer)).status_code == 401
    assert (await client.patch("/api/users/bob", json={}, headers=ADMIN)).status_code == 404


async def test_tokens_are_shown_once_listed_without_value_and_revocable(
    client: httpx.AsyncClient,
) -> None:
    await _add_user(client, role="admin")
    session = await _login(client)  # an administrator makes tokens for themself only
    too_high = await session.post("/api/users/alice/tokens", {"name": "ci", "role": "auditor"})
    created = await session.post("/api/users/alice/tokens", {"name": "ci", "role": "operator"})
    body = created.json()
    bearer = {"Authorization": f"Bearer {body['token']}"}
    listed = await client.get("/api/users/alice/tokens", headers=ADMIN)

    assert too_high.status_code == 422
    assert too_high.json()["problems"][0]["field"] == "role"
    assert created.status_code == 201
    assert body["role"] == "operator"
    assert (await client.get("/api/me", headers=bearer)).json()["role"] == "operator"
    assert body["token"] not in listed.text
    assert [t["name"] for t in listed.json()["items"]] == ["ci"]

    revoked = await client.delete(f"/api/tokens/{body['id']}", headers=ADMIN)
    assert revoked.json()["revoked_at"] is not None
    assert (await client.get("/api/me", headers=bearer)).status_code == 401
    assert (await client.delete("/api/tokens/999", headers=ADMIN)).status_code == 404


async def test_admin_resets_a_password_and_a_second_factor(
    client: httpx.AsyncClient, clock: FakeClock
) -> None:
    await _add_user(client)
    session = await _login(client)
    totp = await _begin_totp(session)
    await session.post("/api/me/totp", {"code": totp.at(clock.now())})
    new = "reset by the administrator"

    reset = await client.patch(
        "/api/users/alice", json={"password": new, "reset_totp": True}, headers=ADMIN
    )

    assert reset.json()["totp_enrolled"] is False
    assert (await session.get("/api/me")).status_code == 401  # a reset ends sessions
    await _login(client, password=new)


def _connect(
    client: httpx.AsyncClient, headers: dict[str, str]
) -> AbstractAsyncContextManager[AsyncWebSocketSession]:
    connection: AbstractAsyncContextManager[AsyncWebSocketSession] = aconnect_ws(
        "/api/stream", client, headers=headers
    )
    return connection


async def test_the_stream_accepts_a_session_cookie_from_our_own_origin(
    platform: Platform, client: httpx.AsyncClient
) -> None:
    await _add_user(client)
    session = await _login(client)
    cookie = {"Cookie": f"{SESSION_COOKIE}={session.cookie}"}
    transport = ASGIWebSocketTransport(app=platform.api)
    async with httpx.AsyncClient(transport=transport, base_url=BASE) as http:
        async with _connect(http, {**cookie, "Origin": BASE}) as ws:
            host, port = platform.dc09_address
            async with open_tcp_panel(host, port) as panel:
                assert reply_token(await panel.exchange(sia_frame("1234", 1))) == "ACK"
            message = json.loads(await asyncio.wait_for(ws.receive_text(), 10))
        assert message["event"] == "alarm.created"
        with pytest.raises(WebSocketDisconnect) as closed:
            async with _connect(http, {**cookie, "Origin": "https://evil.example"}) as ws:
                await ws.receive_text()
        assert closed.value.code == 4401


async def test_the_session_timeouts_come_from_the_settings(
    settings: Settings, clock: FakeClock
) -> None:
    short = replace(settings, session_idle_seconds=60, session_absolute_seconds=120)
    async with (
        open_platform(short, clock=clock) as running,
        httpx.AsyncClient(transport=httpx.ASGITransport(app=running.api), base_url=BASE) as http,
    ):
        await _add_user(http)
        session = await _login(http)
        assert (await session.get("/api/me")).json()["expires_at"] == "2026-01-15T03:01:00Z"
        clock.advance(timedelta(seconds=61).total_seconds())
        assert (await session.get("/api/me")).status_code == 401


async def test_a_console_polling_more_often_than_a_short_idle_timeout_stays_signed_in(
    settings: Settings, clock: FakeClock
) -> None:
    short = replace(settings, session_idle_seconds=60)
    async with (
        open_platform(short, clock=clock) as running,
        httpx.AsyncClient(transport=httpx.ASGITransport(app=running.api), base_url=BASE) as http,
    ):
        await _add_user(http)
        session = await _login(http)
        statuses = []
        for _ in range(9):  # the console's keep-alive, every 20 s for three minutes
            clock.advance(20)
            statuses.append((await session.get("/api/me")).status_code)
        assert statuses == [200] * 9
        assert (await session.get("/api/me")).json()["idle_seconds"] == 60
        clock.advance(61)
        assert (await session.get("/api/me")).status_code == 401

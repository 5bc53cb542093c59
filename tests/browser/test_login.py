"""Signing in to the console: password, TOTP, session expiry, sign-out, rate limiting.

The server runs in this process on a FakeClock (``support.threaded``), so that session
timeouts pass when the test says, without waiting.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import httpx
import pyotp
import pytest

from support.clock import FakeClock
from support.console import CONSOLE_PASSWORD, sign_in
from support.threaded import serve_in_thread
from watchfloor.config import HostPort, Secret, Settings

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

pytestmark = pytest.mark.browser

sync_api = pytest.importorskip("playwright.sync_api")
expect = sync_api.expect

TOKEN = "login-test-admin-token"
IDLE_MINUTES = 10
ABSOLUTE_MINUTES = 30


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def base_url(tmp_path: Path, clock: FakeClock) -> Iterator[str]:
    settings = Settings(
        data_dir=tmp_path / "var",
        dc09=HostPort(host="127.0.0.1", port=0),
        bootstrap_token=Secret(TOKEN),
        session_idle_seconds=IDLE_MINUTES * 60,
        session_absolute_seconds=ABSOLUTE_MINUTES * 60,
        login_failures_per_name=3,
    )
    with serve_in_thread(settings, clock) as url:
        with httpx.Client(
            base_url=url, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=10
        ) as admin:
            response = admin.post(
                "/api/users",
                json={"name": "alice", "role": "operator", "password": CONSOLE_PASSWORD},
            )
            assert response.status_code == 201, response.text
        yield url


def _submit(page: Page, name: str, password: str) -> None:
    page.fill("#name", name)
    page.fill("#password", password)
    page.click("button[type=submit]")


def test_signing_in_with_a_password_opens_the_queue_and_signing_out_ends_it(
    base_url: str, page: Page
) -> None:
    sign_in(page, base_url, "alice")
    expect(page.locator("#whoami")).to_have_text("alice (operator)")

    page.click("#logout")
    page.wait_for_url("**/login.html?reason=signed-out")
    expect(page.locator("#login-reason")).to_have_text("Signed out.")
    page.goto(base_url + "/")
    page.wait_for_url("**/login.html")  # the cookie no longer opens the queue


def test_a_wrong_password_is_refused_without_saying_what_was_wrong(
    base_url: str, page: Page
) -> None:
    page.goto(base_url + "/login.html")
    _submit(page, "alice", "not the password")
    expect(page.locator("#login-error")).to_have_text("the name, password or code is wrong")
    _submit(page, "nobody", CONSOLE_PASSWORD)
    expect(page.locator("#login-error")).to_have_text("the name, password or code is wrong")
    expect(page.locator("#code-row")).to_be_hidden()


def test_repeated_failures_are_rate_limited_with_a_clear_message(
    base_url: str, page: Page, clock: FakeClock
) -> None:
    page.goto(base_url + "/login.html")
    for attempt in range(3):
        # Submitting clears the last answer at once, so each wait is for this attempt's.
        _submit(page, "alice", f"wrong {attempt}")
        expect(page.locator("#login-error")).to_have_text("the name, password or code is wrong")
    _submit(page, "alice", CONSOLE_PASSWORD)
    expect(page.locator("#login-error")).to_have_text(
        "Too many failed attempts: try again in 30 seconds."
    )

    clock.advance(30)
    _submit(page, "alice", CONSOLE_PASSWORD)
    expect(page.locator("#connection")).to_have_text("live")


def test_totp_enrolment_then_sign_in_asks_for_the_code(
    base_url: str, page: Page, clock: FakeClock
) -> None:
    sign_in(page, base_url, "alice")
    page.click("#totp-setup")
    uri = page.locator("#totp-uri")
    expect(uri).to_contain_text("otpauth://totp/")
    totp = pyotp.parse_uri(uri.inner_text())
    assert isinstance(totp, pyotp.TOTP)
    assert page.locator("#totp-secret").inner_text() == totp.secret
    page.fill("#totp-code", "000000")
    page.click("#totp-form button[type=submit]")
    expect(page.locator("#totp-message")).to_contain_text("wrong")
    page.fill("#totp-code", totp.at(clock.now()))
    page.click("#totp-form button[type=submit]")
    expect(page.locator("#totp-message")).to_contain_text("Two-factor sign-in is on")
    page.click("#totp-close")
    expect(page.locator("#totp-setup")).to_be_hidden()
    page.click("#logout")
    page.wait_for_url("**/login.html**")

    clock.advance(30)  # the next code: each is good once
    _submit(page, "alice", CONSOLE_PASSWORD)
    expect(page.locator("#code-row")).to_be_visible()
    expect(page.locator("#login-error")).to_have_text("enter the code of your authenticator app")
    page.fill("#code", "123456" if totp.at(clock.now()) != "123456" else "654321")
    page.click("button[type=submit]")
    expect(page.locator("#login-error")).to_have_text("the name, password or code is wrong")
    page.fill("#code", totp.at(clock.now()))
    page.click("button[type=submit]")
    expect(page.locator("#connection")).to_have_text("live")
    expect(page.locator("#totp-setup")).to_be_hidden()


def test_an_idle_session_expires(base_url: str, page: Page, clock: FakeClock) -> None:
    sign_in(page, base_url, "alice")
    clock.advance((IDLE_MINUTES - 1) * 60)
    page.reload()
    expect(page.locator("#whoami")).to_have_text("alice (operator)")

    clock.advance(IDLE_MINUTES * 60)
    page.reload()
    page.wait_for_url("**/login.html?reason=expired")
    expect(page.locator("#login-reason")).to_have_text("Your session has ended: sign in again.")


def test_a_session_expires_at_its_absolute_limit_however_active(
    base_url: str, page: Page, clock: FakeClock
) -> None:
    sign_in(page, base_url, "alice")
    for _ in range(ABSOLUTE_MINUTES // (IDLE_MINUTES - 1)):  # in use every 9 minutes: 27 min
        clock.advance((IDLE_MINUTES - 1) * 60)
        page.reload()
        expect(page.locator("#whoami")).to_have_text("alice (operator)")
    clock.advance((IDLE_MINUTES - 1) * 60)  # 36 minutes after signing in
    page.reload()
    page.wait_for_url("**/login.html?reason=expired")


def test_end_all_my_sessions_signs_out_every_browser(
    base_url: str, page: Page, browser: Browser
) -> None:
    other = browser.new_context()
    try:
        elsewhere = sign_in(other.new_page(), base_url, "alice")
        sign_in(page, base_url, "alice")
        page.click("#end-all")
        page.wait_for_url("**/login.html?reason=signed-out")
        elsewhere.reload()
        elsewhere.wait_for_url("**/login.html?reason=expired")
    finally:
        other.close()

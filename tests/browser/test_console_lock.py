"""A watched console is never signed out silently: it locks after the idle time, keeps showing
and sounding new alarms behind the lock, and keeps its session alive while it is open; a
session that ends all the same locks it with a warning instead of dropping to the sign-in page.

The server runs in this process on a FakeClock (``support.threaded``) and the page on
Playwright's clock; the test moves both together, a few seconds at a time, without waiting.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import httpx
import pytest

from support.clock import FakeClock
from support.console import CONSOLE_PASSWORD, sign_in
from support.threaded import serve_in_thread
from watchfloor.config import HostPort, Secret, Settings

if TYPE_CHECKING:
    from playwright.sync_api import Page

pytestmark = pytest.mark.browser

sync_api = pytest.importorskip("playwright.sync_api")
expect = sync_api.expect

TOKEN = "lock-test-admin-token"
IDLE_SECONDS = 60
STEP_SECONDS = 5


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def base_url(tmp_path: Path, clock: FakeClock) -> Iterator[str]:
    settings = Settings(
        data_dir=tmp_path / "var",
        dc09=HostPort(host="127.0.0.1", port=0),
        bootstrap_token=Secret(TOKEN),
        session_idle_seconds=IDLE_SECONDS,
    )
    with serve_in_thread(settings, clock) as url:
        with _admin(url) as admin:
            response = admin.post(
                "/api/users",
                json={"name": "alice", "role": "operator", "password": CONSOLE_PASSWORD},
            )
            assert response.status_code == 201, response.text
        yield url


def _admin(url: str) -> httpx.Client:
    return httpx.Client(base_url=url, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=10)


def _call(url: str, site: str) -> None:
    """A fire reported by phone: an alarm raised through the server's intake."""
    with _admin(url) as admin:
        response = admin.post(
            "/api/calls",
            json={
                "call_id": str(uuid.uuid4()),
                "type_code": 110,
                "site": site,
                "callback_number": "+44 20 7946 0000",
                "report": "smoke from the roof",
            },
        )
        assert response.status_code == 201, response.text


def _open_console(page: Page, url: str, clock: FakeClock) -> Page:
    page.clock.install(time=clock.now())
    sign_in(page, url, "alice")
    # From here the page's time moves with the server's, when the test moves them.
    at = datetime.fromtimestamp(page.evaluate("Date.now()") / 1000, UTC)
    page.clock.pause_at(at + timedelta(seconds=1))
    return page


def _idle(page: Page, clock: FakeClock, seconds: int) -> None:
    """Nobody touches the console for `seconds`: both clocks move, a few seconds at a time."""
    for _ in range(seconds // STEP_SECONDS):
        clock.advance(STEP_SECONDS)
        page.clock.run_for(STEP_SECONDS * 1000)


def test_an_idle_console_locks_and_still_shows_a_new_alarm_after_90_seconds(
    base_url: str, page: Page, clock: FakeClock
) -> None:
    console = _open_console(page, base_url, clock)
    _idle(console, clock, 90)

    lock = console.locator("#lock")
    expect(lock).to_be_visible()
    expect(console.locator("#lock-title")).to_have_text("Console locked")
    console.reload()  # a reload (or another tab) does not open the lock
    expect(lock).to_be_visible()
    expect(console.locator("#connection")).to_have_text("live")
    _call(base_url, "Roof Garden")
    row = console.locator("#alarms tr", has_text="Roof Garden")
    expect(row).to_be_visible()
    expect(row).to_have_attribute("data-priority", "1")
    expect(console.locator("#lock-waiting")).to_contain_text("Fire alarm at Roof Garden")
    expect(console.locator("#connection")).to_have_text("live")
    # The session is still good on the server: the console kept it alive while it was open.
    status = console.evaluate("fetch('/api/me').then((response) => response.status)")
    assert status == 200
    assert console.url == base_url + "/"

    # Keys do nothing behind the lock; the password opens it.
    console.keyboard.press("j")
    expect(console.locator("#detail")).to_be_hidden()
    console.fill("#unlock-password", "not the password")
    console.click("#unlock-form button[type=submit]")
    expect(console.locator("#unlock-error")).to_have_text("the name, password or code is wrong")
    expect(lock).to_be_visible()
    console.fill("#unlock-password", CONSOLE_PASSWORD)
    console.click("#unlock-form button[type=submit]")
    expect(lock).to_be_hidden()
    expect(console.locator("#connection")).to_have_text("live")
    row.click()
    expect(console.locator("#event")).to_contain_text("smoke from the roof")


def test_a_console_whose_session_ends_locks_with_a_warning_instead_of_signing_out(
    base_url: str, page: Page, clock: FakeClock
) -> None:
    console = _open_console(page, base_url, clock)
    with _admin(base_url) as admin:
        # An administrator disables and enables the user: every session of theirs ends.
        assert admin.patch("/api/users/alice", json={"disabled": True}).status_code == 200
        assert admin.patch("/api/users/alice", json={"disabled": False}).status_code == 200

    _idle(console, clock, 20)  # the next keep-alive finds the session gone

    expect(console.locator("#lock")).to_be_visible()
    expect(console.locator("#lock-title")).to_have_text(
        "Session ended: new alarms are NOT being received"
    )
    assert console.url == base_url + "/"
    console.fill("#unlock-password", CONSOLE_PASSWORD)
    console.click("#unlock-form button[type=submit]")
    expect(console.locator("#lock")).to_be_hidden()
    expect(console.locator("#connection")).to_have_text("live")
    _call(base_url, "After Hours")
    expect(console.locator("#alarms tr", has_text="After Hours")).to_be_visible()

"""The phone page of staff on duty and the call intake page, in Debian's Chromium."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import httpx
import pytest

from support.console import sign_in
from support.server import ServerProcess
from support.tokens import add_token
from watchfloor.core.principals import Role

if TYPE_CHECKING:
    from playwright.sync_api import Browser, BrowserContext, Page, Route, ViewportSize

pytestmark = pytest.mark.browser

sync_api = pytest.importorskip("playwright.sync_api")
expect = sync_api.expect

PHONE: ViewportSize = {"width": 360, "height": 740}
TIMEOUT_MS = 5000


@pytest.fixture
def phone(browser: Browser) -> Iterator[BrowserContext]:
    """A phone-sized context; an uncaught script error fails the test."""
    context = browser.new_context(viewport=PHONE, has_touch=True, is_mobile=True)
    context.set_default_timeout(TIMEOUT_MS)
    errors: list[str] = []
    context.on("weberror", lambda error: errors.append(str(error.error)))
    try:
        yield context
    finally:
        context.close()
    assert not errors, errors


@pytest.fixture(scope="module")
def guard_token(server: ServerProcess) -> str:
    return add_token(server.data_dir, user="gerrit", role=Role.PATROL, token="gerrit-phone")


def open_patrol_page(phone: BrowserContext, server: ServerProcess, token: str) -> Page:
    page = phone.new_page()
    page.goto(f"{server.base_url}/patrol.html#token={token}")
    expect(page.locator("#type option")).not_to_have_count(0)
    return page


def patrol_signals(api: httpx.Client, user: str) -> list[dict[str, object]]:
    items: list[dict[str, object]] = api.get(f"/api/signals?device=patrol:{user}").json()["items"]
    return items


def test_the_page_fits_a_phone_with_large_targets(
    phone: BrowserContext, server: ServerProcess, guard_token: str, api: httpx.Client
) -> None:
    api.post("/api/units", json={"name": "Patrol Fit", "user": "gerrit"})
    page = open_patrol_page(phone, server, guard_token)
    expect(page.locator("#unit")).to_be_visible()
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    small = page.evaluate(
        """() => [...document.querySelectorAll('button, input, select, textarea')]
            .filter((e) => e.offsetParent !== null)
            .map((e) => [e.id || e.textContent.trim(), e.getBoundingClientRect().height])
            .filter(([, height]) => height < 48)"""
    )
    assert small == []


def test_a_report_typed_offline_is_sent_once_when_the_signal_returns(
    phone: BrowserContext, server: ServerProcess, guard_token: str, api: httpx.Client
) -> None:
    page = open_patrol_page(phone, server, guard_token)
    before = len(patrol_signals(api, "gerrit"))
    phone.set_offline(True)
    expect(page.locator("#network")).to_have_text("offline")
    page.select_option("#type", "110")
    page.fill("#site", "Warehouse 7")
    page.fill("#text", "Smoke under the loading door")
    page.click("#send")
    queued = page.locator("#reports li", has_text="Warehouse 7")
    expect(queued).to_have_attribute("data-state", "queued")
    assert len(patrol_signals(api, "gerrit")) == before

    phone.set_offline(False)
    expect(queued).to_have_attribute("data-state", "sent")
    page.reload()
    expect(page.locator("#reports li", has_text="Warehouse 7")).to_have_attribute(
        "data-state", "sent"
    )
    signals = patrol_signals(api, "gerrit")
    assert len(signals) == before + 1
    assert signals[0]["text"] == "Smoke under the loading door"


def test_a_report_whose_reply_was_lost_is_resent_and_stored_once(
    phone: BrowserContext, server: ServerProcess, guard_token: str, api: httpx.Client
) -> None:
    page = open_patrol_page(phone, server, guard_token)
    before = len(patrol_signals(api, "gerrit"))
    lost: list[int] = []

    def lose_the_reply(route: Route) -> None:
        # The server stores the report; the phone never hears back (signal lost mid-way).
        response = route.fetch()
        lost.append(response.status)
        route.abort("connectionreset")

    page.route("**/api/reports", lose_the_reply)
    page.fill("#site", "Gate 3")
    with page.expect_event("requestfailed"):
        page.click("#send")
    row = page.locator("#reports li", has_text="Gate 3")
    expect(row).to_have_attribute("data-state", "queued")
    page.unroute("**/api/reports")
    assert lost == [201]
    page.reload()  # the page resends what is queued on load
    expect(page.locator("#reports li", has_text="Gate 3")).to_have_attribute("data-state", "sent")
    assert len(patrol_signals(api, "gerrit")) == before + 1


def test_a_report_without_site_or_position_is_not_queued(
    phone: BrowserContext, server: ServerProcess, guard_token: str
) -> None:
    page = open_patrol_page(phone, server, guard_token)
    page.click("#send")
    expect(page.locator("#report-error")).to_have_text("Give the site, or use your position.")
    expect(page.locator("#reports li")).to_have_count(0)


def test_my_position_replaces_the_site(
    browser: Browser, server: ServerProcess, guard_token: str, api: httpx.Client
) -> None:
    context = browser.new_context(
        viewport=PHONE,
        geolocation={"latitude": 52.37022, "longitude": 4.89517},
        permissions=["geolocation"],
    )
    context.set_default_timeout(TIMEOUT_MS)
    try:
        page = open_patrol_page(context, server, guard_token)
        page.click("#locate")
        expect(page.locator("#position")).to_have_text("Position 52.37022, 4.89517")
        page.click("#send")
        expect(page.locator("#reports li", has_text="my position")).to_have_attribute(
            "data-state", "sent"
        )
    finally:
        context.close()
    alarms = api.get("/api/alarms?limit=5").json()["items"]
    assert "position 52.37022,4.89517" in [a["site"] for a in alarms]


def test_calls_are_entered_from_the_keyboard_alone(
    page: Page, server: ServerProcess, api: httpx.Client
) -> None:
    # A call-taker signs in to the console, then opens call intake in the same session.
    sign_in(page, server.base_url)
    page.goto(server.base_url + "/calls.html")
    expect(page.locator("#type")).to_be_focused()
    expect(page.locator("#types option")).not_to_have_count(0)
    keyboard = page.keyboard
    keyboard.type("860")
    keyboard.press("Tab")
    keyboard.type("Harbour Office")
    keyboard.press("Tab")
    keyboard.type("+31 20 555 0199")
    keyboard.press("Tab")
    keyboard.type("Caller hears glass breaking")
    keyboard.press("Enter")
    result = page.locator("#result")
    expect(result).to_contain_text("Call entered: alarm")
    expect(page.locator("#type")).to_be_focused()
    expect(page.locator("#site")).to_have_value("")
    alarm_id = int((result.text_content() or "").split("alarm ")[1].split(" ")[0])
    alarm = api.get(f"/api/alarms/{alarm_id}").json()
    assert (alarm["origin"], alarm["site"], alarm["type_code"]) == ("call", "Harbour Office", 860)

    keyboard.type("Fire")
    keyboard.press("Tab")
    keyboard.type("Somewhere")
    keyboard.press("Escape")
    expect(page.locator("#type")).to_have_value("")
    expect(page.locator("#site")).to_have_value("")
    expect(page.locator("#type")).to_be_focused()

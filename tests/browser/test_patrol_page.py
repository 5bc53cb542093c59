"""The phone page of staff on duty, in Debian's Chromium."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import httpx
import pytest

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
    page.select_option("#type", "850")
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
    page.select_option("#type", "850")
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
        page.select_option("#type", "850")
        page.click("#send")
        expect(page.locator("#reports li", has_text="my position")).to_have_attribute(
            "data-state", "sent"
        )
    finally:
        context.close()
    alarms = api.get("/api/alarms?order=newest&limit=5").json()["items"]
    assert "position 52.37022,4.89517" in [a["site"] for a in alarms]


def test_the_type_is_chosen_for_every_report_and_never_defaults_to_fire(
    phone: BrowserContext,
    server: ServerProcess,
    guard_token: str,
    api: httpx.Client,
    tmp_path: Path,
) -> None:
    page = open_patrol_page(phone, server, guard_token)
    chosen = page.locator("#type option:checked")
    expect(page.locator("#type")).to_have_value("")
    expect(chosen).to_have_text("Choose what you found")
    page.fill("#site", "Car park B")
    page.click("#send")
    expect(page.locator("#report-error")).to_have_text("Choose what you found.")
    expect(page.locator("#reports li", has_text="Car park B")).to_have_count(0)

    page.select_option("#type", "850")
    page.click("#send")
    expect(page.locator("#reports li", has_text="Car park B")).to_have_attribute(
        "data-state", "sent"
    )
    # The next report starts with no type, not with the first in the list (110 Fire alarm).
    expect(page.locator("#type")).to_have_value("")
    expect(chosen).to_have_text("Choose what you found")
    page.screenshot(path=str(tmp_path / "patrol-after-report.png"))
    page.fill("#site", "Car park C")
    page.click("#send")
    expect(page.locator("#report-error")).to_have_text("Choose what you found.")
    types = [s["code"] for s in patrol_signals(api, "gerrit") if "Car park" in str(s["raw"])]
    assert types == ["850"]


#: Records what the page asks of the phone: each vibration pattern, and each tone started.
RECORD_ALERTS = """
window.__vibrations = [];
Object.defineProperty(navigator, "vibrate", {
  configurable: true,
  value: (pattern) => { window.__vibrations.push(pattern); return true; },
});
window.__tones = 0;
const createOscillator = AudioContext.prototype.createOscillator;
AudioContext.prototype.createOscillator = function () {
  window.__tones += 1;
  return createOscillator.call(this);
};
"""


def test_a_dispatch_reaches_the_phone_at_once_with_sound_and_vibration(
    phone: BrowserContext,
    server: ServerProcess,
    guard_token: str,
    api: httpx.Client,
    tmp_path: Path,
) -> None:
    made = api.post("/api/units", json={"name": "Patrol Push", "user": "gerrit"})
    assert made.status_code == 201, made.text
    unit_id = made.json()["id"]
    phone.add_init_script(RECORD_ALERTS)
    page = open_patrol_page(phone, server, guard_token)
    expect(page.locator("#live")).to_have_text("live")
    page.click("#alerts")  # the guard's tap that lets the phone sound and vibrate
    expect(page.locator("#alerts")).to_be_hidden()
    polls: list[str] = []
    page.on("request", lambda r: polls.append(r.url) if "/api/units/mine" in r.url else None)

    call = {
        "type_code": 110,
        "site": "Depot Push",
        "callback_number": "+31 20 555 0100",
        "report": "smoke from the roof",
    }
    alarm_id = api.post("/api/calls", json=call).json()["alarm_id"]
    assert api.post(f"/api/alarms/{alarm_id}/acknowledge").status_code == 200
    dispatched = api.post(f"/api/alarms/{alarm_id}/dispatch-units", json={"unit_ids": [unit_id]})
    assert dispatched.status_code == 200, dispatched.text

    # Pushed: well before the 10 s the page used to poll every, and with no request of its own.
    text = page.locator("#dispatch-text")
    expect(text).to_have_text("Go to Depot Push: Fire alarm (priority 1)", timeout=3000)
    assert polls == []
    assert page.evaluate("window.__vibrations") == [[400, 200, 400, 200, 400]]
    assert page.evaluate("window.__tones") >= 1
    page.screenshot(path=str(tmp_path / "patrol-dispatch.png"))

    page.click("#acknowledge")
    expect(page.locator("#acknowledge")).to_be_hidden()
    expect(page.locator("#unit-status")).to_have_text("dispatched")

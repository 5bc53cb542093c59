"""The call intake page in Debian's Chromium: from the keyboard alone, each refusal at its field."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import httpx
import pytest

from support.console import sign_in
from support.server import ServerProcess

if TYPE_CHECKING:
    from playwright.sync_api import ConsoleMessage, Page

pytestmark = pytest.mark.browser

sync_api = pytest.importorskip("playwright.sync_api")
expect = sync_api.expect


def open_calls_page(page: Page, server: ServerProcess) -> Page:
    # A call-taker signs in to the console, then opens call intake in the same session.
    sign_in(page, server.base_url)
    page.goto(server.base_url + "/calls.html")
    expect(page.locator("#type")).to_be_focused()
    expect(page.locator("#types option")).not_to_have_count(0)
    return page


def enter_call(page: Page, type_text: str, site: str, number: str, what: str) -> None:
    keyboard = page.keyboard
    page.focus("#type")
    keyboard.type(type_text)
    keyboard.press("Tab")
    keyboard.type(site)
    keyboard.press("Tab")
    keyboard.type(number)
    keyboard.press("Tab")
    keyboard.type(what)
    keyboard.press("Enter")


def test_calls_are_entered_from_the_keyboard_alone(
    page: Page, server: ServerProcess, api: httpx.Client
) -> None:
    open_calls_page(page, server)
    keyboard = page.keyboard
    enter_call(page, "860", "Harbour Office", "+31 20 555 0199", "Caller hears glass breaking")
    # Nobody knows the site yet: it is entered as a new one only on a second Enter.
    expect(page.locator("#site-problem")).to_contain_text('"Harbour Office" is not a site we know')
    expect(page.locator("#site")).to_be_focused()
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


def test_a_bad_number_gets_a_field_error_and_the_last_success_goes(
    page: Page, server: ServerProcess, api: httpx.Client, tmp_path: Path
) -> None:
    refused_patterns: list[str] = []

    def watch(message: ConsoleMessage) -> None:
        if "pattern" in message.text.lower():
            refused_patterns.append(message.text)

    page.on("console", watch)
    registered = api.post("/api/accounts", json={"account": "C101", "site": "Quay Store"})
    assert registered.status_code == 201, registered.text
    open_calls_page(page, server)
    enter_call(page, "860", "Quay Store", "020 555 0100", "Door forced")
    result = page.locator("#result")
    expect(result).to_contain_text("Call entered: alarm")
    before = len(api.get("/api/alarms?order=newest").json()["items"])

    enter_call(page, "860", "Quay Store", "call me back", "Door forced again")
    error = page.locator("#callback-error")
    expect(error).to_have_text(
        "Callback number: use digits, spaces and + ( ) . / - only, 3 to 32 characters, "
        "e.g. +31 20 555 0199."
    )
    expect(result).to_have_text("")
    expect(page.locator("#callback")).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#callback")).to_be_focused()
    page.screenshot(path=str(tmp_path / "calls-bad-number.png"))
    assert len(api.get("/api/alarms?order=newest").json()["items"]) == before
    # Chromium compiles the pattern with the v flag and logs one it cannot compile.
    assert refused_patterns == []
    assert page.evaluate("document.getElementById('callback').validity.patternMismatch")


def test_an_ambiguous_type_lists_its_matches_and_a_misspelt_site_offers_the_known_one(
    page: Page, server: ServerProcess, api: httpx.Client, tmp_path: Path
) -> None:
    registered = api.post("/api/accounts", json={"account": "C102", "site": "Riverside Depot"})
    assert registered.status_code == 201, registered.text
    open_calls_page(page, server)
    enter_call(page, "fire", "Riversid Depot", "020 555 0101", "Smell of burning")
    matches = page.locator("#type-matches button")
    expect(page.locator("#type-problem")).to_contain_text('"fire" matches')
    expect(matches.first).to_be_visible()
    assert matches.count() > 1
    assert all("fire" in text.lower() for text in matches.all_text_contents())
    matches.filter(has_text="110 Fire alarm").click()
    expect(page.locator("#type")).to_have_value("110 Fire alarm")

    page.keyboard.press("Enter")
    expect(page.locator("#site-problem")).to_contain_text('"Riversid Depot" is not a site we know')
    page.screenshot(path=str(tmp_path / "calls-site-like.png"))
    page.locator("#site-matches button", has_text="Riverside Depot").click()
    expect(page.locator("#site")).to_have_value("Riverside Depot")
    page.keyboard.press("Enter")
    result = page.locator("#result")
    expect(result).to_contain_text("at Riverside Depot")
    alarm_id = int((result.text_content() or "").split("alarm ")[1].split(" ")[0])
    alarm = api.get(f"/api/alarms/{alarm_id}").json()
    assert (alarm["type_code"], alarm["site"]) == (110, "Riverside Depot")

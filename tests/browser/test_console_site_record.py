"""The site record in the alarm's detail: the zone described, the instructions, the call list
worked by keyboard, the passphrase check that answers only "match" or "no match", and the site's
page (real server, Debian's Chromium)."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import pytest

from support.console import sign_in
from support.panel import sia_frame
from support.server import ServerProcess

if TYPE_CHECKING:
    from playwright.sync_api import Page

pytestmark = pytest.mark.browser

sync_api = pytest.importorskip("playwright.sync_api")
expect = sync_api.expect

SITE = "Mill Lane Warehouse"
ACCOUNT = "1234"
INSTRUCTIONS = "Key safe left of the loading bay. Dog on site after 22:00."
PASSPHRASE = "blue heron at midnight"
DURESS = "grey heron at noon"


def _ok(response: httpx.Response, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json() if response.content else None


@pytest.fixture(scope="module")
def contacts(server: ServerProcess) -> list[dict[str, Any]]:
    """The site with its record, zone list and two contacts, the second with a passphrase."""
    with server.client() as api:
        _ok(
            api.post(
                "/api/sites",
                json={
                    "name": SITE,
                    "address": "14 Mill Lane, Leeds LS1 4AB",
                    "latitude": 53.7965,
                    "longitude": -1.5478,
                    "instructions": INSTRUCTIONS,
                    "emergency": {"police": "999", "fire": "999", "ambulance": "999"},
                },
            ),
            201,
        )
        _ok(api.post("/api/accounts", json={"account": ACCOUNT, "site": SITE}), 201)
        _ok(
            api.put(
                f"/api/accounts/{ACCOUNT}/zones",
                json=[
                    {
                        "zone": "05",
                        "description": "rear door contact, ground floor",
                        "kind": "door_contact",
                    },
                    {"zone": "06", "description": "loading bay PIR", "kind": "pir"},
                ],
            )
        )
        stored: list[dict[str, Any]] = _ok(
            api.put(
                f"/api/sites/{SITE}/contacts",
                json=[
                    {
                        "name": "Priya Shah",
                        "role": "keyholder",
                        "phones": [{"label": "mobile", "number": "+44 7700 900111"}],
                    },
                    {
                        "name": "Tom Archer",
                        "role": "manager",
                        "phones": [{"label": "mobile", "number": "+44 7700 900222"}],
                    },
                ],
            )
        )["items"]
        _ok(
            api.post(
                f"/api/sites/{SITE}/passphrase",
                json={
                    "contact_id": stored[1]["id"],
                    "passphrase": PASSPHRASE,
                    "duress_passphrase": DURESS,
                },
            ),
            204,
        )
    return stored


def test_an_operator_works_the_site_record_by_keyboard_from_zone_to_resolved(
    server: ServerProcess,
    page: Page,
    api: httpx.Client,
    send_frame: Callable[[bytes], bytes],
    contacts: list[dict[str, Any]],
    tmp_path: Path,
) -> None:
    page.set_viewport_size({"width": 1920, "height": 1080})
    console = sign_in(page, server.base_url)
    assert b"ACK" in send_frame(sia_frame(ACCOUNT, 1, f"#{ACCOUNT}|Nri1/BA05"))

    row = console.locator("#alarms tr", has_text=SITE)
    expect(row).to_contain_text("05 rear door contact, ground floor")
    row.click()
    record = console.locator("#site-record")
    expect(record).to_be_visible()
    expect(record.locator("#site-zone")).to_have_text("Zone 05: rear door contact, ground floor")
    expect(record.locator("#site-instructions")).to_have_text(INSTRUCTIONS)
    expect(record.locator("#site-address")).to_contain_text("14 Mill Lane, Leeds LS1 4AB")
    expect(record.locator("#site-address a[href='geo:53.7965,-1.5478']")).to_have_count(1)
    osm = record.locator("#site-address a[href^='https://www.openstreetmap.org/']")
    expect(osm).to_have_attribute("href", re.compile(r"\?mlat=53\.7965&mlon=-1\.5478"))
    expect(record.locator("#site-emergency a[href='tel:999']")).to_have_count(3)
    expect(console.locator("#facts a[href^='/site.html?site=']")).to_have_text(SITE)

    first, second = (console.locator(f"#call-list li[data-contact='{c['id']}']") for c in contacts)
    expect(first).to_have_class(re.compile(r"\bnext\b"))
    expect(first.locator("a[href='tel:+447700900111']")).to_have_text("+44 7700 900111")
    expect(second).not_to_have_class(re.compile(r"\bnext\b"))

    # With Caps Lock on, "a" still acknowledges (and claims): only Shift records a call.
    console.evaluate(
        """() => document.dispatchEvent(
             new KeyboardEvent("keydown", { key: "A", shiftKey: false, bubbles: true }))"""
    )
    expect(console.locator("#detail dd.state")).to_have_text("acknowledged")
    expect(console.locator("#call-list .attempts li")).to_have_count(0)
    console.keyboard.press("Shift+N")  # the first contact did not answer
    expect(first.locator(".attempts li")).to_have_text(re.compile(r"^no answer · .* · mobile$"))
    expect(second).to_have_class(re.compile(r"\bnext\b"))
    expect(first).not_to_have_class(re.compile(r"\bnext\b"))
    console.keyboard.press("Shift+A")  # the second answered
    expect(second.locator(".attempts li")).to_have_text(re.compile(r"^answered · "))
    expect(console.locator("#call-list li.next")).to_have_count(0)
    expect(console.locator("#call-done")).to_have_text(
        "A contact answered: the call list is worked."
    )

    # The passphrase of whoever answered: the field empties, the answer is one word or two.
    console.keyboard.press("p")
    expect(console.locator("#passphrase")).to_be_focused()
    expect(console.locator("#passphrase-for")).to_have_value(str(contacts[1]["id"]))
    console.keyboard.type("red heron")
    console.keyboard.press("Enter")
    expect(console.locator("#passphrase-result")).to_have_text("no match")
    expect(console.locator("#passphrase")).to_have_value("")
    console.keyboard.type(PASSPHRASE)
    console.keyboard.press("Enter")
    expect(console.locator("#passphrase-result")).to_have_text("match")
    expect(console.locator("#passphrase")).to_have_value("")
    assert PASSPHRASE not in console.content()
    console.keyboard.press("Escape")  # leave the field: keys act on the alarm again

    alarm_id = int(row.get_attribute("data-alarm-id") or "0")
    calls = api.get(f"/api/alarms/{alarm_id}").json()["site_record"]["calls"]
    assert [(c["contact_id"], c["outcome"]) for c in calls] == [
        (contacts[0]["id"], "no_answer"),
        (contacts[1]["id"], "answered"),
    ]

    # The detail as the README shows it (docs/console-site-record.png).
    console.screenshot(path=str(tmp_path / "console-site-record.png"))

    # Tick every step still open, by its number key; then resolve by keyboard.
    boxes = console.locator("#sop-steps input[type=checkbox]")
    expect(boxes.first).to_be_enabled()
    for number in range(1, min(boxes.count(), 9) + 1):
        box = boxes.nth(number - 1)
        if not box.is_checked():
            console.keyboard.press(str(number))
            expect(box).to_be_checked()
    expect(console.locator("#sop-message")).not_to_have_class(re.compile(r"\berror\b"))
    console.keyboard.press("r")
    expect(console.locator("#outcome")).to_be_focused()
    console.keyboard.type("g")  # "Genuine alarm"
    expect(console.locator("#outcome")).to_have_value("genuine")
    console.keyboard.press("Tab")
    expect(console.locator("#resolve-note")).to_be_focused()
    console.keyboard.press("Enter")
    expect(console.locator("#resolve-message")).to_have_text("Resolved ✓")
    assert api.get(f"/api/alarms/{alarm_id}").json()["state"] == "resolved"

    # A caller under duress hears nothing different, and the screen shows nothing different.
    console.keyboard.press("p")
    console.keyboard.type(DURESS)
    console.keyboard.press("Enter")
    expect(console.locator("#passphrase-result")).to_have_text("match")
    expect(console.locator("#passphrase-result")).to_have_class("verdict match")
    duress = console.locator("#alarms tr", has_text="Duress")
    expect(duress).to_have_count(1)  # raised for the floor, silently for the caller


def test_the_site_page_shows_its_zones_contacts_and_recent_alarms(
    server: ServerProcess,
    page: Page,
    send_frame: Callable[[bytes], bytes],
    contacts: list[dict[str, Any]],
    tmp_path: Path,
) -> None:
    assert b"ACK" in send_frame(sia_frame(ACCOUNT, 2, f"#{ACCOUNT}|Nri1/BA06"))
    console = sign_in(page, server.base_url)
    expect(console.locator("#alarms tr", has_text="loading bay PIR")).to_have_count(1)
    console.goto(f"{server.base_url}/site.html?site={SITE.replace(' ', '%20')}")
    expect(console.locator("#site-title")).to_have_text(SITE)
    expect(console.locator("#site-instructions")).to_have_text(INSTRUCTIONS)
    zones = console.locator("#zones")
    expect(zones).to_contain_text("rear door contact, ground floor")
    expect(zones).to_contain_text("loading bay PIR")
    expect(console.locator("#contacts li")).to_have_count(2)
    expect(console.locator("#contacts")).to_contain_text("Tom Archer")
    expect(console.locator("#contacts")).to_contain_text("has a passphrase")
    expect(console.locator("#recent")).to_contain_text("06 loading bay PIR")
    console.screenshot(path=str(tmp_path / "site-page.png"), full_page=True)

    console.goto(f"{server.base_url}/site.html?site=Nowhere")
    expect(console.locator("#site-error")).to_contain_text("Nowhere")

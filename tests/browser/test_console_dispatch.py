"""Dispatching units from the console's alarm detail, in Debian's Chromium."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import TYPE_CHECKING

import httpx
import pytest

from support.console import RECORD_VIOLATIONS, sign_in, violations
from support.server import ServerProcess
from support.tokens import add_token
from watchfloor.core.principals import Role

if TYPE_CHECKING:
    from playwright.sync_api import Locator, Page

pytestmark = pytest.mark.browser

sync_api = pytest.importorskip("playwright.sync_api")
expect = sync_api.expect

Panel = Callable[[str, str, str], None]


def _unit(api: httpx.Client, name: str, user: str) -> int:
    response = api.post("/api/units", json={"name": name, "user": user})
    assert response.status_code == 201, response.text
    unit_id: int = response.json()["id"]
    return unit_id


def _unit_item(page: Page, name: str) -> Locator:
    return page.locator("#unit-list li", has_text=name)


def _open(page: Page, site: str) -> int:
    row = page.locator("#alarms tr", has_text=site)
    expect(row).to_have_count(1)
    row.click()
    expect(page.locator("#detail dd.state")).to_have_text("new")
    return int(row.get_attribute("data-alarm-id") or "0")


def test_an_operator_dispatches_a_unit_and_follows_it_on_scene(
    server: ServerProcess, page: Page, panel: Panel, api: httpx.Client
) -> None:
    phone = add_token(server.data_dir, user="dana", role=Role.PATROL, token="dana-phone")
    crew = {"Authorization": f"Bearer {phone}"}
    alpha = _unit(api, "Alpha 1", "dana")
    _unit(api, "Bravo 2", "eli")
    page.add_init_script(RECORD_VIOLATIONS)
    console = sign_in(page, server.base_url)
    expect(console.locator("#shortcuts")).to_contain_text("u units")
    panel("6101", "Quay Seven", "BA03")
    alarm_id = _open(console, "Quay Seven")

    # Units are listed at once; Dispatch waits for an acknowledgement.
    expect(console.locator("#unit-list li")).to_have_count(2)
    expect(_unit_item(console, "Alpha 1")).to_have_attribute("data-status", "available")
    expect(console.locator("#dispatches-none")).to_be_visible()
    expect(console.locator("#dispatch-units")).to_be_disabled()
    console.keyboard.press("a")
    expect(console.locator("#detail dd.state")).to_have_text("acknowledged")
    expect(console.locator("#dispatch-units")).to_be_enabled()

    # By keyboard alone: u to the units, Space ticks the first, Enter dispatches.
    console.keyboard.press("u")
    expect(_unit_item(console, "Alpha 1").locator("input")).to_be_focused()
    console.keyboard.press("Space")
    expect(_unit_item(console, "Alpha 1").locator("input")).to_be_checked()
    console.keyboard.press("Enter")
    expect(console.locator("#detail dd.state")).to_have_text("dispatched")
    expect(console.locator("#dispatch-message")).to_have_text("Dispatched Alpha 1 ✓")
    dispatch = console.locator("#dispatches tr")
    expect(dispatch).to_have_count(1)
    expect(dispatch.locator("td.unit")).to_have_text("Alpha 1")
    expect(dispatch).to_have_attribute("data-progress", "dispatched")
    expect(console.locator("#timeline tr[data-kind=dispatched]")).to_contain_text("Alpha 1")
    # The dispatched unit is shown, not offered; the other one stays available.
    expect(_unit_item(console, "Alpha 1")).to_have_attribute("data-status", "dispatched")
    expect(_unit_item(console, "Alpha 1").locator("input")).to_be_disabled()
    expect(_unit_item(console, "Bravo 2").locator("input")).to_be_enabled()
    stored = api.get(f"/api/alarms/{alarm_id}/dispatches").json()["items"]
    assert [(d["unit_id"], d["dispatched_by"]) for d in stored] == [(alpha, "console-admin")]

    # The crew acknowledges and sets off from its phone: the console follows, without reload.
    acknowledged = api.post(f"/api/dispatches/{stored[0]['id']}/acknowledge", headers=crew)
    assert acknowledged.status_code == 200, acknowledged.text
    expect(dispatch).to_have_attribute("data-progress", "acknowledged")
    expect(dispatch.locator("td.time").nth(1)).to_have_text(re.compile(r"\d\d:\d\d:\d\d"))
    expect(console.locator("#timeline tr").first).to_contain_text("Alpha 1: dispatch acknowledged")
    on_the_way = api.post(f"/api/units/{alpha}/status", headers=crew, json={"status": "en_route"})
    assert on_the_way.status_code == 200, on_the_way.text
    expect(dispatch).to_have_attribute("data-progress", "en route")
    expect(_unit_item(console, "Alpha 1").locator(".unit-status")).to_have_text("en route")

    # A new alarm: Dispatch stays disabled, and asking anyway shows the server's refusal.
    panel("6102", "Harbour Gate", "BA03")
    other_id = _open(console, "Harbour Gate")
    expect(console.locator("#dispatch-units")).to_be_disabled()
    expect(console.locator("#dispatches tr")).to_have_count(0)
    expect(_unit_item(console, "Alpha 1").locator("input")).to_be_disabled()
    console.keyboard.press("u")
    expect(_unit_item(console, "Bravo 2").locator("input")).to_be_focused()
    console.keyboard.press("Space")
    console.keyboard.press("Enter")
    refusal = console.locator("#dispatch-message")
    expect(refusal).to_have_text("Not dispatched: cannot dispatch units to an alarm that is new.")
    expect(refusal).to_have_class(re.compile(r"\berror\b"))
    assert api.get(f"/api/alarms/{other_id}").json()["state"] == "new"
    assert api.get(f"/api/alarms/{other_id}/dispatches").json()["items"] == []
    assert violations(console) == []

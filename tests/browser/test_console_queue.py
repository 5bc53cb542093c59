"""The queue as an operator works it at volume: its order, filters and search, one device's
alarms folded together, resolved alarms until closed, and a layout that keeps rows on one line
at 1920x1080 beside the detail (real server, Debian's Chromium)."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import httpx
import pytest

from support.console import sign_in
from support.server import ServerProcess

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Locator, Page

pytestmark = pytest.mark.browser

sync_api = pytest.importorskip("playwright.sync_api")
expect = sync_api.expect

Panel = Callable[[str, str, str], None]


@pytest.fixture
def wide(browser: Browser) -> Iterator[Page]:
    """A control-room screen: 1920x1080."""
    context = browser.new_context(viewport={"width": 1920, "height": 1080})
    context.set_default_timeout(5000)
    try:
        yield context.new_page()
    finally:
        context.close()


def _ids(rows: Locator) -> list[int]:
    return [int(row.get_attribute("data-alarm-id") or "0") for row in rows.all()]


def _search(page: Page, text: str) -> None:
    page.fill("#filter-search", text)


def test_of_two_alarms_of_one_priority_the_older_comes_first(
    server: ServerProcess, page: Page, panel: Panel
) -> None:
    console = sign_in(page, server.base_url)
    panel("E001", "Order Older", "BA01")
    panel("E002", "Order Newer", "BA01")  # the same priority (burglary, P3), a moment later
    panel("E003", "Order Fire", "FA01")  # newest of all, but P1
    _search(console, "Order ")
    rows = console.locator("#alarms tr")
    expect(rows).to_have_count(3)
    expect(rows.nth(0)).to_contain_text("Order Fire")
    expect(rows.nth(1)).to_contain_text("Order Older")
    expect(rows.nth(2)).to_contain_text("Order Newer")


def test_an_alarm_past_its_deadline_is_marked_overdue_in_red_and_keeps_its_priority(
    server: ServerProcess, page: Page, panel: Panel
) -> None:
    page.clock.install(time=datetime.now(UTC))
    console = sign_in(page, server.base_url)
    panel("E401", "Overdue Lane", "FA01")  # P1: acknowledge within 30 s
    row = console.locator("#alarms tr", has_text="Overdue Lane")
    expect(row.locator("td.waiting")).to_have_attribute("data-level", "ok")
    console.clock.run_for(20_000)
    expect(row.locator("td.waiting")).to_have_attribute("data-level", "soon")
    console.clock.run_for(11_000)
    expect(row.locator("td.waiting")).to_have_attribute("data-level", "overdue")
    expect(row).to_have_attribute("aria-label", re.compile(", overdue"))
    expect(row).to_have_attribute("data-priority", "1")
    expect(console.locator("#counts")).to_contain_text("overdue")
    row.click()
    expect(console.locator("#detail dd.escalation")).to_contain_text("overdue")
    console.keyboard.press("a")
    expect(row.locator("td.waiting")).to_have_attribute("data-level", "idle")


def test_filters_and_search_narrow_the_queue_and_say_what_they_hide(
    server: ServerProcess, page: Page, panel: Panel, api: httpx.Client
) -> None:
    console = sign_in(page, server.base_url)
    panel("E101", "Filter Fire", "FA01")
    panel("E102", "Filter Burglary", "BA01")
    panel("E103", "Filter Tamper", "TA01")
    rows = console.locator("#alarms tr")
    _search(console, "filter")
    expect(rows).to_have_count(3)
    _search(console, "e102")  # a device
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("Filter Burglary")
    _search(console, "filter")
    console.select_option("#filter-priority", "1")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("Filter Fire")
    console.select_option("#filter-priority", "all")
    console.select_option("#filter-site", "Filter Tamper")
    expect(rows).to_have_count(1)
    expect(console.locator("#filter-hidden")).to_contain_text("hidden by the filter")
    expect(console.locator("#filter-hidden")).to_contain_text("P1/P2 not acknowledged")

    # Claimed by me: only the alarms this operator holds.
    console.click("#filter-clear")
    _search(console, "filter")
    console.check("#filter-mine")
    expect(rows).to_have_count(0)
    console.uncheck("#filter-mine")
    rows.filter(has_text="Filter Burglary").click()
    console.keyboard.press("c")
    expect(console.locator("#detail dd.held")).not_to_have_text("nobody")
    console.check("#filter-mine")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("Filter Burglary")


def test_a_resolved_alarm_stays_reachable_until_it_is_closed(
    server: ServerProcess, page: Page, panel: Panel, api: httpx.Client
) -> None:
    console = sign_in(page, server.base_url)
    panel("E201", "Resolve Later", "TA02")  # tamper: no mandatory steps left undone below
    row = console.locator("#alarms tr", has_text="Resolve Later")
    expect(row).to_have_count(1)
    alarm_id = int(row.get_attribute("data-alarm-id") or "0")
    resolved = api.post(
        f"/api/alarms/{alarm_id}/resolve",
        json={"outcome": "false", "override_reason": "checked on the camera"},
    )
    assert resolved.status_code == 200, resolved.text
    expect(row).to_have_count(0)  # not open any more
    to_close = console.locator("#to-close")
    expect(to_close).to_contain_text("resolved to close")
    to_close.click()
    expect(console.locator("#filter-state")).to_have_value("resolved")
    row.click()
    expect(console.locator("#detail dd.state")).to_have_text("resolved")
    console.keyboard.press("x")
    expect(console.locator("#detail dd.state")).to_have_text("closed")
    expect(row).to_have_count(0)


def test_one_devices_alarms_fold_behind_the_oldest(
    server: ServerProcess, page: Page, panel: Panel
) -> None:
    console = sign_in(page, server.base_url)
    for zone in ("01", "02", "03"):
        panel("E301", "Fold Yard", f"BA{zone}")
    _search(console, "Fold Yard")
    rows = console.locator("#alarms tr")
    expect(rows).to_have_count(3)
    lead = rows.first
    expect(lead.locator("button.fold")).to_have_text("▾ E301 3")
    expect(lead.locator("td.zone")).to_have_text("01")  # the oldest leads
    lead.click()
    console.keyboard.press("g")
    expect(rows).to_have_count(1)
    expect(lead.locator("button.fold")).to_have_text("▸ E301 +2")
    lead.locator("button.fold").click()
    expect(rows).to_have_count(3)


def test_at_1920x1080_rows_stay_on_one_line_beside_the_detail_and_the_header_stays(
    server: ServerProcess, wide: Page, panel: Panel
) -> None:
    console = sign_in(wide, server.base_url)
    codes = ["FA", "BV", "BA", "TA", "AT", "PA"]
    for number in range(30):
        panel(f"F{number:03d}", f"Layout Site with a long name {number}", f"{codes[number % 6]}01")
    _search(console, "Layout Site")
    rows = console.locator("#alarms tr")
    expect(rows).to_have_count(30)
    rows.first.click()
    expect(console.locator("#detail")).to_be_visible()
    geometry = console.evaluate(
        """() => {
          const scroller = document.getElementById("queue-scroll").getBoundingClientRect();
          const rows = [...document.querySelectorAll("#alarms tr")].map((row) => row.getBoundingClientRect());
          return {
            heights: [...new Set(rows.map((r) => Math.round(r.height)))],
            visible: rows.filter((r) => r.top >= scroller.top && r.bottom <= scroller.bottom + 1).length,
          };
        }"""
    )
    assert geometry["heights"] == [34], geometry  # no row wraps
    assert geometry["visible"] >= 21, geometry

    console.locator("#queue-scroll").evaluate("(el) => { el.scrollTop = 400; }")
    head = console.locator("#queue-table thead th").first
    expect(head).to_be_visible()
    header_top = console.evaluate("document.querySelector('header').getBoundingClientRect().top")
    assert header_top == 0
    scroller_top = console.evaluate(
        "document.getElementById('queue-scroll').getBoundingClientRect().top"
    )
    head_top = head.evaluate("(el) => el.getBoundingClientRect().top")
    assert abs(head_top - scroller_top) <= 1  # sticky at the top of the queue

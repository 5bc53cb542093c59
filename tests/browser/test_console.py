"""The console in Debian's Chromium: an alarm appears live after a DC-09 frame is sent."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import pytest

from support.console import sign_in
from support.server import ServerProcess

if TYPE_CHECKING:
    from playwright.sync_api import Page

pytestmark = pytest.mark.browser

sync_api = pytest.importorskip("playwright.sync_api")
expect = sync_api.expect


def test_alarm_appears_in_the_queue_without_a_reload(
    server: ServerProcess, page: Page, panel: Callable[[str, str, str], None]
) -> None:
    sign_in(page, server.base_url)
    expect(page.locator("#empty")).to_be_visible()

    panel("4321", "Library", "BA03")
    row = page.locator("#alarms tr").first
    expect(row).to_contain_text("Library")
    expect(row).to_contain_text("03")

    # A fire alarm (priority 1) goes above the burglary, still without a reload.
    panel("4321", "Library", "FA07")
    expect(page.locator("#alarms tr")).to_have_count(2)
    expect(page.locator("#alarms tr").first).to_have_attribute("data-priority", "1")
    # A repeat raises the count instead of adding a row.
    panel("4321", "Library", "BA03")
    expect(page.locator("#alarms tr")).to_have_count(2)
    expect(page.locator("#alarms tr").nth(1).locator("td.count")).to_have_text("2")


def test_a_wrong_token_in_the_link_is_refused(server: ServerProcess, page: Page) -> None:
    page.goto(server.base_url + "/#token=not-the-token")
    page.wait_for_url("**/login.html?reason=token-refused")
    expect(page.locator("#login-reason")).to_contain_text("Token refused")


def test_the_first_start_link_with_a_token_opens_the_queue(
    server: ServerProcess, page: Page
) -> None:
    page.goto(f"{server.base_url}/#token={server.token}")
    expect(page.locator("#connection")).to_have_text("live")
    expect(page.locator("#whoami")).to_have_text("admin (admin)")
    expect(page.locator("#end-all")).to_be_hidden()

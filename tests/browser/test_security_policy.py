"""The console, statistics and transparency pages work under the Content-Security-Policy."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import pytest

from support.console import RECORD_VIOLATIONS, start_console
from support.console import violations as _violations
from support.server import ServerProcess

if TYPE_CHECKING:
    from playwright.sync_api import Page

pytestmark = pytest.mark.browser

sync_api = pytest.importorskip("playwright.sync_api")
expect = sync_api.expect


def test_the_console_runs_live_under_the_policy(
    server: ServerProcess, page: Page, panel: Callable[[str, str, str], None]
) -> None:
    page.add_init_script(RECORD_VIOLATIONS)
    response = page.goto(f"{server.base_url}/#token={server.token}")
    assert response is not None
    assert "script-src 'self'" in response.headers["content-security-policy"]
    expect(page.locator("#connection")).to_have_text("live")
    start_console(page)
    panel("7001", "Depot", "BA03")
    expect(page.locator("#alarms tr").first).to_contain_text("Depot")
    page.locator("#alarms tr").first.click()
    expect(page.locator("#detail")).to_be_visible()
    assert _violations(page) == []

    page.goto(server.base_url + "/stats.html")
    expect(page.locator("#table tbody tr").first).to_be_visible()
    assert _violations(page) == []


def test_the_transparency_register_keeps_its_style_from_a_file(
    server: ServerProcess, page: Page
) -> None:
    page.add_init_script(RECORD_VIOLATIONS)
    page.goto(server.base_url + "/transparency")
    expect(page.locator("h1")).to_have_text("Transparency register")
    max_width = page.evaluate("getComputedStyle(document.body).maxWidth")
    assert max_width == "960px"  # 60rem from transparency.css, not the browser's default
    assert _violations(page) == []

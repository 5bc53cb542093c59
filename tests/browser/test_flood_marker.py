"""A flooding device: beyond its rate, new alarms fold into one row marked as a flood."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import pytest

from support.server import ServerProcess

if TYPE_CHECKING:
    from playwright.sync_api import Page

pytestmark = pytest.mark.browser

sync_api = pytest.importorskip("playwright.sync_api")
expect = sync_api.expect

#: The default flood threshold: 20 signals per device per minute.
THRESHOLD = 20


def test_a_flood_folds_into_one_marked_row(
    server: ServerProcess, page: Page, panel: Callable[[str, str, str], None]
) -> None:
    page.goto(server.base_url + "/")
    page.fill("#token", server.token)
    page.click("button[type=submit]")
    expect(page.locator("#connection")).to_have_text("live")
    for zone in range(1, THRESHOLD + 4):  # every zone a new alarm, until the flood folds them
        panel("F100", "Warehouse", f"BA{zone:02d}")
    expect(page.locator("#alarms tr")).to_have_count(THRESHOLD)
    flooded = page.locator("#alarms tr", has_text="≋ flood")
    expect(flooded).to_have_count(1)
    expect(flooded.locator("td.count")).to_have_text("4 ≋ flood")

"""A flooding device: beyond its rate, new alarms fold into one row marked as a flood."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

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

#: The default flood threshold: 20 signals per device per minute.
THRESHOLD = 20


def test_a_flood_folds_into_one_marked_row(
    server: ServerProcess, page: Page, panel: Callable[[str, str, str], None]
) -> None:
    sign_in(page, server.base_url)
    for zone in range(1, THRESHOLD + 4):  # every zone a new alarm, until the flood folds them
        panel("F100", "Warehouse", f"BA{zone:02d}")
    expect(page.locator("#alarms tr")).to_have_count(THRESHOLD)
    flooded = page.locator("#alarms tr", has_text="≋ flood")
    expect(flooded).to_have_count(1)
    expect(flooded.locator("td.count")).to_have_text("4 ≋ flood")


def test_position_and_image_blocks_are_shown_with_the_alarm(
    server: ServerProcess,
    page: Page,
    api: httpx.Client,
    send_frame: Callable[[bytes], bytes],
) -> None:
    assert api.post("/api/accounts", json={"account": "E0E0", "site": "Quay"}).status_code == 201
    frame = sia_frame(
        "E0E0", 1, "#E0E0|Nri1/PA01", ext=("X006E07.7777777", "Y49N06.6666666", "V1.2.3")
    )
    assert b"ACK" in send_frame(frame)
    sign_in(page, server.base_url)
    page.locator("#alarms tr", has_text="Quay").click()
    signals = page.locator("#signals")
    expect(signals).to_contain_text("longitude 006E07.7777777")
    expect(signals).to_contain_text("latitude 49N06.6666666")
    expect(signals).to_contain_text("image 1.2.3")

"""The supervisor's statistics page shows a simulated night and exports it as CSV."""

from __future__ import annotations

import re
import subprocess
import sys
from typing import TYPE_CHECKING

import httpx
import pytest

from support.console import sign_in
from support.server import ServerProcess

if TYPE_CHECKING:
    from playwright.sync_api import Page

pytestmark = pytest.mark.browser


def _simulate_a_night(server: ServerProcess, api: httpx.Client) -> int:
    """A short fleet run through `watchfloor simulate`, then an operator's work on it."""
    run = subprocess.run(  # noqa: S603 - our own interpreter and module
        [
            sys.executable,
            "-m",
            "watchfloor",
            "simulate",
            "--panels",
            "4",
            "--rate",
            "20",
            "--duration",
            "2",
            "--seed",
            "7",
            "--target",
            f"127.0.0.1:{server.dc09_port}",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    alarms = api.get("/api/alarms", params={"state": "new"}).json()["items"]
    assert alarms, "the simulated panels raised alarms"
    for alarm in alarms[: len(alarms) // 2]:
        assert api.post(f"/api/alarms/{alarm['id']}/acknowledge").status_code == 200
    return len(api.get("/api/alarms", params={"limit": 1000}).json()["items"])


def test_statistics_of_a_simulated_night(
    server: ServerProcess, api: httpx.Client, page: Page
) -> None:
    from playwright.sync_api import expect

    total = _simulate_a_night(server, api)
    sign_in(page, server.base_url)
    page.goto(server.base_url + "/stats.html")
    expect(page.locator("#summary")).to_contain_text(f"{total} alarms")
    expect(page.locator("#chart .bar-row").first).to_be_visible()
    # A legend names both series; each column of bars has an axis from 0, with its unit.
    expect(page.locator("#legend")).to_contain_text("Alarms (count)")
    expect(page.locator("#legend")).to_contain_text("Time to acknowledge, median (seconds)")
    axes = page.locator("#chart .axes .axis")
    expect(axes).to_have_count(2)
    expect(axes.nth(0).locator(".tick").first).to_have_text("0")
    expect(axes.nth(0)).to_contain_text("alarms")
    expect(axes.nth(1).locator(".tick").first).to_have_text("0 s")
    expect(page.locator("#chart .axes")).to_contain_text("by alarm type")
    # The window reads in the console's 24-hour time, whatever the browser's locale.
    for field in ("#from", "#to"):
        expect(page.locator(field)).to_have_value(re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d$"))
    window_start = page.locator("#from").input_value()
    page.fill("#from", "2026-01-15 1:00 PM")
    page.click("#filters button[type=submit]")
    expect(page.locator("#error")).to_have_text(
        "From: write a local time as YYYY-MM-DD HH:MM (24-hour), e.g. 2026-01-15 22:00."
    )
    page.fill("#from", window_start)
    page.select_option("#by", "operator")
    page.click("#filters button[type=submit]")
    expect(page.locator("#table tbody")).to_contain_text("admin")
    page.click("#csv")
    expect(page.locator("#error")).to_contain_text("reason")
    page.fill("#reason", "monthly report")
    with page.expect_download() as download_info:
        page.click("#csv")
    download = download_info.value
    path = download.path()
    assert path is not None
    text = path.read_text(encoding="utf-8")
    assert text.startswith("key,label,alarms")
    assert "admin" in text

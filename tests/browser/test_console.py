"""The console in Debian's Chromium: an alarm appears live after a DC-09 frame is sent."""

from __future__ import annotations

import shutil
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from support.panel import sia_frame
from support.server import ServerProcess, run_server

pytestmark = pytest.mark.browser

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

if not Path(CHROMIUM).exists():  # pragma: no cover - depends on the machine
    pytest.skip(
        "Debian's chromium is not installed (make test installs it as root)",
        allow_module_level=True,
    )

sync_api = pytest.importorskip("playwright.sync_api")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    with run_server(tmp_path_factory.mktemp("browser") / "var") as running:
        yield running


def _send(server: ServerProcess, frame: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", server.dc09_port), timeout=10) as panel:
        panel.sendall(frame)
        return panel.recv(1024)


def test_alarm_appears_in_the_queue_without_a_reload(server: ServerProcess) -> None:
    with server.client() as client:
        assert (
            client.post("/api/accounts", json={"account": "4321", "site": "Library"}).status_code
            == 201
        )
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page()
            page.goto(server.base_url + "/")
            page.fill("#token", server.token)
            page.click("button[type=submit]")
            sync_api.expect(page.locator("#connection")).to_have_text("live")
            sync_api.expect(page.locator("#empty")).to_be_visible()

            assert b"ACK" in _send(server, sia_frame("4321", 1, "#4321|Nri1/BA03"))
            row = page.locator("#alarms tr").first
            sync_api.expect(row).to_contain_text("Library", timeout=5000)
            sync_api.expect(row).to_contain_text("03")

            # A fire alarm (priority 1) goes above the burglary, still without a reload.
            assert b"ACK" in _send(server, sia_frame("4321", 2, "#4321|Nri1/FA07"))
            sync_api.expect(page.locator("#alarms tr")).to_have_count(2)
            sync_api.expect(page.locator("#alarms tr").first).to_have_attribute(
                "data-priority", "1"
            )
            # A repeat raises the count instead of adding a row.
            assert b"ACK" in _send(server, sia_frame("4321", 3, "#4321|Nri1/BA03"))
            sync_api.expect(page.locator("#alarms tr")).to_have_count(2)
            sync_api.expect(page.locator("#alarms tr").nth(1).locator("td.count")).to_have_text("2")
        finally:
            browser.close()


def test_a_wrong_token_is_refused(server: ServerProcess) -> None:
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page()
            page.goto(server.base_url + "/")
            page.fill("#token", "not-the-token")
            page.click("button[type=submit]")
            sync_api.expect(page.locator("#login-error")).to_contain_text("refused")
        finally:
            browser.close()

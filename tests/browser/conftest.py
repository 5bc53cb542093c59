"""Browser fixtures: ``watchfloor serve`` as a process and Debian's Chromium through Playwright."""

from __future__ import annotations

import shutil
import socket
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import httpx
import pytest

from support.console import add_console_user
from support.panel import sia_frame
from support.server import ServerProcess, run_server

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

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

#: Long enough for a loaded CI machine; Playwright's expect polls, so a pass costs nothing.
TIMEOUT_MS = 5000


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """One server per test module, so that each module starts from an empty queue.

    It has a console user (``support.console``) besides the bootstrap admin's token.
    """
    with run_server(tmp_path_factory.mktemp("browser") / "var") as running:
        with running.client() as client:
            add_console_user(client)
        yield running


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not Path(CHROMIUM).exists():  # pragma: no cover - depends on the machine
        pytest.skip("Debian's chromium is not installed (make test installs it as root)")
    sync_api = pytest.importorskip("playwright.sync_api")
    sync_api.expect.set_options(timeout=TIMEOUT_MS)
    with sync_api.sync_playwright() as playwright:
        launched: Browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield launched
        finally:
            launched.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    """A fresh page in its own context: no session storage shared between tests.

    An uncaught script error on the page fails the test, even when the page looked right.
    """
    context = browser.new_context()
    context.set_default_timeout(TIMEOUT_MS)
    errors: list[str] = []
    try:
        fresh = context.new_page()
        fresh.on("pageerror", lambda error: errors.append(str(error)))
        yield fresh
    finally:
        context.close()
    assert not errors, errors


@pytest.fixture
def send_frame(server: ServerProcess) -> Callable[[bytes], bytes]:
    """Send one DC-09 frame to the receiver over TCP and return its reply."""

    def send(frame: bytes) -> bytes:
        with socket.create_connection(("127.0.0.1", server.dc09_port), timeout=10) as panel:
            panel.sendall(frame)
            return panel.recv(1024)

    return send


@pytest.fixture
def api(server: ServerProcess) -> Iterator[httpx.Client]:
    """The API as the bootstrap admin, behind the console's back."""
    with server.client() as client:
        yield client


@pytest.fixture
def panel(
    api: httpx.Client, send_frame: Callable[[bytes], bytes]
) -> Callable[[str, str, str], None]:
    """Register an account (once) and send it a SIA event: ``panel(account, site, "FA07")``."""
    sequence = iter(range(1, 10_000))
    registered: set[str] = set()

    def send(account: str, site: str, event: str) -> None:
        if account not in registered:
            response = api.post("/api/accounts", json={"account": account, "site": site})
            assert response.status_code == 201, response.text
            registered.add(account)
        reply = send_frame(sia_frame(account, next(sequence), f"#{account}|Nri1/{event}"))
        assert b"ACK" in reply, reply

    return send

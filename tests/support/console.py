"""Signing in to the console in a browser, as the user every browser test's server has."""

from __future__ import annotations

from typing import TYPE_CHECKING

import httpx

if TYPE_CHECKING:
    from playwright.sync_api import Page

__all__ = [
    "CONSOLE_PASSWORD",
    "CONSOLE_USER",
    "RECORD_VIOLATIONS",
    "add_console_user",
    "sign_in",
    "start_console",
    "violations",
]

CONSOLE_USER = "console-admin"
CONSOLE_PASSWORD = "correct horse battery staple"

#: Collects what the browser refused under the page's policy, from the page's first script on
#: (``page.add_init_script(RECORD_VIOLATIONS)`` before the page loads).
RECORD_VIOLATIONS = """
window.__violations = [];
document.addEventListener("securitypolicyviolation", (event) => {
  window.__violations.push(`${event.violatedDirective} ${event.blockedURI}`);
});
"""


def add_console_user(api: httpx.Client, name: str = CONSOLE_USER, role: str = "admin") -> None:
    """Create a user who signs in with ``CONSOLE_PASSWORD`` (through the admin's token)."""
    response = api.post(
        "/api/users", json={"name": name, "role": role, "password": CONSOLE_PASSWORD}
    )
    assert response.status_code == 201, response.text


def sign_in(
    page: Page, base_url: str, name: str = CONSOLE_USER, password: str = CONSOLE_PASSWORD
) -> Page:
    """Open the console, get sent to the sign-in page, sign in, and wait for the live queue."""
    from playwright.sync_api import expect

    page.goto(base_url + "/")
    page.wait_for_url("**/login.html**")
    page.fill("#name", name)
    page.fill("#password", password)
    page.click("button[type=submit]")
    expect(page.locator("#connection")).to_have_text("live")
    return start_console(page)


def start_console(page: Page) -> Page:
    """Press a key at the "start the console" prompt, as an operator does after signing in."""
    from playwright.sync_api import expect

    expect(page.locator("#start")).to_be_visible()
    page.keyboard.press("Enter")
    expect(page.locator("#start")).to_be_hidden()
    return page


def violations(page: Page) -> list[str]:
    """What the page's Content-Security-Policy refused so far (see ``RECORD_VIOLATIONS``)."""
    found: list[str] = page.evaluate("window.__violations")
    return found

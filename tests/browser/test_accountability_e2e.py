"""Issue 6's acceptance: a new user is created, signs in to the console, works an alarm, and
an auditor finds each of those actions in the verified audit log.

Real components throughout: ``watchfloor users add`` and ``tokens create`` on the server's
data directory while it runs, Debian's Chromium against ``watchfloor serve``, a DC-09 panel
over TCP, the auditor's API token, and ``watchfloor audit verify``.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING

import httpx
import pytest

from support.console import start_console
from support.server import ServerProcess

if TYPE_CHECKING:
    from playwright.sync_api import Page

pytestmark = pytest.mark.browser

sync_api = pytest.importorskip("playwright.sync_api")
expect = sync_api.expect

PASSWORD = "a long night shift password"


def _watchfloor(server: ServerProcess, *args: str, stdin: str | None = None) -> str:
    done = subprocess.run(  # noqa: S603 - our own interpreter and module
        [sys.executable, "-m", "watchfloor", *args, "--data-dir", str(server.data_dir)],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def test_a_new_user_works_an_alarm_and_the_auditor_sees_it_all(
    server: ServerProcess, page: Page, panel: Callable[[str, str, str], None]
) -> None:
    _watchfloor(
        server, "users", "add", "nadia", "--role", "operator", "--password-stdin", stdin=PASSWORD
    )
    _watchfloor(server, "users", "add", "audrey", "--role", "auditor", "--no-password")
    created = _watchfloor(server, "tokens", "create", "--user", "audrey", "--name", "review")
    auditor_token = created.strip().splitlines()[-1].split()[-1]

    page.goto(server.base_url + "/")
    page.wait_for_url("**/login.html**")
    page.fill("#name", "nadia")
    page.fill("#password", "not the password")
    page.click("button[type=submit]")
    # The refusal's text, not just its (always present) area: the next attempt waits for it.
    expect(page.locator("#login-error")).to_have_text("the name, password or code is wrong")
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")
    expect(page.locator("#connection")).to_have_text("live")
    start_console(page)

    panel("7001", "Riverside Depot", "BA05")
    row = page.locator("#alarms tr", has_text="Riverside Depot")
    expect(row).to_have_count(1)
    alarm_id = int(row.get_attribute("data-alarm-id") or "0")
    row.click()
    page.locator("#detail .actions button[data-action=acknowledge]").click()
    expect(row).to_contain_text("acknowledged")

    with httpx.Client(
        base_url=server.base_url, headers={"Authorization": f"Bearer {auditor_token}"}, timeout=10
    ) as auditor:
        assert auditor.get("/api/alarms").status_code == 403
        rows = auditor.get("/api/audit?limit=1000").json()["items"]
        verified = auditor.get("/api/audit/verify").json()
    assert verified["ok"] is True, verified["problems"]

    by_nadia = [(r["action"], r["target"], r["outcome"]) for r in reversed(rows)]
    target = f"alarm:{alarm_id}"
    expected = [
        ("user.add", "user:nadia", "ok"),
        ("login.failed", "user:nadia", "denied"),
        ("login.succeeded", "user:nadia", "ok"),
        ("alarm.read", target, "ok"),
        ("alarm.acknowledge", target, "ok"),
    ]
    seen = iter(by_nadia)
    for step in expected:
        assert step in seen, f"{step} missing (in order) from {json.dumps(by_nadia)}"
    acted = [r for r in rows if r["action"] == "alarm.acknowledge"]
    assert [(r["actor"], r["role"]) for r in acted] == [("nadia", "operator")]
    assert acted[0]["via"].startswith("session:")
    assert "anonymous" not in {r["actor"] for r in rows if r["action"].startswith("alarm.")}

    verify = subprocess.run(  # noqa: S603 - our own interpreter and module
        [sys.executable, "-m", "watchfloor", "audit", "verify", "--data-dir", str(server.data_dir)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert verify.returncode == 0, verify.stdout + verify.stderr
    assert "audit log OK" in verify.stdout

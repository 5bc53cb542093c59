"""The console's queue at volume, in Debian's Chromium at 1920 by 1080: how long `j` takes.

Starts ``watchfloor serve`` on a fresh data dir (flood control off, so that every zone is an
alarm of its own), raises ``--alarms`` alarms of mixed priorities from many registered panels
over DC-09, signs in to the console and presses `j` ``--presses`` times, measuring in the page
with ``performance.now()`` from the key press to the next frame after the selection moved.
With ``--screenshot FILE`` it also works a few alarms (acknowledged, claimed, dispatched, one
resolved), opens a hold-up alarm and saves the screen: the picture in the README.

    .venv/bin/python bench/console_queue.py [--alarms 1000] [--presses 60]
    .venv/bin/python bench/console_queue.py --alarms 30 --screenshot docs/console-queue.png
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
from playwright.sync_api import Page, expect, sync_playwright

from watchfloor.codecs.dc09 import encode_frame

TOKEN = "bench-console-token"  # noqa: S105 - a throwaway server's bootstrap token
USER = "night-operator"
PASSWORD = "correct horse battery staple"  # noqa: S105 - a throwaway user
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"

#: Sites with their panel's events: (SIA code and zone, text shown by the panel or None).
SITES = [
    ("Care Home Elmwood", [("FA", 12, None), ("FA", 14, None), ("BA", 3, None)]),
    ("Harbour Bank", [("HA", 1, "HOLDUP COUNTER"), ("BV", 4, None)]),
    ("Depot North", [("BA", 5, None), ("BA", 6, None), ("TA", 9, None)]),
    ("City Pharmacy", [("PA", 2, "PANIC STAFF ROOM"), ("BA", 1, None)]),
    ("School St. Mary", [("FA", 7, None), ("AT", 0, None)]),
    ("Library", [("BA", 3, None), ("BV", 3, None)]),
    ("Museum Annex", [("BV", 11, "SHOWCASE 3"), ("TA", 2, None), ("YT", 0, None)]),
    ("Petrol Station A4", [("HA", 2, "HOLDUP TILL"), ("BA", 8, None)]),
    ("Warehouse Quay", [("BA", 21, None), ("BA", 22, None), ("BA", 23, None), ("AT", 0, None)]),
    ("Town Hall", [("FA", 31, None), ("TA", 5, None)]),
    ("Sports Centre", [("BA", 2, None), ("YT", 0, None)]),
    ("Data Centre West", [("GA", 1, "GAS PLANT ROOM"), ("BV", 6, None)]),
]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def serve(data_dir: Path) -> Iterator[tuple[str, int]]:
    http, dc09 = free_port(), free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("WATCHFLOOR_")}  # noqa: TID251 - the child's environment
    env |= {"WATCHFLOOR_BOOTSTRAP_TOKEN": TOKEN, "WATCHFLOOR_FLOOD_THRESHOLD": "0"}
    log = (data_dir.parent / "server.log").open("wb")
    process = subprocess.Popen(  # noqa: S603 - our own interpreter and module
        [
            *(sys.executable, "-m", "watchfloor", "serve", "--data-dir", str(data_dir)),
            *("--http", f"127.0.0.1:{http}", "--dc09", f"127.0.0.1:{dc09}"),
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
        env=env,
    )
    base = f"http://127.0.0.1:{http}"
    try:
        for _ in range(300):
            try:
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            try:  # a process we do not control: wait on it, a tenth of a second at a time
                process.wait(timeout=0.1)
            except subprocess.TimeoutExpired:
                continue
            raise RuntimeError(f"the server exited with {process.returncode}")
        yield base, dc09
    finally:
        process.terminate()
        process.wait(timeout=15)
        log.close()


def raise_alarms(api: httpx.Client, dc09: int, count: int) -> None:
    """Raise `count` alarms: the sites above first, then panels of ten zones each."""
    events: list[tuple[str, str, str, int, str | None]] = []
    for number, (site, site_events) in enumerate(SITES, start=1):
        account = f"{0xA000 + number:X}"
        events += [(account, site, code, zone, text) for code, zone, text in site_events]
    codes = ["BA"] * 5 + ["FA", "BV", "TA", "AT", "PA"]
    panel = 0
    while len(events) < count:
        panel += 1
        account = f"{0xB000 + panel:X}"
        site = f"Site {panel:04d}"
        events += [(account, site, codes[(panel + z) % 10], z, None) for z in range(1, 11)]
    registered: set[str] = set()
    connections: dict[str, socket.socket] = {}
    try:
        for seq, (account, site, code, zone, text) in enumerate(events[:count], start=1):
            if account not in registered:
                response = api.post("/api/accounts", json={"account": account, "site": site})
                response.raise_for_status()
                registered.add(account)
                connections[account] = socket.create_connection(("127.0.0.1", dc09), timeout=10)
            event = f"{code}{zone:02d}" + (f"^{text}^" if text else "")
            frame = encode_frame(
                token="SIA-DCS",
                seq=f"{seq % 10000:04d}",
                account=account,
                data=f"#{account}|Nri1/{event}",
            )
            connections[account].sendall(frame)
            reply = connections[account].recv(1024)
            if b"ACK" not in reply:
                raise RuntimeError(f"no ACK for {event} from {account}: {reply!r}")
    finally:
        for connection in connections.values():
            connection.close()


def sign_in(page: Page, base: str) -> None:
    page.goto(base + "/")
    page.wait_for_url("**/login.html**")
    page.fill("#name", USER)
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")
    expect(page.locator("#connection")).to_have_text("live")
    page.keyboard.press("Enter")  # the "start the console" prompt
    expect(page.locator("#start")).to_be_hidden()


#: Press `j` and resolve with the time to the first frame drawn after the selection moved.
MEASURE_J = """async () => {
  const before = document.querySelector("#alarms tr.selected")?.dataset.alarmId;
  const start = performance.now();
  document.dispatchEvent(new KeyboardEvent("keydown", { key: "j", bubbles: true }));
  const handled = performance.now() - start;
  await new Promise((resolve) => requestAnimationFrame(() => setTimeout(resolve, 0)));
  const after = document.querySelector("#alarms tr.selected")?.dataset.alarmId;
  return { ms: performance.now() - start, handled, moved: before !== after };
}"""


def measure(page: Page, presses: int) -> list[float]:
    """Return the times from each `j` to the next frame drawn (and print the handler's)."""
    page.keyboard.press("j")  # select the first alarm: the detail opens
    expect(page.locator("#detail")).to_be_visible()
    times = []
    handled = []
    for _ in range(presses):
        result = page.evaluate(MEASURE_J)
        times.append(float(result["ms"]))
        handled.append(float(result["handled"]))
    print(f"key handler: median {statistics.median(handled):.1f} ms, max {max(handled):.1f} ms")
    return times


def work_some(page: Page, api: httpx.Client) -> None:
    """A few alarms in each state, as an hour into a night shift."""
    items = api.get("/api/alarms", params={"limit": 1000}).json()["items"]
    by_site: dict[str, list[int]] = {}
    for alarm in sorted(items, key=lambda a: a["id"]):
        by_site.setdefault(alarm["site"], []).append(alarm["id"])
    for site in ("Depot North", "Library", "Sports Centre", "Town Hall"):
        for alarm_id in by_site.get(site, [])[:1]:
            api.post(f"/api/alarms/{alarm_id}/acknowledge").raise_for_status()
    for alarm_id in by_site.get("Depot North", [])[:1]:
        api.post(f"/api/alarms/{alarm_id}/dispatch").raise_for_status()
    for alarm_id in by_site.get("Sports Centre", [])[:1]:
        api.post(
            f"/api/alarms/{alarm_id}/resolve",
            json={"outcome": "false", "override_reason": "cleaner set it off, confirmed by phone"},
        ).raise_for_status()
    page.wait_for_timeout(500)  # the stream brings the changes


def report_j(page: Page, alarms: int, presses: int) -> None:
    times = measure(page, presses)
    rows = page.locator("#alarms tr").count()
    print(
        f"j with {alarms} alarms ({rows} rows in the page): "
        f"median {statistics.median(times):.1f} ms, "
        f"p90 {statistics.quantiles(times, n=10)[-1]:.1f} ms, "
        f"max {max(times):.1f} ms over {len(times)} presses"
    )


def take_screenshot(page: Page, api: httpx.Client, path: Path) -> None:
    work_some(page, api)
    page.locator("#alarms tr", has_text="Harbour Bank").first.click()
    expect(page.locator("#event")).to_contain_text("HOLDUP COUNTER")
    page.wait_for_timeout(1500)  # a second of waiting times
    path.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(path))
    print(f"saved {path}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--alarms", type=int, default=1000)
    parser.add_argument("--presses", type=int, default=60)
    parser.add_argument("--screenshot", type=Path, default=None)
    args = parser.parse_args()
    with (
        tempfile.TemporaryDirectory() as tmp,
        serve(Path(tmp) / "var") as (base, dc09),
        httpx.Client(
            base_url=base, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=30
        ) as api,
        sync_playwright() as playwright,
    ):
        api.post(
            "/api/users", json={"name": USER, "role": "operator", "password": PASSWORD}
        ).raise_for_status()
        started = time.perf_counter()
        raise_alarms(api, dc09, args.alarms)
        print(f"{args.alarms} alarms raised in {time.perf_counter() - started:.1f} s")
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, args=["--headless=new", "--no-sandbox"]
        )
        page = browser.new_page(viewport={"width": 1920, "height": 1080})
        sign_in(page, base)
        expect(page.locator("#counts")).to_contain_text(f"{args.alarms} open")
        if args.screenshot is None:
            report_j(page, args.alarms, args.presses)
        else:
            take_screenshot(page, api, args.screenshot)
        browser.close()


if __name__ == "__main__":
    main()

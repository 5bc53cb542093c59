"""The alarm's detail: what the source said first, the picture through the session, the
procedure and Close from the keyboard, Esc one level at a time, the supervisor's field only for
supervisors (real server, Debian's Chromium)."""

from __future__ import annotations

import base64
import re
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import httpx
import pytest

from support.console import add_console_user, sign_in
from support.server import ServerProcess
from support.tokens import add_token
from watchfloor.core.principals import Role

if TYPE_CHECKING:
    from playwright.sync_api import Page, Request, Route

pytestmark = pytest.mark.browser

sync_api = pytest.importorskip("playwright.sync_api")
expect = sync_api.expect

Panel = Callable[[str, str, str], None]
JPEG = (Path(__file__).parents[1] / "data" / "frigate" / "snapshot.jpg").read_bytes()
OPERATOR = "olivia"


@pytest.fixture(scope="module", autouse=True)
def operator(server: ServerProcess) -> str:
    """An operator's account beside the console's admin (who may also supervise)."""
    with server.client() as api:
        add_console_user(api, OPERATOR, role="operator")
    return OPERATOR


def _open(page: Page, text: str) -> int:
    row = page.locator("#alarms tr", has_text=text)
    expect(row).to_have_count(1)
    row.click()
    expect(page.locator("#detail")).to_be_visible()
    return int(row.get_attribute("data-alarm-id") or "0")


def test_the_panels_text_and_the_callers_words_come_first_outside_the_raw_frame(
    server: ServerProcess, page: Page, panel: Panel, api: httpx.Client
) -> None:
    console = sign_in(page, server.base_url)
    panel("D001", "Harbour Bank", "HA01^HOLDUP COUNTER^")
    _open(console, "Harbour Bank")
    event = console.locator("#event")
    expect(event).to_contain_text("Event text: HOLDUP COUNTER")
    expect(event).to_contain_text("Zone: 01")
    expect(event).to_be_visible()
    # The raw frame is there, folded, below.
    raw = console.locator("#raw")
    expect(raw).not_to_have_attribute("open", re.compile(".*"))
    expect(raw.locator("#signals")).to_contain_text("HOLDUP COUNTER")
    expect(raw.locator("#signals td.raw")).to_be_hidden()
    # What the source said is above the procedure, which is above the units.
    order = console.evaluate(
        """() => ["event", "sop", "units"].map(
             (id) => document.getElementById(id).getBoundingClientRect().top)"""
    )
    assert order == sorted(order), order

    response = api.post(
        "/api/calls",
        json={
            "call_id": str(uuid.uuid4()),
            "type_code": 220,
            "site": "Corner Shop",
            "callback_number": "+44 20 7946 0018",
            "report": "Two men with a knife at the till, they just left on foot",
        },
    )
    assert response.status_code == 201, response.text
    _open(console, "Corner Shop")
    expect(event).to_contain_text(
        "Caller said: Two men with a knife at the till, they just left on foot"
    )
    expect(event).to_contain_text("Call back: +44 20 7946 0018")
    expect(raw).not_to_have_attribute("open", re.compile(".*"))


def test_a_guards_photo_loads_for_a_signed_in_operator_through_the_session(
    server: ServerProcess, page: Page, api: httpx.Client
) -> None:
    response = api.post(
        "/api/reports",
        json={
            "report_id": str(uuid.uuid4()),
            "type_code": 850,
            "site": "Car Park East",
            "text": "Back door forced, glass on the floor",
            "photo": base64.b64encode(JPEG).decode(),
        },
    )
    assert response.status_code == 201, response.text
    pictures: list[Request] = []
    page.on(
        "request",
        lambda r: pictures.append(r) if "/api/" in r.url and "snapshot" in r.url else None,
    )
    console = sign_in(page, server.base_url, OPERATOR)
    alarm_id = _open(console, "Car Park East")

    expect(console.locator("#event")).to_contain_text(
        "Guard reported: Back door forced, glass on the floor"
    )
    image = console.locator("#snapshot-image")
    expect(image).to_be_visible()
    expect(image).to_have_js_property("naturalWidth", 64)  # the JPEG decoded
    expect(console.locator("#snapshot-caption")).to_contain_text(re.compile(r"\d\d:\d\d:\d\d"))
    # A few more changes to the alarm: the picture is not asked for again.
    for text in ("one", "two"):
        console.fill("#note", text)
        console.click("#note-button")
        expect(console.locator("#timeline tr[data-kind=note]").first).to_contain_text(text)
    assert len(pictures) == 2, [r.url for r in pictures]  # the list, then the image
    assert all(r.headers.get("authorization") is None for r in pictures)

    auditor = add_token(server.data_dir, user="audrey", role=Role.AUDITOR, token="audrey-token")
    with httpx.Client(
        base_url=server.base_url, headers={"Authorization": f"Bearer {auditor}"}, timeout=10
    ) as audit:
        rejected = audit.get("/api/audit", params={"action": "token.rejected"}).json()["items"]
        reads = audit.get("/api/audit", params={"action": "image.read"}).json()["items"]
    assert rejected == []
    assert [(r["actor"], r["target"]) for r in reads] == [
        (OPERATOR, f"signal:{r['target'].split(':')[1]}") for r in reads
    ]
    assert reads, f"the picture of alarm {alarm_id} was read through the session"


def test_a_refused_picture_is_not_asked_for_again(
    server: ServerProcess, page: Page, api: httpx.Client
) -> None:
    # A refusal cannot be caused by a console role (all may read images): the browser is told.
    refusals: list[str] = []

    def refuse(route: Route) -> None:
        refusals.append(route.request.url)
        route.fulfill(status=403, json={"error": "forbidden", "detail": "may not read images"})

    page.route(re.compile(r"/api/alarms/\d+/snapshots$"), refuse)
    response = api.post(
        "/api/reports",
        json={
            "report_id": str(uuid.uuid4()),
            "type_code": 850,
            "site": "Loading Bay",
            "text": "Pallet fire",
            "photo": base64.b64encode(JPEG).decode(),
        },
    )
    assert response.status_code == 201, response.text
    console = sign_in(page, server.base_url, OPERATOR)
    _open(console, "Loading Bay")
    for text in ("one", "two", "three"):
        console.fill("#note", text)
        console.click("#note-button")
        expect(console.locator("#timeline tr[data-kind=note]").first).to_contain_text(text)
    expect(console.locator("#snapshot")).to_be_hidden()
    assert len(refusals) == 1, refusals


def test_procedure_steps_and_close_by_keyboard_alone(
    server: ServerProcess, page: Page, panel: Panel, api: httpx.Client
) -> None:
    console = sign_in(page, server.base_url)
    panel("D004", "Keyboard Works", "FA02")
    row = console.locator("#alarms tr", has_text="Keyboard Works")
    expect(row).to_have_count(1)
    alarm_id = int(row.get_attribute("data-alarm-id") or "0")
    console.locator("#filter-search").focus()
    console.keyboard.type("Keyboard Works")  # the queue shows this alarm alone
    console.keyboard.press("Escape")
    console.keyboard.press("j")
    expect(console.locator("#detail-title")).to_contain_text(f"#{alarm_id}")
    console.keyboard.press("a")
    expect(console.locator("#detail dd.state")).to_have_text("acknowledged")
    steps = console.locator("#sop-steps input[type=checkbox]")
    expect(steps).to_have_count(6)
    for number in "123456":
        console.keyboard.press(number)
    expect(console.locator("#sop-progress")).to_have_text("— 6 of 6 mandatory steps done")
    console.keyboard.press("2")  # again: not done
    expect(console.locator("#sop-progress")).to_have_text("— 5 of 6 mandatory steps done")
    console.keyboard.press("2")
    expect(console.locator("#sop-progress")).to_have_text("— 6 of 6 mandatory steps done")

    console.keyboard.press("r")
    expect(console.locator("#outcome")).to_be_focused()
    console.keyboard.press("f")  # False alarm
    expect(console.locator("#outcome")).to_have_value("false")
    console.keyboard.press("Tab")
    console.keyboard.type("Burnt toast")
    console.keyboard.press("Enter")
    expect(console.locator("#detail dd.state")).to_have_text("resolved")
    expect(console.locator("#detail")).to_be_focused()  # keys act on the alarm again
    console.keyboard.press("x")
    expect(console.locator("#detail dd.state")).to_have_text("closed")
    stored = api.get(f"/api/alarms/{alarm_id}").json()
    assert (stored["state"], stored["outcome"]) == ("closed", "false")
    assert stored["sop_done"] == [1, 2, 3, 4, 5, 6]


def test_esc_on_a_unit_checkbox_leaves_the_box_not_the_alarm(
    server: ServerProcess, page: Page, panel: Panel, api: httpx.Client
) -> None:
    unit = api.post("/api/units", json={"name": "Echo 5", "user": "erin"})
    assert unit.status_code == 201, unit.text
    console = sign_in(page, server.base_url)
    panel("D005", "Esc Street", "BA04")
    _open(console, "Esc Street")
    console.keyboard.press("a")
    expect(console.locator("#detail dd.state")).to_have_text("acknowledged")
    console.keyboard.press("u")
    box = console.locator("#unit-list li", has_text="Echo 5").locator("input")
    expect(box).to_be_focused()
    console.keyboard.press("Space")
    expect(box).to_be_checked()

    console.keyboard.press("Escape")
    expect(console.locator("#detail")).to_be_visible()
    expect(console.locator("#detail")).to_be_focused()
    expect(box).to_be_checked()  # the tick stays for the alarm it was made for
    console.keyboard.press("Escape")
    expect(console.locator("#detail")).to_be_hidden()


def test_operators_are_not_offered_the_supervisors_resolve_anyway(
    server: ServerProcess, page: Page, panel: Panel
) -> None:
    console = sign_in(page, server.base_url, OPERATOR)
    panel("D006", "Night Depot", "PA01")
    _open(console, "Night Depot")
    console.select_option("#outcome", "genuine")
    console.click("#resolve-button")
    expect(console.locator("#resolve-message")).to_contain_text(
        "Procedure not complete: steps 1, 2, 3, 4, 5. "
        "Tick them first, or ask a supervisor to resolve it anyway."
    )
    expect(console.locator("#override-row")).to_be_hidden()

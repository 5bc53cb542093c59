"""Handling alarms in the console, in Debian's Chromium, against ``watchfloor serve``."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import TYPE_CHECKING

import httpx
import pytest

from support.console import CONSOLE_USER
from support.console import sign_in as sign_in_console
from support.server import ServerProcess

if TYPE_CHECKING:
    from playwright.sync_api import Locator, Page, WebSocketRoute

pytestmark = pytest.mark.browser

sync_api = pytest.importorskip("playwright.sync_api")
expect = sync_api.expect

Panel = Callable[[str, str, str], None]
FLASHING = re.compile(r"\bflash\b")


class StreamGate:
    """Sits between the console and /api/stream; while closed, server messages are dropped.

    Lets a test change an alarm behind the console's back before the console can hear of it,
    as when two operators press at the same moment.
    """

    def __init__(self) -> None:
        self.closed = False

    def install(self, page: Page) -> None:
        page.route_web_socket(re.compile(r"/api/stream"), self._route)

    def _route(self, console: WebSocketRoute) -> None:
        server = console.connect_to_server()
        server.on_message(lambda message: None if self.closed else console.send(message))


def sign_in(page: Page, server: ServerProcess) -> Page:
    return sign_in_console(page, server.base_url)


def queue_row(page: Page, site: str) -> Locator:
    return page.locator("#alarms tr", has_text=site)


def alarm_id_of(row: Locator) -> int:
    expect(row).to_have_count(1)
    return int(row.get_attribute("data-alarm-id") or "0")


def action(page: Page, name: str) -> Locator:
    return page.locator(f"#detail .actions button[data-action={name}]")


def test_an_alarm_goes_from_new_to_closed_in_the_console(
    server: ServerProcess, page: Page, panel: Panel, api: httpx.Client
) -> None:
    console = sign_in(page, server)
    # The key press at the start prompt armed the sound.
    expect(console.locator("#sound")).to_have_text("Sound on")
    panel("5101", "Depot North", "FA07")

    row = queue_row(console, "Depot North")
    expect(row).to_have_attribute("data-priority", "1")
    expect(row).to_have_class(FLASHING)
    expect(console.locator("#announcer")).to_have_text("New P1 alarm: Fire alarm at Depot North")
    expect(console.locator("#sound")).not_to_have_attribute("data-tones", "0")
    alarm_id = alarm_id_of(row)

    row.click()
    detail = console.locator("#detail")
    expect(detail.locator("dd.state")).to_have_text("new")
    expect(detail.locator("dd.deadline")).to_contain_text("in ")
    for name in ("dispatch", "hold", "resume", "close", "reopen"):
        expect(action(console, name)).to_be_disabled()
    for name in ("hold", "resume", "close", "reopen"):  # not for a new alarm: out of the way
        expect(action(console, name)).to_be_hidden()
    box = action(console, "acknowledge").bounding_box()
    assert box is not None
    assert box["height"] >= 40

    action(console, "acknowledge").click()
    expect(detail.locator("dd.state")).to_have_text("acknowledged")
    expect(detail.locator("dd.held")).to_have_text(CONSOLE_USER)
    expect(row).not_to_have_class(FLASHING)
    expect(row.locator("td.held")).to_have_text(CONSOLE_USER)
    expect(action(console, "acknowledge")).to_be_disabled()
    expect(action(console, "dispatch")).to_be_enabled()

    steps = detail.locator("#sop-steps input[type=checkbox]")
    expect(steps).to_have_count(6)
    for index in range(6):
        steps.nth(index).check()
    expect(detail.locator("#sop-progress")).to_have_text("— 6 of 6 mandatory steps done")

    console.fill("#note", "Keyholder on the way; fire service called, ref F-42")
    console.click("#note-button")
    expect(detail.locator("#timeline tr[data-kind=note]")).to_contain_text("ref F-42")

    console.select_option("#outcome", "false")
    console.fill("#resolve-note", "Burnt toast in the canteen")
    console.click("#resolve-button")
    expect(detail.locator("dd.state")).to_have_text("resolved")
    expect(row).to_have_count(0)  # a resolved alarm leaves the queue, its detail stays open

    expect(action(console, "close")).to_be_enabled()
    action(console, "close").click()
    expect(detail.locator("dd.state")).to_have_text("closed")
    expect(action(console, "reopen")).to_be_enabled()
    expect(detail.locator("#timeline tr").first).to_have_attribute("data-kind", "closed")

    stored = api.get(f"/api/alarms/{alarm_id}").json()
    assert stored["state"] == "closed"
    assert stored["outcome"] == "false"
    assert stored["sop_done"] == [1, 2, 3, 4, 5, 6]
    kinds = [entry["kind"] for entry in stored["timeline"]]
    for kind in ("acknowledged", "sop_step", "note", "resolved", "closed"):
        assert kind in kinds, kinds
    assert kinds.count("sop_step") == 6


def test_an_alarm_is_selected_and_acknowledged_with_the_keyboard_alone(
    server: ServerProcess, page: Page, panel: Panel
) -> None:
    console = sign_in(page, server)
    panel("5102", "Keyboard Lane", "BA01")
    row = queue_row(console, "Keyboard Lane")
    alarm_id = alarm_id_of(row)
    rows = console.locator("#alarms tr")
    ids = [int(r.get_attribute("data-alarm-id") or "0") for r in rows.all()]

    console.keyboard.press("ArrowDown")
    expect(rows.first).to_have_attribute("aria-current", "true")
    for _ in range(ids.index(alarm_id)):
        console.keyboard.press("j")
    expect(row).to_have_attribute("aria-current", "true")
    expect(console.locator("#detail-title")).to_contain_text(f"#{alarm_id}")

    console.keyboard.press("a")
    expect(console.locator("#detail dd.state")).to_have_text("acknowledged")
    expect(console.locator("#detail dd.held")).to_have_text(CONSOLE_USER)
    expect(row.locator("td.held")).to_have_text(CONSOLE_USER)
    expect(row.locator("td.state")).to_have_text("acknowledged")

    # Release with the button, claim again, dispatch, hold and resume with keys alone.
    action(console, "release").click()
    expect(console.locator("#detail dd.held")).to_have_text("nobody")
    console.keyboard.press("c")
    expect(console.locator("#detail dd.held")).to_have_text(CONSOLE_USER)
    console.keyboard.press("d")
    expect(console.locator("#detail dd.state")).to_have_text("dispatched")
    console.keyboard.press("h")
    expect(console.locator("#detail dd.state")).to_have_text("held")
    expect(row.locator("td.state")).to_have_text("held")  # held alarms stay in the queue
    console.keyboard.press("h")
    expect(console.locator("#detail dd.state")).to_have_text("dispatched")

    # Shortcuts stay out of the way while typing a note; Esc leaves the field, then the alarm.
    console.keyboard.press("n")
    expect(console.locator("#note")).to_be_focused()
    console.keyboard.type("hah")
    expect(console.locator("#note")).to_have_value("hah")
    expect(console.locator("#detail dd.state")).to_have_text("dispatched")
    console.keyboard.press("Escape")
    console.keyboard.press("Escape")
    expect(console.locator("#detail")).to_be_hidden()


def test_an_acknowledgement_that_lost_the_race_says_what_the_alarm_is_now(
    server: ServerProcess, page: Page, panel: Panel, api: httpx.Client
) -> None:
    gate = StreamGate()
    gate.install(page)
    console = sign_in(page, server)
    panel("5103", "Gatehouse", "BA02")
    row = queue_row(console, "Gatehouse")
    alarm_id = alarm_id_of(row)
    row.click()
    expect(action(console, "acknowledge")).to_be_enabled()
    # The alarm's record has arrived: no read begun before the gate closes can answer after it.
    expect(console.locator("#timeline tr[data-kind=created]")).to_have_count(1)

    gate.closed = True  # the console does not hear of the next change
    assert api.post(f"/api/alarms/{alarm_id}/acknowledge").status_code == 200
    action(console, "acknowledge").click()

    expect(console.locator("#action-message")).to_have_text(
        "Already acknowledged by someone else — now: acknowledged"
    )
    # The console reloads the alarm after a refusal: the buttons follow the real state.
    expect(console.locator("#detail dd.state")).to_have_text("acknowledged")
    expect(action(console, "acknowledge")).to_be_disabled()


def test_resolving_with_mandatory_steps_missing_names_them(
    server: ServerProcess, page: Page, panel: Panel, api: httpx.Client
) -> None:
    console = sign_in(page, server)
    panel("5104", "Pharmacy", "PA01")  # panic alarm: five mandatory steps
    row = queue_row(console, "Pharmacy")
    alarm_id = alarm_id_of(row)
    row.click()

    steps = console.locator("#sop-steps input[type=checkbox]")
    expect(steps).to_have_count(5)
    for number in (2, 4, 5):
        steps.nth(number - 1).check()
    expect(console.locator("#sop-progress")).to_have_text("— 3 of 5 mandatory steps done")

    console.select_option("#outcome", "genuine")
    console.click("#resolve-button")
    # The refusal shows next to the Resolve button, where the operator is looking.
    expect(console.locator("#resolve-message")).to_contain_text(
        "Procedure not complete: steps 1, 3"
    )
    expect(console.locator("#override-row")).to_be_visible()
    assert api.get(f"/api/alarms/{alarm_id}").json()["state"] == "new"

"""The console's sound through a night: one repeating tone while P1/P2 alarms wait, bounded in a
burst, again for a P1 left alone, silenced for a minute on one alarm (and on its timeline).

The page runs on Playwright's clock, paused: the tone loop's timers fire only when the test
runs the clock, so the counts below are per simulated minute, not per wall-clock second. Tones
are counted by wrapping the oscillators the page starts.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

import httpx
import pytest

from support.console import sign_in
from support.server import ServerProcess

if TYPE_CHECKING:
    from playwright.sync_api import Page

pytestmark = pytest.mark.browser

sync_api = pytest.importorskip("playwright.sync_api")
expect = sync_api.expect

Panel = Callable[[str, str, str], None]

#: Every oscillator started, with its frequency (the console's tones are Web Audio oscillators).
COUNT_TONES = """
window.__tones = [];
const start = OscillatorNode.prototype.start;
OscillatorNode.prototype.start = function (...args) {
  window.__tones.push(this.frequency.value);
  return start.apply(this, args);
};
"""
P1_BEEP = 1175  # two of these per P1 tone
P2_BEEP = 880
#: The console's shortest interval between two tones (sound.js TONE_GAP_MS).
GAP_S = 4


def _console(page: Page, server: ServerProcess) -> Page:
    page.add_init_script(COUNT_TONES)
    page.clock.install(time=datetime.now(UTC))
    sign_in(page, server.base_url)
    expect(page.locator("#sound")).to_have_text("Sound on")
    # From here the page's time moves only when the test says.
    now = page.evaluate("Date.now()") / 1000
    page.clock.pause_at(datetime.fromtimestamp(now, UTC) + timedelta(seconds=1))
    return page


def _tones(page: Page) -> list[float]:
    tones: list[float] = page.evaluate("window.__tones")
    return tones


def test_a_p1_left_alone_sounds_again_until_acknowledged_or_muted(
    server: ServerProcess, page: Page, panel: Panel, api: httpx.Client
) -> None:
    console = _console(page, server)
    panel("C001", "Quiet Lane", "BV01")  # one P2 first: one lower beep per tone
    row = console.locator("#alarms tr", has_text="Quiet Lane")
    expect(row).to_have_count(1)
    console.clock.run_for(1_000)
    assert _tones(console)[-1:] == [P2_BEEP]
    assert api.post(f"/api/alarms/{row.get_attribute('data-alarm-id')}/acknowledge").is_success

    panel("C002", "Lonely Street", "FA01")
    row = console.locator("#alarms tr", has_text="Lonely Street")
    expect(row).to_have_attribute("data-state", "new")
    count = len(_tones(console))
    console.clock.run_for(30_000)
    again = _tones(console)[count:]
    assert len(again) >= 2 * 5, "a P1 nobody acknowledges sounds again and again"
    assert set(again) == {P1_BEEP}

    # m silences this alarm for a minute, and the timeline says who did.
    row.click()
    console.keyboard.press("m")
    expect(console.locator("#detail-muted")).to_contain_text("muted until")
    expect(console.locator("#timeline tr[data-kind=note]").first).to_contain_text(
        "sound muted for 1 minute"
    )
    count = len(_tones(console))
    console.clock.run_for(50_000)
    assert _tones(console)[count:] == []
    console.clock.run_for(15_000)  # the minute is over: it sounds again
    assert len(_tones(console)) > count

    console.keyboard.press("a")
    expect(console.locator("#detail dd.state")).to_have_text("acknowledged")
    count = len(_tones(console))
    console.clock.run_for(30_000)
    assert _tones(console)[count:] == []


def test_a_burst_of_alarms_sounds_one_repeating_tone_not_one_per_alarm(
    server: ServerProcess, page: Page, panel: Panel
) -> None:
    console = _console(page, server)
    for account in range(10):  # ten panels, ten zones each: a hundred P1 and P2 alarms
        for zone in range(1, 11):
            code = "FA" if zone % 2 else "BV"  # fire (P1) and confirmed burglary (P2)
            panel(f"B{account:03d}", f"Burst {account}", f"{code}{zone:02d}")
    expect(console.locator("#counts")).to_contain_text(" 100 not acknowledged")
    before = len(_tones(console))

    console.clock.run_for(60_000)

    tones = _tones(console)[before:]
    # At most one tone every few seconds however many alarms wait: two beeps per P1 tone.
    assert len(tones) <= 2 * (60 // GAP_S + 1), len(tones)
    # And it keeps sounding while they wait, at the P1 pitch (the most urgent waiting).
    assert len(tones) >= 2 * (60 // GAP_S - 1), len(tones)
    assert set(tones) == {P1_BEEP}

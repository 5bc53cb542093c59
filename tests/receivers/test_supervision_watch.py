"""Supervision end to end: a silent transmitter raises "link lost", its next message restores
it, and the state survives a restart. Time comes from a FakeClock; nothing sleeps."""

from __future__ import annotations

from datetime import timedelta

from support.clock import FakeClock
from support.panel import open_tcp_panel, reply_token, sia_frame
from watchfloor.app import open_platform
from watchfloor.codecs.dc09 import encode_frame
from watchfloor.config import Settings
from watchfloor.core.devices import AccountUpdate

LINK_LOST = 601


async def test_silence_raises_link_lost_and_the_next_message_restores(
    settings: Settings, clock: FakeClock
) -> None:
    async with open_platform(settings, clock=clock) as platform:
        await platform.repository.add_account(account="1234", site="Depot", key=None)
        await platform.repository.update_account(
            "1234",
            AccountUpdate(
                supervision_interval=timedelta(seconds=60), supervision_grace=timedelta(seconds=30)
            ),
        )
        clock.advance(89)
        assert await platform.supervision.check() == 0
        clock.advance(2)
        assert await platform.supervision.check() == 1
        assert await platform.supervision.check() == 0  # raised once, not every period
        alarms = await platform.repository.list_alarms(state=None, limit=5, after=None)
        assert [(a.type_code, a.site) for a in alarms] == [(LINK_LOST, "Depot")]
        device = await platform.repository.find_account("1234")
        assert device is not None
        assert device.link_lost_at == clock.now()

        host, port = platform.dc09_address
        async with open_tcp_panel(host, port) as panel:
            null = encode_frame(token="NULL", seq="0000", account="1234", data="")
            assert reply_token(await panel.exchange(null)) == "ACK"
        detail = await platform.repository.get_alarm(alarms[0].id)
        assert [t.kind for t in detail.timeline] == ["created", "restored"]
        device = await platform.repository.find_account("1234")
        assert device is not None
        assert device.link_lost_at is None


async def test_supervision_state_survives_a_restart(settings: Settings, clock: FakeClock) -> None:
    async with open_platform(settings, clock=clock) as platform:
        await platform.repository.add_account(account="1234", site=None, key=None)
        await platform.repository.update_account(
            "1234", AccountUpdate(supervision_interval=timedelta(seconds=60))
        )
        host, port = platform.dc09_address
        async with open_tcp_panel(host, port) as panel:
            assert reply_token(await panel.exchange(sia_frame("1234", 1))) == "ACK"
    clock.advance(120)
    async with open_platform(settings, clock=clock) as restarted:
        # The deadline came from the stored last-seen time: overdue after the restart, once.
        # The platform's own watch checks at start too, so either check may be the one.
        await restarted.supervision.check()
        raised = await restarted.repository.list_alarms(state=None, limit=5, after=None)
        assert [a.type_code for a in raised].count(LINK_LOST) == 1
    async with open_platform(settings, clock=clock) as again:
        assert await again.supervision.check() == 0
        alarms = await again.repository.list_alarms(state=None, limit=5, after=None)
        assert sorted(a.type_code for a in alarms) == sorted([LINK_LOST, alarms[-1].type_code])
        assert sum(a.type_code == LINK_LOST for a in alarms) == 1

"""Open/close supervision through the whole platform: a panel's opening over DC-09, the
schedule's closing time passes, "failed to close" is raised once, also across a restart."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from sqlalchemy import select, update

from support.clock import FakeClock
from support.panel import open_tcp_panel, reply_token
from watchfloor.app import open_platform
from watchfloor.codecs.contact_id import ContactIdEvent, encode_contact_id
from watchfloor.codecs.dc09 import encode_frame
from watchfloor.config import Settings
from watchfloor.store.tables import site_schedules, sites

FAILED_TO_CLOSE = 806
FRIDAY_MORNING = datetime(2026, 12, 4, 8, 0, tzinfo=UTC)


async def test_a_panel_left_open_raises_failed_to_close_once_across_a_restart(
    settings: Settings, clock: FakeClock
) -> None:
    clock.set(FRIDAY_MORNING)
    async with open_platform(settings, clock=clock) as platform:
        await platform.repository.add_account(account="1234", site="Shop", key=None)
        async with platform.engine.begin() as connection:
            await connection.execute(
                update(sites).where(sites.c.name == "Shop").values(time_zone="Europe/London")
            )
            site_id = await connection.scalar(select(sites.c.id).where(sites.c.name == "Shop"))
            await connection.execute(
                site_schedules.insert().values(
                    site_id=site_id,
                    windows=json.dumps(
                        [{"weekday": d, "opens": "08:00", "closes": "18:00"} for d in range(5)]
                    ),
                    exceptions="[]",
                    close_grace_seconds=900.0,
                    updated_at=clock.now(),
                )
            )
        opening = encode_contact_id(
            ContactIdEvent(account="1234", qualifier="1", event="401", partition="01", zone="003")
        )
        host, port = platform.dc09_address
        async with open_tcp_panel(host, port) as panel:
            frame = encode_frame(token="ADM-CID", seq="0001", account="1234", data=opening)
            assert reply_token(await panel.exchange(frame)) == "ACK"
        clock.advance(timedelta(hours=10, minutes=14).total_seconds())
        assert await platform.open_close.check() == 0
    clock.advance(120)  # stopped over the deadline (18:15)
    async with open_platform(settings, clock=clock) as restarted:
        # The platform's own watch checks at start too, so either check may be the one.
        await restarted.open_close.check()
        alarms = await restarted.repository.list_alarms(state=None, limit=5, after=None)
        assert [(a.type_code, a.site) for a in alarms] == [(FAILED_TO_CLOSE, "Shop")]
    async with open_platform(settings, clock=clock) as again:
        assert await again.open_close.check() == 0
        alarms = await again.repository.list_alarms(state=None, limit=5, after=None)
        assert [a.type_code for a in alarms] == [FAILED_TO_CLOSE]

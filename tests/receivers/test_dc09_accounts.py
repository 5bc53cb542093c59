"""The DC-09 receiver's account directory: the store's accounts, remembered for ``ttl``."""

from __future__ import annotations

from support.clock import FakeClock
from watchfloor.app import open_repository
from watchfloor.config import Settings
from watchfloor.core.devices import AccountUpdate
from watchfloor.receivers.dc09 import AccountView
from watchfloor.receivers.dc09_accounts import AccountDirectory

KEY = bytes(range(16))


async def test_a_change_applies_once_the_remembered_view_is_ttl_old(
    settings: Settings, clock: FakeClock
) -> None:
    async with open_repository(settings, clock) as repository:
        directory = AccountDirectory(repository, clock, ttl=1.0)
        assert await directory.lookup("1234") is None

        await repository.add_account(account="1234", site=None, key=KEY)
        clock.advance(0.5)
        assert await directory.lookup("1234") is None
        clock.advance(0.5)
        assert await directory.lookup("1234") == AccountView(key=KEY, enabled=True)

        await repository.update_account("1234", AccountUpdate(enabled=False, clear_key=True))
        clock.advance(0.9)
        assert await directory.lookup("1234") == AccountView(key=KEY, enabled=True)
        clock.advance(0.1)
        assert await directory.lookup("1234") == AccountView(key=None, enabled=False)

"""The DC-09 receiver's directory of accounts: the store's, remembered for a second."""

from __future__ import annotations

import asyncio
import logging

from watchfloor.core.errors import StoreUnavailableError
from watchfloor.core.ports import AccountLookup, Clock
from watchfloor.receivers.dc09 import AccountView

__all__ = ["AccountDirectory"]

logger = logging.getLogger(__name__)


class AccountDirectory:
    """The receiver's view of DC-09 accounts, read from the store and kept for a second.

    ``lookup`` keeps each answer for ``ttl`` seconds: panels send in bursts, and the memory
    spares the store two reads per frame while an account added, changed or disabled (CLI,
    API, another node) still applies within ``ttl`` seconds. ``is_registered`` answers from
    memory alone (the accounts registered at the last ``refresh``, which ``serve`` repeats,
    and those a lookup found since), so that the receiver can let registered panels past its
    limits on unregistered traffic without asking the store.
    """

    def __init__(self, accounts: AccountLookup, clock: Clock, *, ttl: float = 1.0) -> None:
        self._accounts = accounts
        self._clock = clock
        self._ttl = ttl
        self._views: dict[str, tuple[float, AccountView | None]] = {}
        self._registered: set[str] = set()

    def is_registered(self, account: str) -> bool:
        """Return whether the account is known to be registered (no I/O)."""
        return account in self._registered

    async def refresh(self) -> None:
        """Read which accounts are registered now (one light query)."""
        self._registered = set(await self._accounts.registered_accounts())

    async def serve(self, period: float) -> None:
        """Refresh every ``period`` seconds, until cancelled."""
        while True:
            await asyncio.sleep(period)
            try:
                await self.refresh()
            except StoreUnavailableError:
                logger.error("registered accounts not refreshed: store unavailable; retrying")
            except Exception:  # task boundary: the refresh must outlive a bug in one run
                logger.exception("registered accounts not refreshed")

    async def lookup(self, account: str) -> AccountView | None:
        """Return the account's view (None: not registered)."""
        now = self._clock.monotonic()
        cached = self._views.get(account)
        if cached is not None and now - cached[0] < self._ttl:
            return cached[1]
        device = await self._accounts.find_account(account)
        view = None
        if device is not None:
            key = await self._accounts.account_key(account) if device.has_key else None
            view = AccountView(key=key, enabled=device.enabled)
            self._registered.add(account)
        else:
            self._registered.discard(account)
        if len(self._views) > 100_000:
            self._views.clear()  # a scan of random accounts must not grow memory forever
        self._views[account] = (now, view)
        return view

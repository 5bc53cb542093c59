"""The DC-09 receiver's directory of accounts: the store's, remembered for a second."""

from __future__ import annotations

from watchfloor.core.ports import AccountLookup, Clock
from watchfloor.receivers.dc09 import AccountView

__all__ = ["AccountDirectory"]


class AccountDirectory:
    """The receiver's view of DC-09 accounts, read from the store and kept for a second.

    Panels send in bursts; the second-long memory spares the store two reads per frame while
    an account added, changed or disabled (CLI, API, another node) still applies within
    ``ttl`` seconds.
    """

    def __init__(self, accounts: AccountLookup, clock: Clock, *, ttl: float = 1.0) -> None:
        self._accounts = accounts
        self._clock = clock
        self._ttl = ttl
        self._views: dict[str, tuple[float, AccountView | None]] = {}

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
        if len(self._views) > 100_000:
            self._views.clear()  # a scan of random accounts must not grow memory forever
        self._views[account] = (now, view)
        return view

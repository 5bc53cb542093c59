"""The error hierarchy shared by every layer."""

from __future__ import annotations

__all__ = [
    "ConflictError",
    "InvalidTransitionError",
    "NotFoundError",
    "StoreUnavailableError",
    "TaxonomyError",
    "WatchfloorError",
]


class WatchfloorError(Exception):
    """The root of every error watchfloor raises on purpose."""


class NotFoundError(WatchfloorError):
    """The named thing does not exist."""


class ConflictError(WatchfloorError):
    """The thing exists already, or changed since it was read (a stale version)."""


class InvalidTransitionError(WatchfloorError):
    """An action that the alarm's current state does not allow."""

    def __init__(self, state: str, action: str) -> None:
        super().__init__(f"cannot {action} an alarm that is {state}")
        self.state = state
        self.action = action


class StoreUnavailableError(WatchfloorError):
    """The store could not commit; nothing was acknowledged, the sender must retry."""


class TaxonomyError(WatchfloorError):
    """The alarm-type taxonomy is invalid; the message lists every problem found."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("invalid taxonomy:\n  " + "\n  ".join(problems))
        self.problems = tuple(problems)

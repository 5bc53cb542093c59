"""The error hierarchy shared by every layer."""

from __future__ import annotations

__all__ = [
    "ConflictError",
    "InvalidRecordError",
    "InvalidTransitionError",
    "NotFoundError",
    "PayloadTooLargeError",
    "ProcedureIncompleteError",
    "SecretKeyError",
    "StoreUnavailableError",
    "TaxonomyError",
    "UnknownSenderError",
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


class ProcedureIncompleteError(WatchfloorError):
    """A resolve with mandatory procedure steps not done (indexes from 0) and no override."""

    def __init__(self, missing: tuple[int, ...]) -> None:
        steps = ", ".join(str(index + 1) for index in missing)
        super().__init__(f"mandatory procedure steps not done: {steps}")
        self.missing = missing


class StoreUnavailableError(WatchfloorError):
    """The store could not commit; nothing was acknowledged, the sender must retry."""


class TaxonomyError(WatchfloorError):
    """The alarm-type taxonomy is invalid; the message lists every problem found."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("invalid taxonomy:\n  " + "\n  ".join(problems))
        self.problems = tuple(problems)


class UnknownSenderError(WatchfloorError):
    """A device presented a secret (or name) that no registered, enabled device has."""


class PayloadTooLargeError(WatchfloorError):
    """A device sent a body larger than the configured limit; nothing of it was stored."""


class SecretKeyError(WatchfloorError):
    """A secret stored encrypted cannot be opened or sealed: its key is missing or damaged."""


class InvalidRecordError(WatchfloorError):
    """A site record (site, zone, contact, schedule) is invalid; each problem names its field."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("; ".join(problems))

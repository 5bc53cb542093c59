"""Where authentication outcomes go: one log line each, on the ``watchfloor.auth`` logger.

The implementation of ``core.users.AuthEvents`` that the composition root hands to both the
API and the command line; an audit log joins here as one more destination. Events carry no
secret (no password, token or TOTP secret), so every field may be logged.
"""

from __future__ import annotations

import logging
from typing import Final

from watchfloor.core.users import AuthEvent, AuthEventKind

__all__ = ["LoggedAuthEvents"]

_WARNINGS: Final = frozenset({AuthEventKind.LOGIN_FAILED, AuthEventKind.LOGIN_RATE_LIMITED})


class LoggedAuthEvents:
    """Implements ``core.users.AuthEvents`` by logging; failures at WARNING."""

    def __init__(self, logger: logging.Logger | None = None) -> None:
        self._logger = logger or logging.getLogger("watchfloor.auth")

    async def record(self, event: AuthEvent) -> None:
        """Log the event."""
        level = logging.WARNING if event.kind in _WARNINGS else logging.INFO
        self._logger.log(
            level,
            "auth: %s: user=%r actor=%s peer=%s%s",
            event.kind,
            event.subject,
            event.actor or "-",
            event.peer or "-",
            f" ({event.detail})" if event.detail else "",
        )

"""Where authentication outcomes go: one log line each, on the ``watchfloor.auth`` logger.

The implementations of ``core.users.AuthEvents`` that the composition root hands to both the
API and the command line: a log line, and with ``AuditedAuthEvents`` an audit row too. Events carry no
secret (no password, token or TOTP secret), so every field may be logged.
"""

from __future__ import annotations

import getpass
import logging
from collections.abc import Awaitable, Callable
from typing import Final

from watchfloor.core.audit import AuditEntry, AuditOutcome
from watchfloor.core.users import AuthEvent, AuthEventKind

__all__ = ["AUDIT_ACTIONS", "AuditedAuthEvents", "LoggedAuthEvents"]

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


#: The audit action of each kind of event.
AUDIT_ACTIONS: Final = {
    AuthEventKind.LOGIN_SUCCEEDED: "login.succeeded",
    AuthEventKind.LOGIN_FAILED: "login.failed",
    AuthEventKind.LOGIN_RATE_LIMITED: "login.rate_limited",
    AuthEventKind.LOGGED_OUT: "session.logout",
    AuthEventKind.SESSIONS_ENDED: "session.end_all",
    AuthEventKind.SESSION_EXPIRED: "session.expired",
    AuthEventKind.PASSWORD_CHANGED: "user.password_change",
    AuthEventKind.TOTP_ENROLLED: "user.totp_enrol",
    AuthEventKind.TOTP_RESET: "user.totp_reset",
    AuthEventKind.USER_CREATED: "user.add",
    AuthEventKind.USER_CHANGED: "user.change",
    AuthEventKind.TOKEN_CREATED: "token.create",
    AuthEventKind.TOKEN_REVOKED: "token.revoke",
}

_REFUSED: Final = frozenset({AuthEventKind.LOGIN_FAILED, AuthEventKind.LOGIN_RATE_LIMITED})


class AuditedAuthEvents:
    """Implements ``core.users.AuthEvents`` by logging and appending an audit row each.

    ``actor`` None means the subject themself (a login) or the command line (``via``).
    """

    def __init__(
        self,
        inner: LoggedAuthEvents,
        append: Callable[[AuditEntry], Awaitable[object]],
        *,
        via: str,
    ) -> None:
        self._inner = inner
        self._append = append
        self._via = via

    async def record(self, event: AuthEvent) -> None:
        """Log the event and audit it."""
        await self._inner.record(event)
        actor = event.actor or (event.subject if self._via != "cli" else getpass.getuser())
        await self._append(
            AuditEntry(
                at=event.at,
                actor=actor,
                role=None,
                via=self._via,
                action=AUDIT_ACTIONS[event.kind],
                target=f"user:{event.subject}",
                peer=event.peer,
                reason=event.detail or None,
                outcome=AuditOutcome.DENIED if event.kind in _REFUSED else AuditOutcome.OK,
            )
        )

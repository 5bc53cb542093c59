"""Where authentication outcomes go: one log line each, on the ``watchfloor.auth`` logger.

The implementations of ``core.users.AuthEvents`` that the composition root hands to both the
API and the command line: a log line, and with ``AuditedAuthEvents`` an audit row too. Events carry no
secret (no password, token or TOTP secret), so every field may be logged; a name that no user
has comes only as its hash (``core.users.UNKNOWN_NAME``), shown as such in both.
"""

from __future__ import annotations

import getpass
import logging
from collections.abc import Awaitable, Callable
from typing import Final

from watchfloor.core.audit import AuditEntry, AuditOutcome
from watchfloor.core.users import AuthEvent, AuthEventKind

__all__ = ["AUDIT_ACTIONS", "AuditedAuthEvents", "LoggedAuthEvents"]

_WARNINGS: Final = frozenset(
    {AuthEventKind.LOGIN_FAILED, AuthEventKind.LOGIN_RATE_LIMITED, AuthEventKind.ADMIN_REFUSED}
)


def _who(event: AuthEvent) -> str:
    if event.name_digest is None:
        return repr(event.subject)
    return f"{event.subject} sha256:{event.name_digest}"


class LoggedAuthEvents:
    """Implements ``core.users.AuthEvents`` by logging; failures at WARNING."""

    def __init__(self, logger: logging.Logger | None = None) -> None:
        self._logger = logger or logging.getLogger("watchfloor.auth")

    async def record(self, event: AuthEvent) -> None:
        """Log the event."""
        level = logging.WARNING if event.kind in _WARNINGS else logging.INFO
        self._logger.log(
            level,
            "auth: %s: user=%s actor=%s peer=%s%s",
            event.kind,
            _who(event),
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
    AuthEventKind.ADMIN_REFUSED: "access.denied",
}

_ANYONE: Final = frozenset({AuthEventKind.LOGIN_FAILED, AuthEventKind.LOGIN_RATE_LIMITED})
_REFUSED: Final = _ANYONE | {AuthEventKind.ADMIN_REFUSED}


class AuditedAuthEvents:
    """Implements ``core.users.AuthEvents`` by logging and appending an audit row each.

    Failed and rate-limited sign-ins, which anyone can cause, go to ``counted`` when given
    (``adapters.refusals``: repeats from one source become a count); everything else to
    ``append``. ``actor`` None means the subject themself (a login) or the command line
    (``via``). An
    attempt on a name no user has is ``anonymous``'s, with no target and the name's hash as
    the row's ``digest``, as a rejected token's is.
    """

    def __init__(
        self,
        inner: LoggedAuthEvents,
        append: Callable[[AuditEntry], Awaitable[object]],
        *,
        via: str,
        counted: Callable[[AuditEntry], Awaitable[object]] | None = None,
    ) -> None:
        self._inner = inner
        self._append = append
        self._via = via
        self._counted = counted or append

    async def record(self, event: AuthEvent) -> None:
        """Log the event and audit it."""
        await self._inner.record(event)
        known = event.name_digest is None
        subject = event.subject if known else "anonymous"
        actor = event.actor or (subject if self._via != "cli" else getpass.getuser())
        append = self._counted if event.kind in _ANYONE else self._append
        await append(
            AuditEntry(
                at=event.at,
                actor=actor,
                role=None,
                via=self._via,
                action=AUDIT_ACTIONS[event.kind],
                target=f"user:{event.subject}" if known else None,
                peer=event.peer,
                reason=event.detail or None,
                outcome=AuditOutcome.DENIED if event.kind in _REFUSED else AuditOutcome.OK,
                digest=event.name_digest,
            )
        )

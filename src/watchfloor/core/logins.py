"""Console sign-in: logins with password and TOTP, sessions and their ends, over ports.

A login is refused with one message whatever was wrong (unknown name, disabled user, wrong
password, wrong code), after the same argon2 work, so that the answer tells nothing about
which names exist. Failures count against the name as tried from the client's address,
which then waits longer after each further failure, and against the address across all names
(``core.throttle``); while a wait runs, attempts are refused before any password is checked.
Nothing counts against a name from everywhere: a guesser cannot lock the rightful user out,
who signs in from their own address as usual. Every outcome goes to ``AuthEvents``; a name that no user has is recorded only as its hash
(``core.users.UNKNOWN_NAME``), since people type passwords into the name field.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from watchfloor.core.audit import content_digest
from watchfloor.core.errors import NotFoundError
from watchfloor.core.ports import Clock
from watchfloor.core.principals import Principal
from watchfloor.core.throttle import FailureBackoff, FailureWindow, address_key
from watchfloor.core.users import (
    UNKNOWN_NAME,
    AuthEvent,
    AuthEventKind,
    AuthEvents,
    ConsoleSession,
    Credentials,
    LoginRefusedError,
    RateLimitedError,
    SecondFactorRequiredError,
    SessionPolicy,
    StoredUser,
    User,
    UserInputError,
    UserStore,
    check_password,
)

__all__ = ["SESSION_LABEL", "LoginResult", "Logins", "SessionPrincipal"]

#: The label a principal carries when it came through a console session, not a token.
SESSION_LABEL = "session"


@dataclass(frozen=True, slots=True, kw_only=True)
class SessionPrincipal:
    """The principal of a live console session, and when the session ends unless used."""

    principal: Principal
    session: ConsoleSession
    expires_at: datetime
    totp_enrolled: bool


@dataclass(frozen=True, slots=True, kw_only=True)
class LoginResult:
    """A new session: the token for the cookie (shown to nobody else) and its principal."""

    token: str
    signed_in: SessionPrincipal


@dataclass(frozen=True, slots=True, kw_only=True)
class Logins:
    """Sign-in, session checks, sign-out, and a user's own password and second factor."""

    store: UserStore
    credentials: Credentials
    clock: Clock
    policy: SessionPolicy
    events: AuthEvents
    #: Failures of one name from one address (see ``_attempt_key``): growing delays.
    by_name_and_address: FailureBackoff
    #: Failures from one address, whatever the name: a sliding window.
    by_address: FailureWindow

    async def login(
        self, *, name: str, password: str, code: str | None, peer: str | None
    ) -> LoginResult:
        """Open a console session for a user whose password (and TOTP code) are right.

        Raises:
            RateLimitedError: too many recent failures for this name from this address, or
                from this address.
            SecondFactorRequiredError: the password was right, the TOTP code is missing.
            LoginRefusedError: anything else was wrong (one message for all).
        """
        source = address_key(peer)
        attempt = _attempt_key(name, source)
        now = self.clock.monotonic()
        waits = [
            wait
            for wait in (
                self.by_name_and_address.retry_after(attempt, now),
                self.by_address.retry_after(source, now),
            )
            if wait is not None
        ]
        stored = await self.store.find_user(name.strip())
        if waits:
            await self._record(AuthEventKind.LOGIN_RATE_LIMITED, *_subject(name, stored), peer=peer)
            raise RateLimitedError(max(waits))
        usable = stored is not None and stored.user.active
        password_hash = stored.password_hash if stored is not None and usable else None
        if not await self.credentials.verify_password(password_hash, password) or stored is None:
            await self._refuse(stored, name, attempt, source, peer, "wrong name or password")
        assert stored is not None  # noqa: S101 - _refuse raised otherwise; for the type checker
        if stored.totp_secret is not None:
            if not code:
                raise SecondFactorRequiredError
            if not await self._code_is_good(stored, stored.totp_secret, code):
                await self._refuse(stored, name, attempt, source, peer, "wrong TOTP code")
        self.by_name_and_address.forget(attempt)
        if password_hash is not None and self.credentials.needs_rehash(password_hash):
            await self.store.set_password(
                stored.user.name, await self.credentials.hash_password(password)
            )
        token = self.credentials.new_token()
        session = await self.store.add_session(
            token=token, user=stored.user.name, now=self.clock.now(), peer=peer
        )
        await self._record(AuthEventKind.LOGIN_SUCCEEDED, stored.user.name, peer=peer)
        return LoginResult(token=token, signed_in=self._signed_in(stored.user, session))

    async def authenticate(self, token: str) -> SessionPrincipal | None:
        """Return the principal of a live session token, or None; records its use.

        An expired session is ended (once) so that it shows as ended from then on.
        """
        session = await self.store.find_session(token)
        if session is None or session.ended_at is not None:
            return None
        now = self.clock.now()
        if not self.policy.is_live(session, now):
            await self.store.end_session(session.id, now)
            await self._record(AuthEventKind.SESSION_EXPIRED, session.user, peer=session.peer)
            return None
        stored = await self.store.find_user(session.user)
        if stored is None or not stored.user.active:
            return None
        if self.policy.needs_touch(session, now):
            await self.store.touch_session(session.id, now)
            session = ConsoleSession(
                id=session.id,
                user=session.user,
                created_at=session.created_at,
                last_seen_at=now,
                peer=session.peer,
            )
        return self._signed_in(stored.user, session)

    async def logout(self, signed_in: SessionPrincipal, *, peer: str | None) -> None:
        """End this session. Idempotent."""
        await self.store.end_session(signed_in.session.id, self.clock.now())
        await self._record(AuthEventKind.LOGGED_OUT, signed_in.principal.user, peer=peer)

    async def end_all(self, user: str, *, peer: str | None) -> int:
        """End every session of the user (this one too); return how many ended."""
        ended = await self.store.end_sessions(user, self.clock.now())
        await self._record(AuthEventKind.SESSIONS_ENDED, user, peer=peer, detail=f"{ended}")
        return ended

    async def change_password(
        self, signed_in: SessionPrincipal, *, current: str, new: str, peer: str | None
    ) -> None:
        """Change one's own password; every other session of the user ends.

        Raises:
            LoginRefusedError: the current password is wrong.
            UserInputError: the new password breaks the policy.
        """
        name = signed_in.principal.user
        stored = await self.store.find_user(name)
        if stored is None or not await self.credentials.verify_password(
            stored.password_hash, current
        ):
            raise LoginRefusedError
        check_password(new, user=name)
        await self.store.set_password(name, await self.credentials.hash_password(new))
        await self.store.end_sessions(name, self.clock.now(), keep=signed_in.session.id)
        await self._record(AuthEventKind.PASSWORD_CHANGED, name, peer=peer)

    async def begin_totp(self, user: str) -> str:
        """Start enrolling a TOTP second factor: return the ``otpauth://`` URI, once.

        The secret stays pending (not required at login) until ``confirm_totp``; beginning
        again replaces a pending secret.

        Raises:
            UserInputError: a second factor is enrolled already (an admin resets it first).
        """
        stored = await self._stored(user)
        if stored.totp_secret is not None:
            raise UserInputError("totp", "a second factor is enrolled already")
        secret = self.credentials.new_totp_secret()
        await self.store.set_totp(user, secret=None, pending=secret)
        return self.credentials.totp_uri(secret, user=user)

    async def confirm_totp(self, user: str, code: str, *, peer: str | None) -> None:
        """Finish enrolling: the code proves the app has the secret; from now on it is required.

        Raises:
            UserInputError: nothing pending, or the code is wrong.
        """
        stored = await self._stored(user)
        if stored.totp_pending is None:
            raise UserInputError("code", "no enrolment is pending; begin one first")
        if not await self._code_is_good(stored, stored.totp_pending, code):
            raise UserInputError("code", "the code is wrong or was used already")
        await self.store.set_totp(user, secret=stored.totp_pending, pending=None)
        await self._record(AuthEventKind.TOTP_ENROLLED, user, peer=peer)

    async def _stored(self, user: str) -> StoredUser:
        stored = await self.store.find_user(user)
        if stored is None:
            raise NotFoundError(f"{user!r} is not a user (a token without an account)")
        return stored

    async def _code_is_good(self, stored: StoredUser, secret: str, code: str) -> bool:
        step = self.credentials.totp_step(secret, code.strip(), self.clock.now())
        return step is not None and await self.store.use_totp_step(stored.user.name, step)

    async def _refuse(
        self,
        stored: StoredUser | None,
        name: str,
        attempt: str,
        source: str,
        peer: str | None,
        why: str,
    ) -> None:
        now = self.clock.monotonic()
        self.by_name_and_address.fail(attempt, now)
        self.by_address.fail(source, now)
        await self._record(
            AuthEventKind.LOGIN_FAILED, *_subject(name, stored), peer=peer, detail=why
        )
        raise LoginRefusedError

    def _signed_in(self, user: User, session: ConsoleSession) -> SessionPrincipal:
        return SessionPrincipal(
            # The session's row id names it in the audit log (the token is the secret).
            principal=Principal(
                user=user.name, role=user.role, token_label=f"{SESSION_LABEL}:{session.id}"
            ),
            session=session,
            expires_at=self.policy.expires_at(session),
            totp_enrolled=user.totp_enrolled,
        )

    async def _record(
        self,
        kind: AuthEventKind,
        subject: str,
        name_digest: str | None = None,
        *,
        peer: str | None,
        detail: str = "",
    ) -> None:
        await self.events.record(
            AuthEvent(
                kind=kind,
                at=self.clock.now(),
                subject=subject,
                peer=peer,
                detail=detail,
                name_digest=name_digest,
            )
        )


def _subject(name: str, stored: StoredUser | None) -> tuple[str, str | None]:
    """Return the subject and name digest of an attempt: a user's name, or only a hash."""
    if stored is not None:
        return stored.user.name, None
    return UNKNOWN_NAME, content_digest(name.strip())


def _attempt_key(name: str, source: str) -> str:
    # A name as typed, from one source; an address key holds no tab.
    return f"{source}\t{name.strip().lower()}"

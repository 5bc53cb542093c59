"""Users of the console and the API: who they are, the rules their credentials follow, and ports.

Theory of operation. A user has a name, a role (``core.principals.Role``), a password (stored
only as an argon2 hash by the credentials adapter), and optionally a TOTP second factor. A
user signs in to the console with name, password and, once enrolled, a TOTP code; that opens
a console session: a random token in an HttpOnly cookie, stored only as its hash. A session
ends when its user logs out or ends all their sessions, when it was idle longer than
``SessionPolicy.idle``, or when it is older than ``SessionPolicy.absolute`` however active it
was. Automation uses API tokens instead: each belongs to a user and carries a role that may
not exceed the user's own (``may_grant``), is shown once and stored hashed.

Every outcome that matters for accountability (a login, a refusal, a token created or revoked,
a user changed) is an ``AuthEvent`` handed to one ``AuthEvents`` port, whichever door (API or
command line) it came through.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Final, Protocol

from watchfloor.core.errors import WatchfloorError
from watchfloor.core.principals import PERMISSIONS, Principal, Role

__all__ = [
    "MAX_PASSWORD",
    "MIN_PASSWORD",
    "UNKNOWN_NAME",
    "ApiToken",
    "AuthEvent",
    "AuthEventKind",
    "AuthEvents",
    "ConsoleSession",
    "Credentials",
    "LoginRefusedError",
    "RateLimitedError",
    "SecondFactorRequiredError",
    "SeparationOfDutiesError",
    "SessionPolicy",
    "StoredUser",
    "User",
    "UserDirectory",
    "UserInputError",
    "UserStore",
    "check_label",
    "check_password",
    "check_user_name",
    "may_grant",
]

MIN_PASSWORD: Final = 12
#: Long enough for any passphrase, short enough that hashing it is no denial of service.
MAX_PASSWORD: Final = 1024
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@-]{0,63}")
#: The subject of an event about a name no user has. What was typed may be a password typed
#: into the name field, so it is kept only as its SHA-256 (``AuthEvent.name_digest``).
UNKNOWN_NAME: Final = "(unknown name)"
_MAX_LABEL: Final = 100


class UserInputError(WatchfloorError):
    """A value given for a user, password or token breaks a rule; names the field."""

    def __init__(self, field_name: str, problem: str) -> None:
        super().__init__(f"{field_name}: {problem}")
        self.field = field_name
        self.problem = problem


class SeparationOfDutiesError(WatchfloorError):
    """An administrator asked through the API for what needs a second person or the server.

    Minting a token for another user would let one act as them, and making an auditor would
    let the administrators read the log of their own actions: those take the command line on
    the server (``watchfloor users`` / ``watchfloor tokens``).
    """


class LoginRefusedError(WatchfloorError):
    """Name, password or code is wrong; one message whichever it was (no user enumeration)."""

    def __init__(self) -> None:
        super().__init__("the name, password or code is wrong")


class SecondFactorRequiredError(WatchfloorError):
    """The password was right; the user has a TOTP second factor and sent no code."""

    def __init__(self) -> None:
        super().__init__("enter the code of your authenticator app")


class RateLimitedError(WatchfloorError):
    """Too many failed logins for this name or from this address; retry after the delay."""

    def __init__(self, retry_after: float) -> None:
        self.retry_after = max(1, round(retry_after + 0.5))
        super().__init__(f"too many failed attempts; try again in {self.retry_after} s")


@dataclass(frozen=True, slots=True, kw_only=True)
class User:
    """A person (or service) that may sign in; secrets are never part of this value."""

    name: str
    role: Role
    totp_enrolled: bool
    created_at: datetime
    disabled_at: datetime | None = None

    @property
    def active(self) -> bool:
        """Whether the user may sign in and use tokens."""
        return self.disabled_at is None


@dataclass(frozen=True, slots=True, kw_only=True)
class StoredUser:
    """A user with what verifying their credentials needs; never logged, never sent out."""

    user: User
    password_hash: str | None = field(repr=False)
    totp_secret: str | None = field(repr=False, default=None)
    totp_pending: str | None = field(repr=False, default=None)
    #: The TOTP time step last accepted: a code is good once (RFC 6238 §5.2).
    totp_last_step: int | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class ConsoleSession:
    """A console session as stored (its token is known only to the browser)."""

    id: int
    user: str
    created_at: datetime
    last_seen_at: datetime
    ended_at: datetime | None = None
    peer: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class ApiToken:
    """An API token as listed: never its value, which is shown once when created."""

    id: int
    user: str
    role: Role
    label: str
    created_at: datetime
    revoked_at: datetime | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class SessionPolicy:
    """When console sessions end on their own.

    Attributes:
        idle: a session not used for this long has ended.
        absolute: a session this old has ended, however active.
        touch_every: the last use is written at most this often (each write costs a commit);
            more often when the idle timeout is short, so that a session used more often
            than its idle timeout never ends (see ``needs_touch``).
    """

    idle: timedelta = timedelta(minutes=30)
    absolute: timedelta = timedelta(hours=12)
    touch_every: timedelta = timedelta(seconds=60)

    def expires_at(self, session: ConsoleSession) -> datetime:
        """Return when the session ends unless used again (never later than absolute)."""
        return min(session.last_seen_at + self.idle, session.created_at + self.absolute)

    def is_live(self, session: ConsoleSession, now: datetime) -> bool:
        """Return whether the session may still be used at ``now``."""
        return session.ended_at is None and now < self.expires_at(session)

    def needs_touch(self, session: ConsoleSession, now: datetime) -> bool:
        """Return whether its last use must be written now to keep the idle timeout honest.

        The idle timeout is thus enforced with a precision of ``touch_every``, or of a quarter
        of the idle timeout when that is shorter: with ``touch_every`` as long as the idle
        timeout, a session used every few seconds would still end, never having been touched.
        """
        return now - session.last_seen_at >= min(self.touch_every, self.idle / 4)


class AuthEventKind(StrEnum):
    """What happened, for the accountability record."""

    LOGIN_SUCCEEDED = "login succeeded"
    LOGIN_FAILED = "login failed"
    LOGIN_RATE_LIMITED = "login rate-limited"
    LOGGED_OUT = "logged out"
    SESSIONS_ENDED = "all sessions ended"
    SESSION_EXPIRED = "session expired"
    PASSWORD_CHANGED = "password changed"  # noqa: S105 - an event name
    TOTP_ENROLLED = "TOTP enrolled"
    TOTP_RESET = "TOTP reset"
    USER_CREATED = "user created"
    USER_CHANGED = "user changed"
    TOKEN_CREATED = "token created"  # noqa: S105 - an event name
    TOKEN_REVOKED = "token revoked"  # noqa: S105 - an event name
    ADMIN_REFUSED = "refused: separation of duties"


@dataclass(frozen=True, slots=True, kw_only=True)
class AuthEvent:
    """One authentication or account-management outcome; holds no secret.

    Attributes:
        kind: what happened.
        at: when.
        subject: the user name it concerns; ``UNKNOWN_NAME`` when no user has the name typed.
        actor: who did it (None: the subject themself, or nobody signed in).
        peer: the client address, when it came over the network.
        detail: short, secret-free facts (a role, a token label).
        name_digest: with ``UNKNOWN_NAME``, the SHA-256 of the name typed (never the name).
    """

    kind: AuthEventKind
    at: datetime
    subject: str
    actor: str | None = None
    peer: str | None = None
    detail: str = ""
    name_digest: str | None = None


class AuthEvents(Protocol):
    """The one place every authentication outcome goes (logs now, the audit log later)."""

    async def record(self, event: AuthEvent) -> None:
        """Record the event; it has happened already, whatever this does."""
        ...


class Credentials(Protocol):
    """Password hashing, TOTP and random tokens: the cryptography, kept out of the core."""

    async def hash_password(self, password: str) -> str:
        """Return the hash to store for a password (slow on purpose; off the event loop)."""
        ...

    async def verify_password(self, password_hash: str | None, password: str) -> bool:
        """Return whether the password matches; with no hash, take as long and return False."""
        ...

    def needs_rehash(self, password_hash: str) -> bool:
        """Return whether the hash was made with weaker parameters than today's."""
        ...

    def new_totp_secret(self) -> str:
        """Return a new random TOTP secret (base32)."""
        ...

    def totp_uri(self, secret: str, *, user: str) -> str:
        """Return the ``otpauth://`` URI an authenticator app enrols from."""
        ...

    def totp_step(self, secret: str, code: str, at: datetime) -> int | None:
        """Return the time step the code is valid for around ``at`` (None: not valid)."""
        ...

    def new_token(self) -> str:
        """Return a new random token (session or API)."""
        ...


class UserStore(Protocol):
    """Users, console sessions and API tokens as stored (``store.users.SqlUsers``).

    Tokens (session and API) are given by value and stored as their hash only.
    """

    async def add_user(
        self, *, name: str, role: Role, password_hash: str | None, now: datetime
    ) -> User:
        """Store a new user; ConflictError when the name is taken."""
        ...

    async def find_user(self, name: str) -> StoredUser | None:
        """Return the user with their credentials, or None."""
        ...

    async def list_users(self) -> list[User]:
        """Return every user, by name."""
        ...

    async def update_user(
        self, name: str, *, role: Role | None, disabled: bool | None, now: datetime
    ) -> User:
        """Change role or disabled state; NotFoundError when unknown."""
        ...

    async def set_password(self, name: str, password_hash: str) -> None:
        """Replace the password hash; NotFoundError when unknown."""
        ...

    async def set_totp(self, name: str, *, secret: str | None, pending: str | None) -> None:
        """Set the enrolled and the pending TOTP secret; NotFoundError when unknown."""
        ...

    async def use_totp_step(self, name: str, step: int) -> bool:
        """Record a TOTP step as used; False when it (or a later one) was used already."""
        ...

    async def add_session(
        self, *, token: str, user: str, now: datetime, peer: str | None
    ) -> ConsoleSession:
        """Store a new console session."""
        ...

    async def find_session(self, token: str) -> ConsoleSession | None:
        """Return the session of a token, ended or not, or None."""
        ...

    async def touch_session(self, session_id: int, now: datetime) -> None:
        """Record a use of the session."""
        ...

    async def end_session(self, session_id: int, now: datetime) -> None:
        """End one session (idempotent)."""
        ...

    async def end_sessions(self, user: str, now: datetime, *, keep: int | None = None) -> int:
        """End every open session of the user but ``keep``; return how many ended."""
        ...

    async def add_token(
        self, *, user: str, role: Role, label: str, token: str, now: datetime
    ) -> ApiToken:
        """Store a new API token."""
        ...

    async def list_tokens(self, user: str | None) -> list[ApiToken]:
        """Return the tokens (of one user, or all), revoked ones included."""
        ...

    async def revoke_token(self, token_id: int, now: datetime) -> ApiToken:
        """Revoke a token by id (idempotent); NotFoundError when unknown."""
        ...

    async def find_token(self, user: str, label: str) -> ApiToken | None:
        """Return the user's unrevoked token of that label, or None."""
        ...


class UserDirectory(Protocol):
    """What the API reads of users besides the use cases (``store.users.SqlUsers``)."""

    async def authenticate(self, token: str) -> Principal | None:
        """Return the principal of an unrevoked API token of an enabled user, or None."""
        ...

    async def count_users_by_role(self) -> dict[str, int]:
        """Return how many enabled users hold each role (roles without users are left out)."""
        ...


def check_user_name(name: str) -> str:
    """Return a valid user name, stripped.

    Raises:
        UserInputError: not 1-64 letters, digits, ``.``, ``_``, ``@`` or ``-`` starting with a
            letter or digit.
    """
    name = name.strip()
    if not _NAME.fullmatch(name):
        raise UserInputError(
            "name",
            f"{name!r} must be 1 to 64 letters, digits, '.', '_', '@' or '-', "
            "starting with a letter or digit",
        )
    return name


def check_password(password: str, *, user: str) -> str:
    """Return the password if it is acceptable.

    Length is what makes a password strong (NIST SP 800-63B §5.1.1.2): at least
    ``MIN_PASSWORD`` characters, no composition rules; never the user's name.

    Raises:
        UserInputError: too short, too long, or the user's name.
    """
    if len(password) < MIN_PASSWORD:
        raise UserInputError("password", f"must have at least {MIN_PASSWORD} characters")
    if len(password) > MAX_PASSWORD:
        raise UserInputError("password", f"must have at most {MAX_PASSWORD} characters")
    if password.strip().lower() == user.lower():
        raise UserInputError("password", "must not be the user name")
    return password


def check_label(label: str) -> str:
    """Return a token label, stripped.

    Raises:
        UserInputError: empty or longer than 100 characters.
    """
    label = label.strip()
    if not label or len(label) > _MAX_LABEL:
        raise UserInputError("name", f"a token label has 1 to {_MAX_LABEL} characters")
    return label


def may_grant(user_role: Role, token_role: Role) -> bool:
    """Return whether a user of ``user_role`` may hold a token of ``token_role``.

    A token's role may not exceed its user's: everything it permits, the user may do.
    """
    return PERMISSIONS[token_role] <= PERMISSIONS[user_role]

"""The JSON shapes of sign-in, sessions, users and API tokens; no secret is ever an output field.

The only secrets that leave the server are the ones shown once on purpose: a new API token's
value (``TokenCreatedOut.token``) and a TOTP enrolment's ``otpauth_uri``.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from watchfloor.core.logins import SessionPrincipal
from watchfloor.core.principals import PERMISSIONS, Principal, Role
from watchfloor.core.user_admin import CreatedToken
from watchfloor.core.users import MAX_PASSWORD, ApiToken, User

__all__ = [
    "LoginIn",
    "MeOut",
    "PasswordChangeIn",
    "TokenCreatedOut",
    "TokenIn",
    "TokenList",
    "TokenOut",
    "TotpIn",
    "TotpOut",
    "UserChange",
    "UserIn",
    "UserList",
    "UserOut",
]

_Name = Annotated[str, StringConstraints(min_length=1, max_length=200)]
_Password = Annotated[str, StringConstraints(min_length=1, max_length=MAX_PASSWORD)]
_Code = Annotated[str, StringConstraints(max_length=16)]


class LoginIn(BaseModel):
    """A console sign-in: the code only once the user has enrolled a second factor."""

    model_config = ConfigDict(extra="forbid")

    name: _Name
    password: _Password
    code: _Code | None = Field(default=None, description="TOTP code (6 digits)")


class MeOut(BaseModel):
    """Who the request runs as, what they may do, and (for a session) its CSRF token."""

    user: str
    role: Role
    permissions: list[str]
    via: str = Field(description="'session' or 'token'")
    expires_at: datetime | None = Field(
        default=None, description="when the session ends unless used (sessions only)"
    )
    csrf_token: str | None = Field(
        default=None, description="send as X-CSRF-Token with every unsafe request"
    )
    totp_enrolled: bool | None = Field(
        default=None, description="whether sign-in asks for a TOTP code (sessions only)"
    )
    idle_seconds: float | None = Field(
        default=None,
        description="inactivity after which the session ends unless used, and after which "
        "the console locks (sessions only)",
    )

    @classmethod
    def of(cls, principal: Principal) -> MeOut:
        """Build from a principal that came with a token."""
        return cls(
            user=principal.user,
            role=principal.role,
            permissions=sorted(p.name.lower() for p in PERMISSIONS[principal.role]),
            via="token",
        )

    @classmethod
    def of_session(cls, signed_in: SessionPrincipal, *, csrf_token: str, idle: timedelta) -> MeOut:
        """Build from a console session, with its CSRF token and the idle timeout in force."""
        return cls.of(signed_in.principal).model_copy(
            update={
                "via": "session",
                "expires_at": signed_in.expires_at,
                "csrf_token": csrf_token,
                "totp_enrolled": signed_in.totp_enrolled,
                "idle_seconds": idle.total_seconds(),
            }
        )


class PasswordChangeIn(BaseModel):
    """A change of one's own password."""

    model_config = ConfigDict(extra="forbid")

    current: _Password
    new: _Password


class TotpIn(BaseModel):
    """No code: begin enrolling (returns the URI); a code: confirm the enrolment."""

    model_config = ConfigDict(extra="forbid")

    code: _Code | None = None


class TotpOut(BaseModel):
    """The enrolment's state; the URI only when an enrolment begins."""

    enrolled: bool
    otpauth_uri: str | None = None


class UserIn(BaseModel):
    """A new user; without a password the user can hold tokens but not sign in."""

    model_config = ConfigDict(extra="forbid")

    name: _Name
    role: Role
    password: _Password | None = None


class UserChange(BaseModel):
    """A change to a user; absent fields stay as they are."""

    model_config = ConfigDict(extra="forbid")

    role: Role | None = None
    disabled: bool | None = None
    password: _Password | None = Field(default=None, description="reset the password")
    reset_totp: bool = Field(default=False, description="remove the second factor")


class UserOut(BaseModel):
    """A user, without any secret."""

    name: str
    role: Role
    totp_enrolled: bool
    created_at: datetime
    disabled_at: datetime | None

    @classmethod
    def of(cls, user: User) -> UserOut:
        """Build from a core user."""
        return cls(
            name=user.name,
            role=user.role,
            totp_enrolled=user.totp_enrolled,
            created_at=user.created_at,
            disabled_at=user.disabled_at,
        )


class UserList(BaseModel):
    """Users by name."""

    items: list[UserOut]


class TokenIn(BaseModel):
    """A new API token: its label, and a role no higher than the user's (default: theirs)."""

    model_config = ConfigDict(extra="forbid")

    name: _Name = Field(description="the token's label")
    role: Role | None = None


class TokenOut(BaseModel):
    """An API token as listed: never its value."""

    id: int
    user: str
    role: Role
    name: str
    created_at: datetime
    revoked_at: datetime | None

    @classmethod
    def of(cls, token: ApiToken) -> TokenOut:
        """Build from a core token."""
        return cls(
            id=token.id,
            user=token.user,
            role=token.role,
            name=token.label,
            created_at=token.created_at,
            revoked_at=token.revoked_at,
        )


class TokenCreatedOut(TokenOut):
    """A new API token with its value, shown this once."""

    token: str

    @classmethod
    def of_created(cls, created: CreatedToken) -> TokenCreatedOut:
        """Build from a created token."""
        return cls(**TokenOut.of(created.token).model_dump(), token=created.value)


class TokenList(BaseModel):
    """Tokens, oldest first."""

    items: list[TokenOut]

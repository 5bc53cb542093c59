"""Managing users and API tokens: the use cases behind ``/api/users`` and ``watchfloor users``.

Both doors (API and command line) go through ``UserAdmin``, so that the rules (valid names,
the password policy, a token's role never above its user's) and the ``AuthEvents`` record are
the same whichever was used. ``actor`` names who acted: a user for the API, ``None`` for the
command line, which runs with the database's own rights.

Separation of duties: two things one administrator must not do alone, because they would let
them act as someone else or read the record of their own actions, are refused through the
API (``SeparationOfDutiesError``, audited with both names) and left to the command line on
the server: creating a token for another user, and granting the auditor role.
"""

from __future__ import annotations

from dataclasses import dataclass

from watchfloor.core.errors import ConflictError, NotFoundError
from watchfloor.core.ports import Clock
from watchfloor.core.principals import Role
from watchfloor.core.users import (
    ApiToken,
    AuthEvent,
    AuthEventKind,
    AuthEvents,
    Credentials,
    SeparationOfDutiesError,
    User,
    UserInputError,
    UserStore,
    check_label,
    check_password,
    check_user_name,
    may_grant,
)

__all__ = ["CreatedToken", "UserAdmin"]


@dataclass(frozen=True, slots=True, kw_only=True)
class CreatedToken:
    """A new API token: its value, to be shown this once, and its listing."""

    value: str
    token: ApiToken


@dataclass(frozen=True, slots=True, kw_only=True)
class UserAdmin:
    """Users and their API tokens, as administrators manage them."""

    store: UserStore
    credentials: Credentials
    clock: Clock
    events: AuthEvents

    async def add_user(
        self, *, name: str, role: Role, password: str | None, actor: str | None
    ) -> User:
        """Create a user; without a password they can use tokens but not sign in.

        Raises:
            UserInputError: the name or password breaks the rules.
            ConflictError: the name is taken.
            SeparationOfDutiesError: an auditor made through the API (``actor`` given).
        """
        name = check_user_name(name)
        await self.check_grant(name, role, actor=actor)
        password_hash = (
            None
            if password is None
            else await self.credentials.hash_password(check_password(password, user=name))
        )
        user = await self.store.add_user(
            name=name, role=role, password_hash=password_hash, now=self.clock.now()
        )
        await self._record(AuthEventKind.USER_CREATED, name, actor, f"role {role}")
        return user

    async def list_users(self) -> list[User]:
        """Return every user, by name."""
        return await self.store.list_users()

    async def update_user(
        self, name: str, *, role: Role | None, disabled: bool | None, actor: str | None
    ) -> User:
        """Change a user's role or disable/enable them.

        Lowering the role revokes the user's tokens whose role now exceeds it; disabling ends
        their sessions (their tokens stop working while disabled).

        Raises:
            NotFoundError: no such user.
            SeparationOfDutiesError: the auditor role granted through the API.
        """
        if role is not None:
            await self.check_grant(name, role, actor=actor)
        now = self.clock.now()
        user = await self.store.update_user(name, role=role, disabled=disabled, now=now)
        changes = []
        if role is not None:
            changes.append(f"role {role}")
            for token in await self.store.list_tokens(name):
                if token.revoked_at is None and not may_grant(role, token.role):
                    await self.store.revoke_token(token.id, now)
                    await self._token_revoked(token, actor)
        if disabled is not None:
            changes.append("disabled" if disabled else "enabled")
            if disabled:
                await self.store.end_sessions(name, now)
        await self._record(AuthEventKind.USER_CHANGED, name, actor, ", ".join(changes))
        return user

    async def set_password(self, name: str, password: str, *, actor: str | None) -> None:
        """Set a user's password (a reset); their sessions end.

        Raises:
            UserInputError: the password breaks the policy.
            NotFoundError: no such user.
        """
        check_password(password, user=name)
        await self.store.set_password(name, await self.credentials.hash_password(password))
        await self.store.end_sessions(name, self.clock.now())
        await self._record(AuthEventKind.PASSWORD_CHANGED, name, actor, "reset")

    async def reset_totp(self, name: str, *, actor: str | None) -> None:
        """Remove a user's second factor (a lost phone); they may enrol again.

        Raises:
            NotFoundError: no such user.
        """
        await self.store.set_totp(name, secret=None, pending=None)
        await self._record(AuthEventKind.TOTP_RESET, name, actor)

    async def create_token(
        self, *, user: str, label: str, role: Role | None, actor: str | None
    ) -> CreatedToken:
        """Create an API token for a user, with the user's role or a lesser one.

        Raises:
            NotFoundError: no such user.
            UserInputError: the label is invalid, the role exceeds the user's, or the user
                is disabled.
            ConflictError: the user has an unrevoked token of that label.
            SeparationOfDutiesError: a token for another user asked through the API.
        """
        label = check_label(label)
        if actor is not None and actor != user:
            await self._refuse(
                user,
                actor,
                f"a token for {user!r} is created on the server (watchfloor tokens create); "
                "an API token for another user would let its maker act as them",
            )
        stored = await self.store.find_user(user)
        if stored is None:
            raise NotFoundError(f"user {user!r} does not exist")
        if not stored.user.active:
            raise UserInputError("user", f"{user!r} is disabled")
        token_role = role or stored.user.role
        if not may_grant(stored.user.role, token_role):
            raise UserInputError(
                "role", f"{token_role} exceeds the {stored.user.role} role of {user!r}"
            )
        if await self.store.find_token(user, label) is not None:
            raise ConflictError(f"{user!r} has a token named {label!r} already")
        value = self.credentials.new_token()
        token = await self.store.add_token(
            user=user, role=token_role, label=label, token=value, now=self.clock.now()
        )
        await self._record(
            AuthEventKind.TOKEN_CREATED, user, actor, f"token {token.id} {label!r} {token_role}"
        )
        return CreatedToken(value=value, token=token)

    async def list_tokens(self, user: str | None) -> list[ApiToken]:
        """Return the tokens of one user or of everyone, never their values."""
        return await self.store.list_tokens(user)

    async def revoke_token(self, token_id: int, *, actor: str | None) -> ApiToken:
        """Revoke a token by id. Idempotent (the first revocation time stays).

        Raises:
            NotFoundError: no such token.
        """
        token = await self.store.revoke_token(token_id, self.clock.now())
        await self._token_revoked(token, actor)
        return token

    async def revoke_token_named(self, *, user: str, label: str, actor: str | None) -> ApiToken:
        """Revoke the user's unrevoked token of that label.

        Raises:
            NotFoundError: the user has no such token.
        """
        token = await self.store.find_token(user, label)
        if token is None:
            raise NotFoundError(f"{user!r} has no unrevoked token named {label!r}")
        return await self.revoke_token(token.id, actor=actor)

    async def check_grant(self, name: str, role: Role, *, actor: str | None) -> None:
        """Refuse (and record) giving ``name`` this role when the actor may not do it alone.

        Raises:
            SeparationOfDutiesError: the auditor role, asked through the API.
        """
        if actor is not None and role is Role.AUDITOR:
            await self._refuse(
                name,
                actor,
                "the auditor role is granted on the server (watchfloor users); administrators "
                "do not choose who audits them",
            )

    async def _refuse(self, subject: str, actor: str, why: str) -> None:
        """Record the refusal with both names, then raise it."""
        await self._record(AuthEventKind.ADMIN_REFUSED, subject, actor, why)
        raise SeparationOfDutiesError(why)

    async def _token_revoked(self, token: ApiToken, actor: str | None) -> None:
        await self._record(
            AuthEventKind.TOKEN_REVOKED, token.user, actor, f"token {token.id} {token.label!r}"
        )

    async def _record(
        self, kind: AuthEventKind, subject: str, actor: str | None, detail: str = ""
    ) -> None:
        await self.events.record(
            AuthEvent(kind=kind, at=self.clock.now(), subject=subject, actor=actor, detail=detail)
        )

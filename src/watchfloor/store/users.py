"""The SQL implementation of the core's UserStore port: users, console sessions, API tokens."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Row, Select, func, insert, select, union, update
from sqlalchemy.ext.asyncio import AsyncEngine

from watchfloor.core.errors import ConflictError, NotFoundError
from watchfloor.core.ports import Clock
from watchfloor.core.principals import Principal, Role
from watchfloor.core.users import ApiToken, ConsoleSession, StoredUser, User
from watchfloor.store._errors import translate_errors
from watchfloor.store._rows import token_hash
from watchfloor.store.database import insert_ignoring_conflicts, write_transaction
from watchfloor.store.tables import api_tokens, console_sessions, users

__all__ = ["SqlUsers"]


class SqlUsers:
    """Users, sessions and tokens on SQLite or PostgreSQL (``core.users.UserStore``).

    Every method runs in its own short transaction and translates driver errors: a violated
    uniqueness becomes ConflictError, any other database failure StoreUnavailableError.
    Cancelling a call rolls its transaction back. Session and API tokens are stored as their
    sha256 only, and looked up by it. Besides the port: the bootstrap token
    (``ensure_token``), authenticating an API token, and the counts of the transparency
    register.
    """

    def __init__(self, engine: AsyncEngine, clock: Clock) -> None:
        self._engine = engine
        # Only for ``ensure_token``; the port's methods are given the time by the core.
        self._clock = clock

    async def add_user(
        self, *, name: str, role: Role, password_hash: str | None, now: datetime
    ) -> User:
        """Store a new user.

        Raises:
            ConflictError: a user of that name exists.
            StoreUnavailableError: the database could not be written.
        """
        with translate_errors("add a user"):
            async with write_transaction(self._engine) as connection:
                taken = await connection.execute(select(users.c.id).where(users.c.name == name))
                if taken.first() is not None:
                    raise ConflictError(f"user {name!r} exists already")
                await connection.execute(
                    insert(users).values(
                        name=name, role=role.value, password_hash=password_hash, created_at=now
                    )
                )
        return User(name=name, role=role, totp_enrolled=False, created_at=now)

    async def find_user(self, name: str) -> StoredUser | None:
        """Return the user with their credentials, or None.

        Raises:
            StoreUnavailableError: the database could not be read.
        """
        rows = await self._read(select(users).where(users.c.name == name))
        if not rows:
            return None
        row = rows[0]
        return StoredUser(
            user=_user(row),
            password_hash=row.password_hash,
            totp_secret=row.totp_secret,
            totp_pending=row.totp_pending,
            totp_last_step=row.totp_last_step,
        )

    async def list_users(self) -> list[User]:
        """Return every user, by name.

        Raises:
            StoreUnavailableError: the database could not be read.
        """
        return [_user(row) for row in await self._read(select(users).order_by(users.c.name))]

    async def update_user(
        self, name: str, *, role: Role | None, disabled: bool | None, now: datetime
    ) -> User:
        """Change the role and/or the disabled state; None leaves it. Idempotent.

        Disabling a disabled user keeps the first time.

        Raises:
            NotFoundError: no such user.
            StoreUnavailableError: the database could not be written.
        """
        values: dict[str, object] = {}
        if role is not None:
            values["role"] = role.value
        if disabled is True:
            values["disabled_at"] = func.coalesce(users.c.disabled_at, now)
        elif disabled is False:
            values["disabled_at"] = None
        with translate_errors("change a user"):
            async with write_transaction(self._engine) as connection:
                if values:
                    await connection.execute(
                        update(users).where(users.c.name == name).values(**values)
                    )
                row = (await connection.execute(select(users).where(users.c.name == name))).first()
        if row is None:
            raise NotFoundError(f"user {name!r} does not exist")
        return _user(row)

    async def set_password(self, name: str, password_hash: str) -> None:
        """Replace a user's password hash.

        Raises:
            NotFoundError: no such user.
            StoreUnavailableError: the database could not be written.
        """
        await self._update_user(name, "set a password", password_hash=password_hash)

    async def set_totp(self, name: str, *, secret: str | None, pending: str | None) -> None:
        """Set the enrolled and the pending TOTP secrets (None removes).

        Raises:
            NotFoundError: no such user.
            StoreUnavailableError: the database could not be written.
        """
        await self._update_user(name, "set TOTP", totp_secret=secret, totp_pending=pending)

    async def use_totp_step(self, name: str, step: int) -> bool:
        """Record a TOTP time step as used, only if it is later than the last one used.

        A compare-and-set, so that of two logins racing with one code at most one wins.

        Returns:
            Whether the step was recorded (False: it or a later one was used already).

        Raises:
            StoreUnavailableError: the database could not be written.
        """
        with translate_errors("use a TOTP code"):
            async with write_transaction(self._engine) as connection:
                result = await connection.execute(
                    update(users)
                    .where(
                        users.c.name == name,
                        (users.c.totp_last_step.is_(None)) | (users.c.totp_last_step < step),
                    )
                    .values(totp_last_step=step)
                )
                return bool(result.rowcount)

    async def add_session(
        self, *, token: str, user: str, now: datetime, peer: str | None
    ) -> ConsoleSession:
        """Store a new console session for a session token.

        Raises:
            ConflictError: the user does not exist (or, never in practice, the token does).
            StoreUnavailableError: the database could not be written.
        """
        with translate_errors("open a session"):
            async with write_transaction(self._engine) as connection:
                result = await connection.execute(
                    insert(console_sessions)
                    .values(
                        token_hash=token_hash(token),
                        user_name=user,
                        created_at=now,
                        last_seen_at=now,
                        peer=peer,
                    )
                    .returning(console_sessions.c.id)
                )
                session_id: int = result.scalar_one()
        return ConsoleSession(id=session_id, user=user, created_at=now, last_seen_at=now, peer=peer)

    async def find_session(self, token: str) -> ConsoleSession | None:
        """Return the session of a token, ended or not, or None.

        Raises:
            StoreUnavailableError: the database could not be read.
        """
        rows = await self._read(
            select(console_sessions).where(console_sessions.c.token_hash == token_hash(token))
        )
        if not rows:
            return None
        row = rows[0]
        return ConsoleSession(
            id=row.id,
            user=row.user_name,
            created_at=row.created_at,
            last_seen_at=row.last_seen_at,
            ended_at=row.ended_at,
            peer=row.peer,
        )

    async def touch_session(self, session_id: int, now: datetime) -> None:
        """Record a use of the session (its last use never moves back).

        Raises:
            StoreUnavailableError: the database could not be written.
        """
        await self._update_sessions(
            "record a session's use",
            (console_sessions.c.id == session_id, console_sessions.c.last_seen_at < now),
            last_seen_at=now,
        )

    async def end_session(self, session_id: int, now: datetime) -> None:
        """End one session. Idempotent: an ended session keeps its first end.

        Raises:
            StoreUnavailableError: the database could not be written.
        """
        await self._update_sessions(
            "end a session", (console_sessions.c.id == session_id,), ended_at=now
        )

    async def end_sessions(self, user: str, now: datetime, *, keep: int | None = None) -> int:
        """End every open session of the user except ``keep``.

        Returns:
            How many sessions ended.

        Raises:
            StoreUnavailableError: the database could not be written.
        """
        conditions = [console_sessions.c.user_name == user]
        if keep is not None:
            conditions.append(console_sessions.c.id != keep)
        return await self._update_sessions("end sessions", tuple(conditions), ended_at=now)

    async def add_token(
        self, *, user: str, role: Role, label: str, token: str, now: datetime
    ) -> ApiToken:
        """Store a new API token for a token value.

        Raises:
            ConflictError: the token value exists (never in practice).
            StoreUnavailableError: the database could not be written.
        """
        with translate_errors("store an API token"):
            async with write_transaction(self._engine) as connection:
                result = await connection.execute(
                    insert(api_tokens)
                    .values(
                        user_name=user,
                        role=role.value,
                        label=label,
                        token_hash=token_hash(token),
                        created_at=now,
                    )
                    .returning(api_tokens.c.id)
                )
                token_id: int = result.scalar_one()
        return ApiToken(id=token_id, user=user, role=role, label=label, created_at=now)

    async def list_tokens(self, user: str | None) -> list[ApiToken]:
        """Return the tokens of one user (or all), revoked ones included, oldest first.

        Raises:
            StoreUnavailableError: the database could not be read.
        """
        query = _select_tokens().order_by(api_tokens.c.id)
        if user is not None:
            query = query.where(api_tokens.c.user_name == user)
        return [_token(row) for row in await self._read(query)]

    async def find_token(self, user: str, label: str) -> ApiToken | None:
        """Return the user's unrevoked token of that label (the newest), or None.

        Raises:
            StoreUnavailableError: the database could not be read.
        """
        rows = await self._read(
            _select_tokens()
            .where(
                api_tokens.c.user_name == user,
                api_tokens.c.label == label,
                api_tokens.c.revoked_at.is_(None),
            )
            .order_by(api_tokens.c.id.desc())
            .limit(1)
        )
        return _token(rows[0]) if rows else None

    async def revoke_token(self, token_id: int, now: datetime) -> ApiToken:
        """Revoke a token by id. Idempotent: a revoked token keeps its first revocation time.

        Raises:
            NotFoundError: no such token.
            StoreUnavailableError: the database could not be written.
        """
        with translate_errors("revoke an API token"):
            async with write_transaction(self._engine) as connection:
                await connection.execute(
                    update(api_tokens)
                    .where(api_tokens.c.id == token_id, api_tokens.c.revoked_at.is_(None))
                    .values(revoked_at=now)
                )
                row = (
                    await connection.execute(_select_tokens().where(api_tokens.c.id == token_id))
                ).first()
        if row is None:
            raise NotFoundError(f"token {token_id} does not exist")
        return _token(row)

    async def ensure_token(self, *, user: str, role: Role, label: str, token: str) -> None:
        """Make sure an API token with this value exists for the user.

        Idempotent: a token that exists already is left as it is, including its role, label
        and a revocation (a restart with the same bootstrap token must not undo a revoke).

        Raises:
            ConflictError: the token exists for another user.
            StoreUnavailableError: the database could not be written.
        """
        digest = token_hash(token)
        now = self._clock.now()
        with translate_errors("store an API token"):
            async with write_transaction(self._engine) as connection:
                await connection.execute(
                    insert_ignoring_conflicts(connection, api_tokens).values(
                        user_name=user,
                        role=role.value,
                        label=label,
                        token_hash=digest,
                        created_at=now,
                    )
                )
                owner = (
                    await connection.execute(
                        select(api_tokens.c.user_name).where(api_tokens.c.token_hash == digest)
                    )
                ).scalar_one()
                if owner != user:
                    raise ConflictError("this token value belongs to another user")

    async def count_tokens(self) -> int:
        """Return how many unrevoked API tokens exist.

        Raises:
            StoreUnavailableError: the database could not be read.
        """
        query = (
            select(func.count()).select_from(api_tokens).where(api_tokens.c.revoked_at.is_(None))
        )
        rows = await self._read(query)
        count: int = rows[0][0]
        return count

    async def count_users_by_role(self) -> dict[str, int]:
        """Return how many enabled users hold each role (and users known by a token only).

        Raises:
            StoreUnavailableError: the database could not be read.
        """
        # People with an account, and those known by a token only (the bootstrap admin).
        accounts = select(users.c.name, users.c.role).where(users.c.disabled_at.is_(None))
        token_only = select(api_tokens.c.user_name, api_tokens.c.role).where(
            api_tokens.c.revoked_at.is_(None), api_tokens.c.user_name.not_in(select(users.c.name))
        )
        everyone = union(accounts, token_only).subquery()
        rows = await self._read(
            select(everyone.c.role, func.count())
            .group_by(everyone.c.role)
            .order_by(everyone.c.role)
        )
        return {row[0]: int(row[1]) for row in rows}

    async def authenticate(self, token: str) -> Principal | None:
        """Return the principal of an unrevoked token of an enabled user, or None.

        Tokens are compared by their sha256, so the stored hashes reveal nothing usable and
        the lookup's timing depends on the hash, not on how much of a guess was right.

        Raises:
            StoreUnavailableError: the database could not be read.
        """
        # A token of a disabled user is refused; tokens of names without a user row (the
        # bootstrap admin) stand on their own.
        query = (
            select(api_tokens.c.user_name, api_tokens.c.role, api_tokens.c.label)
            .outerjoin(users, users.c.name == api_tokens.c.user_name)
            .where(
                api_tokens.c.token_hash == token_hash(token),
                api_tokens.c.revoked_at.is_(None),
                users.c.disabled_at.is_(None),
            )
        )
        rows = await self._read(query)
        if not rows:
            return None
        row = rows[0]
        return Principal(user=row.user_name, role=Role(row.role), token_label=row.label)

    async def _update_user(self, name: str, action: str, **values: object) -> None:
        with translate_errors(action):
            async with write_transaction(self._engine) as connection:
                result = await connection.execute(
                    update(users).where(users.c.name == name).values(**values)
                )
        if not result.rowcount:
            raise NotFoundError(f"user {name!r} does not exist")

    async def _update_sessions(
        self, action: str, conditions: tuple[Any, ...], **values: object
    ) -> int:
        with translate_errors(action):
            async with write_transaction(self._engine) as connection:
                result = await connection.execute(
                    update(console_sessions)
                    .where(*conditions, console_sessions.c.ended_at.is_(None))
                    .values(**values)
                )
                return int(result.rowcount)

    async def _read(self, query: Select[Any]) -> list[Row[Any]]:
        with translate_errors("read the store"):
            async with self._engine.connect() as connection:
                return list(await connection.execute(query))


def _user(row: Row[Any]) -> User:
    return User(
        name=row.name,
        role=Role(row.role),
        totp_enrolled=row.totp_secret is not None,
        created_at=row.created_at,
        disabled_at=row.disabled_at,
    )


def _select_tokens() -> Select[Any]:
    return select(
        api_tokens.c.id,
        api_tokens.c.user_name,
        api_tokens.c.role,
        api_tokens.c.label,
        api_tokens.c.created_at,
        api_tokens.c.revoked_at,
    )


def _token(row: Row[Any]) -> ApiToken:
    return ApiToken(
        id=row.id,
        user=row.user_name,
        role=Role(row.role),
        label=row.label,
        created_at=row.created_at,
        revoked_at=row.revoked_at,
    )

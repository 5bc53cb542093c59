"""The SQL implementation of the core's Repository port: reads and administrative writes."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Final

from sqlalchemy import Select, Table, func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from watchfloor.core.alarms import Alarm, AlarmState
from watchfloor.core.devices import Device, DeviceKind
from watchfloor.core.errors import ConflictError, NotFoundError, StoreUnavailableError
from watchfloor.core.ports import AlarmDetail, Clock
from watchfloor.core.principals import Principal, Role
from watchfloor.core.signals import SignalRecord
from watchfloor.store._errors import translate_errors
from watchfloor.store._rows import (
    alarm_from_row,
    device_from_row,
    select_devices,
    signal_record_from_row,
    timeline_from_row,
    token_hash,
)
from watchfloor.store.database import write_transaction
from watchfloor.store.tables import (
    alarm_timeline,
    alarms,
    api_tokens,
    devices,
    signals,
    sites,
    store_health,
)

__all__ = ["SqlRepository"]

_HEALTH_ROW: Final = 1


class SqlRepository:
    """Reads and administrative writes on SQLite or PostgreSQL (``core.ports.Repository``).

    Every method runs in its own short transaction and translates driver errors: a violated
    uniqueness becomes ConflictError, any other database failure StoreUnavailableError.
    Cancelling a call rolls its transaction back. The intake path (signals and the alarms
    they raise) is ``GroupCommitWriter``'s.
    """

    def __init__(self, engine: AsyncEngine, clock: Clock) -> None:
        self._engine = engine
        self._clock = clock

    async def check_writable(self) -> None:
        """Write the health row in a transaction of its own.

        On SQLite this takes the database's write lock, so a store that another process
        holds locked past the busy timeout is reported unavailable too. Idempotent.

        Raises:
            StoreUnavailableError: the write did not commit.
        """
        now = self._clock.now()
        with translate_errors("write the health row"):
            async with write_transaction(self._engine) as connection:
                result = await connection.execute(
                    update(store_health)
                    .where(store_health.c.id == _HEALTH_ROW)
                    .values(checked_at=now)
                )
                if result.rowcount == 0:
                    await connection.execute(
                        _insert_ignoring_conflicts(connection, store_health).values(
                            id=_HEALTH_ROW, checked_at=now
                        )
                    )

    async def list_alarms(
        self, *, state: AlarmState | None, limit: int, after: int | None
    ) -> list[Alarm]:
        """Return alarms newest first (highest id first), those with id < ``after`` if given.

        Raises:
            StoreUnavailableError: the database could not be read.
        """
        query = select(alarms).order_by(alarms.c.id.desc()).limit(limit)
        if state is not None:
            query = query.where(alarms.c.state == state.value)
        if after is not None:
            query = query.where(alarms.c.id < after)
        rows = await self._read(query)
        return [alarm_from_row(row) for row in rows]

    async def get_alarm(self, alarm_id: int) -> AlarmDetail:
        """Return an alarm with its signals and timeline, each oldest first.

        Raises:
            NotFoundError: there is no alarm with this id.
            StoreUnavailableError: the database could not be read.
        """
        with translate_errors("read an alarm"):
            async with self._engine.connect() as connection, connection.begin():
                # One transaction, so that the three reads see one state on PostgreSQL too.
                alarm_row = (
                    await connection.execute(select(alarms).where(alarms.c.id == alarm_id))
                ).first()
                if alarm_row is None:
                    raise NotFoundError(f"no alarm {alarm_id}")
                signal_rows = await connection.execute(
                    select(signals).where(signals.c.alarm_id == alarm_id).order_by(signals.c.id)
                )
                timeline_rows = await connection.execute(
                    select(alarm_timeline)
                    .where(alarm_timeline.c.alarm_id == alarm_id)
                    .order_by(alarm_timeline.c.id)
                )
                return AlarmDetail(
                    alarm=alarm_from_row(alarm_row),
                    signals=tuple(signal_record_from_row(row) for row in signal_rows),
                    timeline=tuple(timeline_from_row(row) for row in timeline_rows),
                )

    async def list_signals(
        self, *, device: str | None, alarm_id: int | None, limit: int, after: int | None
    ) -> list[SignalRecord]:
        """Return signals newest first, filtered by device key and/or alarm.

        Args:
            device: the device key as the source names itself (``Signal.device``).
            alarm_id: only the signals that joined this alarm.
            limit: at most this many.
            after: only those with an id lower than this (the previous page's last id).

        Raises:
            StoreUnavailableError: the database could not be read.
        """
        query = select(signals).order_by(signals.c.id.desc()).limit(limit)
        if device is not None:
            query = query.where(signals.c.device == device)
        if alarm_id is not None:
            query = query.where(signals.c.alarm_id == alarm_id)
        if after is not None:
            query = query.where(signals.c.id < after)
        rows = await self._read(query)
        return [signal_record_from_row(row) for row in rows]

    async def add_account(
        self, *, account: str, site: str | None, key: bytes | None, name: str | None = None
    ) -> Device:
        """Register a DC-09 transmitter, creating its site by name if new.

        Args:
            account: the DC-09 account number.
            site: the site's name; created if no site has it.
            key: the AES key (16, 24 or 32 bytes), or None for unencrypted traffic.
            name: the device's display name; the account number when omitted.

        Returns:
            The registered device.

        Raises:
            ConflictError: the account (or a DC-09 device of that name) is registered
                already. Not idempotent on purpose: registering twice is an operator error.
            StoreUnavailableError: the database could not be written. Nothing was stored.
        """
        now = self._clock.now()
        with translate_errors(f"register account {account}"):
            async with write_transaction(self._engine) as connection:
                existing = await _find_account(connection, account)
                if existing is not None:
                    raise ConflictError(f"account {account} is registered already")
                site_id = None if site is None else await _ensure_site(connection, site, now)
                result = await connection.execute(
                    devices.insert().values(
                        kind=DeviceKind.DC09.value,
                        name=name if name is not None else account,
                        site_id=site_id,
                        account=account,
                        aes_key=key,
                        enabled=True,
                        created_at=now,
                    )
                )
                (device_id,) = result.inserted_primary_key or (None,)
                row = (
                    await connection.execute(select_devices().where(devices.c.id == device_id))
                ).one()
                return device_from_row(row)

    async def find_account(self, account: str) -> Device | None:
        """Return the device registered under a DC-09 account, if any.

        Raises:
            StoreUnavailableError: the database could not be read.
        """
        with translate_errors(f"look up account {account}"):
            async with self._engine.connect() as connection:
                return await _find_account(connection, account)

    async def account_key(self, account: str) -> bytes | None:
        """Return the AES key of a DC-09 account (None without a key or an account).

        The key is secret: callers must never log it.

        Raises:
            StoreUnavailableError: the database could not be read.
        """
        query = select(devices.c.aes_key).where(
            devices.c.kind == DeviceKind.DC09.value, devices.c.account == account
        )
        rows = await self._read(query)
        key: bytes | None = rows[0].aes_key if rows else None
        return key

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
                    _insert_ignoring_conflicts(connection, api_tokens).values(
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

    async def revoke_token(self, token: str) -> bool:
        """Revoke an API token by its value (not part of the port; for the CLI and API).

        Idempotent: revoking a revoked token keeps its first revocation time.

        Returns:
            Whether an unrevoked token with this value existed.

        Raises:
            StoreUnavailableError: the database could not be written.
        """
        now = self._clock.now()
        with translate_errors("revoke an API token"):
            async with write_transaction(self._engine) as connection:
                result = await connection.execute(
                    update(api_tokens)
                    .where(
                        api_tokens.c.token_hash == token_hash(token),
                        api_tokens.c.revoked_at.is_(None),
                    )
                    .values(revoked_at=now)
                )
                return bool(result.rowcount)

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

    async def authenticate(self, token: str) -> Principal | None:
        """Return the principal of an unrevoked token, or None.

        Tokens are compared by their sha256, so the stored hashes reveal nothing usable and
        the lookup's timing depends on the hash, not on how much of a guess was right.

        Raises:
            StoreUnavailableError: the database could not be read.
        """
        query = select(api_tokens.c.user_name, api_tokens.c.role, api_tokens.c.label).where(
            api_tokens.c.token_hash == token_hash(token), api_tokens.c.revoked_at.is_(None)
        )
        rows = await self._read(query)
        if not rows:
            return None
        row = rows[0]
        return Principal(user=row.user_name, role=Role(row.role), token_label=row.label)

    async def _read(self, query: Select[Any]) -> list[Any]:
        with translate_errors("read the store"):
            async with self._engine.connect() as connection:
                return list(await connection.execute(query))


async def _find_account(connection: AsyncConnection, account: str) -> Device | None:
    row = (
        await connection.execute(
            select_devices().where(
                devices.c.kind == DeviceKind.DC09.value, devices.c.account == account
            )
        )
    ).first()
    return None if row is None else device_from_row(row)


async def _ensure_site(connection: AsyncConnection, name: str, now: datetime) -> int:
    # Insert-or-ignore, so that two registrations creating one new site at once do not
    # fail on the unique name.
    await connection.execute(
        _insert_ignoring_conflicts(connection, sites).values(name=name, created_at=now)
    )
    site_id: int = (
        await connection.execute(select(sites.c.id).where(sites.c.name == name))
    ).scalar_one()
    return site_id


def _insert_ignoring_conflicts(
    connection: AsyncConnection, table: Table
) -> postgresql.Insert | sqlite.Insert:
    if connection.dialect.name == "postgresql":
        return postgresql.insert(table).on_conflict_do_nothing()
    if connection.dialect.name == "sqlite":
        return sqlite.insert(table).on_conflict_do_nothing()
    raise StoreUnavailableError(f"unsupported database {connection.dialect.name}")

"""The SQL store of alarms, signals and DC-09 accounts: reads and administrative writes."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, Final

from sqlalchemy import ColumnElement, Select, delete, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from watchfloor.core.alarms import Alarm, AlarmOrder, AlarmState, TimelineEntry
from watchfloor.core.devices import AccountUpdate, Device, DeviceKind
from watchfloor.core.errors import ConflictError, NotFoundError
from watchfloor.core.ports import AlarmDetail
from watchfloor.core.signals import SignalRecord
from watchfloor.core.sites import CallAttempt
from watchfloor.core.statistics import AlarmFact
from watchfloor.core.supervision import SupervisedDevice, supervision_deadline
from watchfloor.store._accounts import changed_values, check_change, find_account
from watchfloor.store._alarm_lists import read_alarm_page
from watchfloor.store._alarm_writes import write_alarm_change
from watchfloor.store._errors import translate_errors
from watchfloor.store._rows import (
    alarm_fact_from_row,
    alarm_from_row,
    call_from_row,
    call_values,
    device_from_row,
    select_alarm_facts,
    select_devices,
    signal_record_from_row,
    supervised_from_row,
    timeline_from_row,
)
from watchfloor.store._unit import AuditedUnit
from watchfloor.store._zones import signal_zone_name
from watchfloor.store.database import insert_ignoring_conflicts
from watchfloor.store.tables import (
    alarm_timeline,
    alarms,
    call_attempts,
    devices,
    signals,
    sites,
    store_health,
)

__all__ = ["SqlRepository"]

_HEALTH_ROW: Final = 1


class SqlRepository(AuditedUnit):
    """Alarms, signals and accounts on SQLite or PostgreSQL.

    Implements ``core.ports.AlarmStore``, ``AccountStore`` and ``StoreHealth``, and the
    supervision watch's ``OverdueDevices``.

    Every method runs in its own short transaction and translates driver errors: a violated
    uniqueness becomes ConflictError, any other database failure StoreUnavailableError.
    Cancelling a call rolls its transaction back. The intake path (signals and the alarms
    they raise) is ``GroupCommitWriter``'s. ``audited`` runs several calls and their audit
    row as one transaction.
    """

    async def check_writable(self) -> None:
        """Write the health row in a transaction of its own.

        On SQLite this takes the database's write lock, so a store that another process
        holds locked past the busy timeout is reported unavailable too. Idempotent.

        Raises:
            StoreUnavailableError: the write did not commit.
        """
        now = self._clock.now()
        with translate_errors("write the health row"):
            async with self._write() as connection:
                result = await connection.execute(
                    update(store_health)
                    .where(store_health.c.id == _HEALTH_ROW)
                    .values(checked_at=now)
                )
                if result.rowcount == 0:
                    await connection.execute(
                        insert_ignoring_conflicts(connection, store_health).values(
                            id=_HEALTH_ROW, checked_at=now
                        )
                    )

    async def list_alarms(
        self,
        *,
        state: AlarmState | None,
        limit: int,
        after: int | None,
        site: str | None = None,
        device: str | None = None,
        type_code: int | None = None,
        start: datetime | None = None,
        end: datetime | None = None,
        order: AlarmOrder = AlarmOrder.NEWEST,
    ) -> list[Alarm]:
        """Return a page of alarms, newest first (highest id first) or in queue order.

        Args:
            state: only alarms in this state.
            limit: at most this many.
            after: the previous page's last id: the page continues after it (newest first:
                the ids lower than it).
            site: only alarms of the site of this name.
            device: only alarms of the device of this name (``Alarm.device``, as shown).
            type_code: only alarms of this alarm type.
            start: only alarms first raised at or after this time.
            end: only alarms first raised before this time.
            order: ``NEWEST``, or ``QUEUE``: open alarms first by priority, then oldest
                first (``core.alarms.queue_key``), then the others newest first.

        Raises:
            StoreUnavailableError: the database could not be read.
        """
        conditions: list[ColumnElement[bool]] = []
        filters = (
            (alarms.c.state, None if state is None else state.value),
            (alarms.c.site, site),
            (alarms.c.device, device),
            (alarms.c.type_code, type_code),
        )
        conditions.extend(column == value for column, value in filters if value is not None)
        if start is not None:
            conditions.append(alarms.c.first_at >= start)
        if end is not None:
            conditions.append(alarms.c.first_at < end)
        with translate_errors("read the store"):
            async with self._read_transaction() as connection:
                return await read_alarm_page(
                    connection, conditions, order=order, limit=limit, after=after
                )

    async def save_alarm(
        self,
        previous: Alarm,
        updated: Alarm,
        entries: Sequence[TimelineEntry],
        *,
        calls: Sequence[CallAttempt] = (),
    ) -> Alarm:
        """Store an operator's change to an alarm with its timeline entries, in one commit.

        Compare-and-set on ``previous.version``: the row is only changed if it is still at
        that version, so of two concurrent changes made from one read exactly one is stored
        (on PostgreSQL the second waits for the first's row lock, then finds the version
        moved). Every field of ``updated`` is written; the alarm's correlation key stays. Not
        idempotent: each call adds timeline entries. Cancelled, it rolls back and stores
        nothing.

        Args:
            previous: the alarm as read before the change.
            updated: the alarm after the change, at a higher version.
            entries: the timeline entries of the change, oldest first.
            calls: calls to the site's contacts made on the alarm, stored with it.

        Returns:
            The alarm as stored.

        Raises:
            NotFoundError: no such alarm. Nothing was stored.
            ConflictError: the alarm changed since ``previous`` was read (stale version), or
                the change would open a second alarm under its key (a reopen while a newer
                alarm is open). Nothing was stored.
            ValueError: ``updated`` is another alarm or not at a higher version (a bug).
            StoreUnavailableError: the database could not be written. Nothing was stored.
        """
        if updated.id != previous.id or updated.version <= previous.version:
            raise ValueError("save_alarm needs the same alarm at a higher version")
        with translate_errors(f"save alarm {previous.id}"):
            async with self._write() as connection:
                stored = await write_alarm_change(connection, previous, updated, entries)
                if calls:
                    await connection.execute(
                        call_attempts.insert(),
                        [call_values(call, alarm_id=previous.id) for call in calls],
                    )
                return stored

    async def overdue_alarms(self, now: datetime, *, limit: int = 500) -> list[Alarm]:
        """Return new alarms whose acknowledgement deadline is at or before ``now``.

        Oldest deadline first (then lowest id), at most ``limit``: escalation works through
        the backlog in the order the deadlines passed.

        Raises:
            StoreUnavailableError: the database could not be read.
        """
        query = (
            select(alarms)
            .where(alarms.c.state == AlarmState.NEW.value, alarms.c.ack_deadline <= now)
            .order_by(alarms.c.ack_deadline, alarms.c.id)
            .limit(limit)
        )
        rows = await self._read(query)
        return [alarm_from_row(row) for row in rows]

    async def alarm_facts(self, *, start: datetime, end: datetime) -> list[AlarmFact]:
        """Return what statistics need of every alarm first raised in [start, end).

        Oldest first (by ``first_at``, then id). Both bounds are aware datetimes.

        Raises:
            StoreUnavailableError: the database could not be read.
        """
        rows = await self._read(select_alarm_facts(start=start, end=end))
        return [alarm_fact_from_row(row) for row in rows]

    async def get_alarm(self, alarm_id: int) -> AlarmDetail:
        """Return an alarm with its signals and timeline, each oldest first.

        Raises:
            NotFoundError: there is no alarm with this id.
            StoreUnavailableError: the database could not be read.
        """
        with translate_errors("read an alarm"):
            async with self._read_transaction() as connection:
                # One transaction, so that the three reads see one state on PostgreSQL too.
                alarm_row = (
                    await connection.execute(select(alarms).where(alarms.c.id == alarm_id))
                ).first()
                if alarm_row is None:
                    raise NotFoundError(f"no alarm {alarm_id}")
                signal_rows = await connection.execute(
                    select(signals, signal_zone_name())
                    .where(signals.c.alarm_id == alarm_id)
                    .order_by(signals.c.id)
                )
                timeline_rows = await connection.execute(
                    select(alarm_timeline)
                    .where(alarm_timeline.c.alarm_id == alarm_id)
                    .order_by(alarm_timeline.c.id)
                )
                call_rows = await connection.execute(
                    select(call_attempts)
                    .where(call_attempts.c.alarm_id == alarm_id)
                    .order_by(call_attempts.c.id)
                )
                return AlarmDetail(
                    alarm=alarm_from_row(alarm_row),
                    signals=tuple(signal_record_from_row(row) for row in signal_rows),
                    timeline=tuple(timeline_from_row(row) for row in timeline_rows),
                    calls=tuple(call_from_row(row) for row in call_rows),
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
        query = select(signals, signal_zone_name()).order_by(signals.c.id.desc()).limit(limit)
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
            async with self._write() as connection:
                existing = await find_account(connection, account)
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

    async def list_accounts(self) -> list[Device]:
        """Return every registered DC-09 account, ordered by account.

        Raises:
            StoreUnavailableError: the database could not be read.
        """
        query = select_devices().where(devices.c.kind == DeviceKind.DC09.value)
        rows = await self._read(query.order_by(devices.c.account))
        return [device_from_row(row) for row in rows]

    async def registered_accounts(self) -> frozenset[str]:
        """Return the account of every registered DC-09 transmitter (one light query).

        Raises:
            StoreUnavailableError: the database could not be read.
        """
        query = select(devices.c.account).where(
            devices.c.kind == DeviceKind.DC09.value, devices.c.account.is_not(None)
        )
        return frozenset(row.account for row in await self._read(query))

    async def update_account(self, account: str, change: AccountUpdate) -> Device:
        """Apply a change to a registered DC-09 account and return the account as it now is.

        Fields of ``change`` left None are kept. A site is found by name and created if new.
        A new supervision interval or grace restarts supervision now (``supervision_since``):
        a device not heard since is overdue interval + grace from now. Stopping supervision
        also forgets a lost link, so the device can no longer be overdue or lost; an alarm
        it raised stays open for the operator. The AES key is never logged. An empty change
        writes nothing. Idempotent, except that repeating a supervision change restarts it.

        Args:
            account: the DC-09 account number.
            change: what to change.

        Returns:
            The device after the change.

        Raises:
            NotFoundError: no such account. Nothing was changed.
            ConflictError: the new name is taken by another DC-09 device.
            ValueError: the change contradicts itself (a key and ``clear_key``; an interval
                or grace and ``clear_supervision``) or has an interval that is not
                positive or a negative grace.
            StoreUnavailableError: the database could not be written. Nothing was changed.
        """
        check_change(change)
        now = self._clock.now()
        with translate_errors(f"update account {account}"):
            async with self._write() as connection:
                existing = await find_account(connection, account)
                if existing is None:
                    raise NotFoundError(f"no account {account}")
                values = changed_values(change, now)
                if change.site is not None:
                    values["site_id"] = await _ensure_site(connection, change.site, now)
                if not values:
                    return existing
                await connection.execute(
                    update(devices).where(devices.c.id == existing.id).values(values)
                )
                row = (
                    await connection.execute(select_devices().where(devices.c.id == existing.id))
                ).one()
                return device_from_row(row)

    async def delete_account(self, account: str) -> None:
        """Unregister a DC-09 account, keeping its signals and alarms.

        Signals and alarms name the device by its key and display name, which stay; the
        signals' reference to the device row is cleared in the same transaction. The site
        stays too. Not idempotent: deleting again is NotFoundError.

        Raises:
            NotFoundError: no such account. Nothing was changed.
            StoreUnavailableError: the database could not be written. Nothing was changed.
        """
        with translate_errors(f"delete account {account}"):
            async with self._write() as connection:
                existing = await find_account(connection, account)
                if existing is None:
                    raise NotFoundError(f"no account {account}")
                await connection.execute(
                    update(signals).where(signals.c.device_id == existing.id).values(device_id=None)
                )
                await connection.execute(delete(devices).where(devices.c.id == existing.id))

    async def set_on_test(
        self, *, account: str | None = None, site: str | None = None, until: datetime | None
    ) -> None:
        """Put a DC-09 account, or a whole site, on test until a time (None ends the test).

        Signals of a device on test (or of a device whose site
        is) received before ``until`` are stored but raise no alarm
        (``core.correlation.Effect.ON_TEST``); a device is on test until the later of its
        own and its site's time. Idempotent: the new time replaces the old one.

        Args:
            account: the DC-09 account to put on test; or
            site: the name of the site to put on test (exactly one of the two).
            until: the end of the test (aware), or None to end it now.

        Raises:
            NotFoundError: no such account or site. Nothing was changed.
            ValueError: neither or both of ``account`` and ``site`` given.
            StoreUnavailableError: the database could not be written. Nothing was changed.
        """
        if (account is None) == (site is None):
            raise ValueError("set_on_test needs exactly one of account and site")
        if account is not None:
            statement = update(devices).where(
                devices.c.kind == DeviceKind.DC09.value, devices.c.account == account
            )
            missing = f"no account {account}"
        else:
            statement = update(sites).where(sites.c.name == site)
            missing = f"no site {site}"
        with translate_errors("set a test period"):
            async with self._write() as connection:
                result = await connection.execute(statement.values(on_test_until=until))
                if result.rowcount == 0:
                    raise NotFoundError(missing)

    async def overdue_devices(self, now: datetime) -> list[SupervisedDevice]:
        """Return supervised, enabled devices silent past interval + grace, not yet lost.

        A device is overdue when ``core.supervision.supervision_deadline`` lies before
        ``now``: it counts from the last time the device was heard, or from when supervision
        started if that is later. The deadline is computed here rather than in SQL so that
        both backends apply exactly the core's rule; the query only narrows the rows to
        enabled, supervised devices whose link is not lost. Oldest deadline first.

        Raises:
            StoreUnavailableError: the database could not be read.
        """
        query = select_devices().where(
            devices.c.enabled,
            devices.c.supervision_interval_seconds.is_not(None),
            devices.c.link_lost_at.is_(None),
        )
        rows = await self._read(query.order_by(devices.c.id))
        supervised = [device for row in rows if (device := supervised_from_row(row)) is not None]
        overdue = [device for device in supervised if supervision_deadline(device) < now]
        return sorted(overdue, key=supervision_deadline)

    async def find_account(self, account: str) -> Device | None:
        """Return the device registered under a DC-09 account, if any.

        Raises:
            StoreUnavailableError: the database could not be read.
        """
        with translate_errors(f"look up account {account}"):
            async with self._connect() as connection:
                return await find_account(connection, account)

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

    async def _read(self, query: Select[Any]) -> list[Any]:
        with translate_errors("read the store"):
            async with self._connect() as connection:
                return list(await connection.execute(query))


async def _ensure_site(connection: AsyncConnection, name: str, now: datetime) -> int:
    # Insert-or-ignore, so that two registrations creating one new site at once do not
    # fail on the unique name.
    await connection.execute(
        insert_ignoring_conflicts(connection, sites).values(name=name, created_at=now)
    )
    site_id: int = (
        await connection.execute(select(sites.c.id).where(sites.c.name == name))
    ).scalar_one()
    return site_id

"""The ports between the core and its adapters: time, the store, and the alarm stream."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Protocol, Self

from watchfloor.core.alarms import Alarm, AlarmOrder, AlarmState, TimelineEntry
from watchfloor.core.audit import AuditEntry
from watchfloor.core.devices import AccountUpdate, Device
from watchfloor.core.signals import LinkTest, Signal, SignalRecord
from watchfloor.core.sites import CallAttempt
from watchfloor.core.statistics import AlarmFact

__all__ = [
    "AccountLookup",
    "AccountStore",
    "AlarmDetail",
    "AlarmEvent",
    "AlarmEventKind",
    "AlarmStore",
    "AuditedStore",
    "Clock",
    "EventQueue",
    "EventSource",
    "Publish",
    "SignalSink",
    "StoreHealth",
]


class Clock(Protocol):
    """A source of the current time, always timezone-aware UTC."""

    def now(self) -> datetime:
        """Return the current time."""
        ...

    def monotonic(self) -> float:
        """Return a monotonic time in seconds, for durations and timeouts."""
        ...


class AlarmEventKind(StrEnum):
    """The kinds of change pushed to every console."""

    CREATED = "alarm.created"
    UPDATED = "alarm.updated"
    ESCALATED = "alarm.escalated"


@dataclass(frozen=True, slots=True, kw_only=True)
class AlarmEvent:
    """A committed change of an alarm, as pushed to the consoles."""

    kind: AlarmEventKind
    alarm: Alarm


#: How the store hands committed alarm changes to the stream (never before commit).
Publish = Callable[[AlarmEvent], None]


class EventQueue(Protocol):
    """One subscriber's queue of committed alarm changes."""

    async def get(self) -> AlarmEvent | None:
        """Return the next change; None once the subscriber fell behind and was cut off."""
        ...


class EventSource(Protocol):
    """Where the stream and the notifications take committed alarm changes from (the bus)."""

    def subscribe(self) -> AbstractAsyncContextManager[EventQueue]:
        """Subscribe for the duration of the block."""
        ...


@dataclass(frozen=True, slots=True, kw_only=True)
class AlarmDetail:
    """An alarm with its signals, timeline and calls to the site's contacts (oldest first)."""

    alarm: Alarm
    signals: tuple[SignalRecord, ...]
    timeline: tuple[TimelineEntry, ...]
    calls: tuple[CallAttempt, ...] = ()


class SignalSink(Protocol):
    """Where receivers hand what they received; returns only once it is committed."""

    async def submit(self, items: Sequence[Signal | LinkTest]) -> Sequence[SignalRecord | None]:
        """Store the items durably, correlate them, and publish the alarm changes.

        Returns one entry per item: the signal's record (for a retransmission, the record
        stored the first time), or None for a link test. Idempotent for DC-09
        retransmissions. If cancelled while waiting, the items may or may not have been
        committed; the sender has not been acknowledged and will retry.

        Raises:
            StoreUnavailableError: nothing was committed; the sender must not be acknowledged.
        """
        ...


class AuditedStore(Protocol):
    """A store whose calls can run in one transaction with the audit row of an action."""

    def audited(self, entry: AuditEntry) -> AbstractAsyncContextManager[Self]:
        """A unit of work: the block's reads and writes and the audit row commit together.

        Yields the store bound to the transaction. If the block raises, its writes roll back
        and the entry is recorded as failed.
        """
        ...


class StoreHealth(Protocol):
    """Whether the store takes writes (``/healthz``)."""

    async def check_writable(self) -> None:
        """Raise StoreUnavailableError unless the store accepts a write right now."""
        ...


class AlarmStore(AuditedStore, Protocol):
    """Alarms and their signals: reads, and operators' changes (intake is ``SignalSink``'s)."""

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

        The page continues after the alarm with id ``after`` (the previous page's last) if
        given; filtered by state, site name, device name, type code and the time first
        raised (``start`` <= first_at < ``end``) where given. ``QUEUE`` order lists the open
        alarms first by ``core.alarms.queue_key``, then the others newest first.
        """
        ...

    async def save_alarm(
        self,
        previous: Alarm,
        updated: Alarm,
        entries: Sequence[TimelineEntry],
        *,
        calls: Sequence[CallAttempt] = (),
    ) -> Alarm:
        """Store an operator's change to an alarm with its timeline entries, in one commit.

        ``calls`` are calls to the site's contacts made on the alarm, stored with it.

        Compare-and-set on ``previous.version``: of two concurrent changes to one alarm,
        exactly one is stored. Not idempotent (each call adds timeline entries).

        Raises:
            NotFoundError: no such alarm.
            ConflictError: the alarm changed since ``previous`` was read (stale version).
        """
        ...

    async def alarm_facts(self, *, start: datetime, end: datetime) -> list[AlarmFact]:
        """Return what statistics need of every alarm first raised in [start, end)."""
        ...

    async def overdue_alarms(self, now: datetime, *, limit: int = 500) -> list[Alarm]:
        """Return new alarms whose acknowledgement deadline is at or before ``now``."""
        ...

    async def get_alarm(self, alarm_id: int) -> AlarmDetail:
        """Return an alarm with its signals and timeline; NotFoundError if there is none."""
        ...

    async def list_signals(
        self, *, device: str | None, alarm_id: int | None, limit: int, after: int | None
    ) -> list[SignalRecord]:
        """Return signals newest first, filtered by device key and/or alarm."""
        ...


class AccountLookup(Protocol):
    """How the DC-09 receiver finds a transmitter and its key."""

    async def find_account(self, account: str) -> Device | None:
        """Return the device registered under a DC-09 account, if any."""
        ...

    async def account_key(self, account: str) -> bytes | None:
        """Return the AES key of a DC-09 account (None without one). Never log it."""
        ...

    async def registered_accounts(self) -> frozenset[str]:
        """Return the account of every registered DC-09 transmitter."""
        ...


class AccountStore(AuditedStore, AccountLookup, Protocol):
    """Registered DC-09 transmitters: their administration and test periods."""

    async def add_account(
        self, *, account: str, site: str | None, key: bytes | None, name: str | None = None
    ) -> Device:
        """Register a DC-09 transmitter (creating its site by name if new).

        Raises:
            ConflictError: the account is registered already.
        """
        ...

    async def list_accounts(self) -> list[Device]:
        """Return every registered DC-09 account, ordered by account."""
        ...

    async def update_account(self, account: str, change: AccountUpdate) -> Device:
        """Apply a change to a registered account and return it as it now is.

        Raises:
            NotFoundError: no such account.
        """
        ...

    async def delete_account(self, account: str) -> None:
        """Unregister an account. Its signals and alarms stay (they name it as their device).

        Raises:
            NotFoundError: no such account.
        """
        ...

    async def set_on_test(
        self, *, account: str | None = None, site: str | None = None, until: datetime | None
    ) -> None:
        """Put one account or a whole site on test until a time (None ends the test).

        While on test, signals are stored and shown but raise no alarm; the test ends by
        itself at ``until``.

        Raises:
            NotFoundError: no such account or site.
        """
        ...

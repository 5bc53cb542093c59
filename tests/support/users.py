"""Helpers for tests of users and sign-in: fast real credentials, recorded auth events."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from argon2 import PasswordHasher

from support.clock import FakeClock
from watchfloor.adapters.credentials import Argon2Credentials
from watchfloor.core.users import AuthEvent, AuthEventKind
from watchfloor.store import migrate, open_engine, sqlite_url
from watchfloor.store.sealing import KEY_FILE, SecretKeys
from watchfloor.store.users import SqlUsers

__all__ = ["RecordedEvents", "fast_credentials", "open_sqlite_users"]


def fast_credentials() -> Argon2Credentials:
    """The real adapter with the cheapest argon2 parameters, so that tests hash quickly."""
    return Argon2Credentials(PasswordHasher(time_cost=1, memory_cost=8, parallelism=1))


class RecordedEvents:
    """Implements ``core.users.AuthEvents`` by keeping every event."""

    def __init__(self) -> None:
        self.events: list[AuthEvent] = []

    async def record(self, event: AuthEvent) -> None:
        self.events.append(event)

    def kinds(self) -> list[AuthEventKind]:
        return [event.kind for event in self.events]


@asynccontextmanager
async def open_sqlite_users(directory: Path) -> AsyncIterator[SqlUsers]:
    """A migrated SQLite store in ``directory``, as the users port."""
    engine = open_engine(
        sqlite_url(directory), keys=SecretKeys.load_or_create(directory / KEY_FILE)
    )
    try:
        await migrate(engine)
        yield SqlUsers(engine, FakeClock())
    finally:
        await engine.dispose()

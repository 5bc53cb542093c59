from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from support.clock import FakeClock
from watchfloor.app import Platform, open_platform
from watchfloor.config import HostPort, Secret, Settings

TOKEN = "test-admin-token"


def pytest_configure(config: pytest.Config) -> None:
    # pytest-asyncio asks for "the current event loop" around each async test; on Python 3.11
    # that call creates a loop which nobody closes once a sync test's asyncio.run() replaces
    # it (an unraisable ResourceWarning, an error under -W error). Declaring "no current loop"
    # up front makes the call return nothing instead.
    asyncio.set_event_loop(None)


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(
        data_dir=tmp_path / "var",
        dc09=HostPort(host="127.0.0.1", port=0),
        bootstrap_token=Secret(TOKEN),
    )


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
async def platform(settings: Settings) -> AsyncIterator[Platform]:
    """The whole platform but the HTTP listener, on SQLite in a temporary data dir."""
    async with open_platform(settings) as running:
        yield running

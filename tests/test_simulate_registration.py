"""``watchfloor simulate`` against a receiver whose accounts it has to register itself, and the
note it ends with when replies stop."""

from __future__ import annotations

import asyncio
from dataclasses import replace

import typer
from typer.testing import CliRunner

from watchfloor.app import open_platform
from watchfloor.cli import simulate
from watchfloor.config import Settings
from watchfloor.core.alarm_types import UNREGISTERED_TRANSMITTER

runner = CliRunner()


def _cli() -> typer.Typer:
    app = typer.Typer()

    @app.callback()
    def root() -> None:
        """Stand-in for the watchfloor command line."""

    simulate.register(app)
    return app


async def _simulate(*args: str) -> tuple[int, str, str]:
    result = await asyncio.to_thread(runner.invoke, _cli(), ["simulate", *args])
    return result.exit_code, result.stdout, result.stderr


def _strict(settings: Settings) -> Settings:
    """A receiver that answers two unregistered messages per address, then (nearly) none."""
    return replace(settings, dc09_unregistered_burst=2, dc09_unregistered_per_minute=1)


async def test_simulate_with_the_data_dir_registers_its_accounts_and_gets_every_ack(
    settings: Settings,
) -> None:
    async with open_platform(_strict(settings)) as platform:
        host, port = platform.dc09_address
        code, out, err = await _simulate(
            *("--panels", "3", "--rate", "15", "--duration", "1", "--accounts-from", "3000"),
            *("--target", f"{host}:{port}", "--data-dir", str(settings.data_dir)),
        )
        assert code == 0, err
        assert "registered 3 of accounts 3000..3002 (0 were registered already)" in err
        assert " unanswered 0 " in out
        for account in ("3000", "3001", "3002"):
            assert await platform.repository.find_account(account) is not None
        audit = await platform.audit_log.search(limit=10, action="account.add")
        assert sorted(row.entry.target or "" for row in audit) == [
            "account:3000",
            "account:3001",
            "account:3002",
        ]
        alarms = await platform.repository.list_alarms(state=None, limit=100, after=None)
        assert UNREGISTERED_TRANSMITTER not in {a.type_code for a in alarms}
        # A second run finds them registered and leaves them be.
        code, _, err = await _simulate(
            *("--panels", "3", "--accounts-from", "3000", "--register"),
            *("--data-dir", str(settings.data_dir)),
        )
        assert code == 0, err
        assert "registered 0 of accounts 3000..3002 (3 were registered already)" in err


async def test_simulate_names_the_unregistered_limit_when_replies_stop(settings: Settings) -> None:
    async with open_platform(_strict(settings)) as platform:
        host, port = platform.dc09_address
        code, out, err = await _simulate(
            *("--panels", "2", "--rate", "8", "--duration", "1", "--accounts-from", "4000"),
            *("--reply-timeout", "0.3", "--retries", "0", "--target", f"{host}:{port}"),
        )
    assert code == 1
    assert " unanswered 0 " not in out
    assert "unregistered accounts beyond its limit for unregistered traffic" in err
    assert "4000..4001" in err
    assert "--data-dir" in err
    assert "slow receiver" not in err

"""``watchfloor accounts …``: DC-09 transmitters (accounts) from the command line."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from watchfloor.app import open_repository
from watchfloor.cli._common import ConfigFile, DataDir, cli_settings, fail, wide_console
from watchfloor.cli.audit import cli_entry
from watchfloor.codecs.accounts import parse_account, parse_either_key
from watchfloor.config import Settings
from watchfloor.core.devices import AccountUpdate, Device
from watchfloor.core.errors import ConflictError, NotFoundError, WatchfloorError
from watchfloor.store.repository import SqlRepository

__all__ = ["add_account", "register"]

accounts_app = typer.Typer(help="DC-09 transmitters (accounts).", no_args_is_help=True)
out_console = Console()


def register(app: typer.Typer) -> None:
    """Attach ``accounts`` to the command line."""
    app.add_typer(accounts_app, name="accounts")


@accounts_app.command("add")
def accounts_add(
    account: Annotated[str, typer.Option("--account", help="DC-09 account (3-16 hex digits).")],
    key: Annotated[
        str | None, typer.Option("--key", help="AES key as 32, 48 or 64 hex digits.")
    ] = None,
    key_ascii: Annotated[
        str | None, typer.Option("--key-ascii", help="AES key as 16, 24 or 32 characters.")
    ] = None,
    site: Annotated[str | None, typer.Option("--site", help="Site name.")] = None,
    name: Annotated[str | None, typer.Option("--name", help="Device name [the account].")] = None,
    data_dir: DataDir = None,
    config: ConfigFile = None,
) -> None:
    """Register a DC-09 transmitter; works while the server runs."""
    account = _account_option(account)
    aes_key = _key_option(key, key_ascii)
    settings = cli_settings(config, data_dir=data_dir)

    async def work(repository: SqlRepository) -> None:
        try:
            device = await add_account(
                repository, account=account, site=site, key=aes_key, name=name
            )
        except ConflictError as err:
            raise fail(f"--account: {account} is registered already", 1) from err
        out_console.print(f"registered {_describe(device)}", highlight=False)

    _run_on_repository(settings, work)


async def add_account(
    repository: SqlRepository,
    *,
    account: str,
    site: str | None = None,
    key: bytes | None = None,
    name: str | None = None,
) -> Device:
    """Register a transmitter as ``accounts add`` does, audited as the local user's.

    Raises:
        ConflictError: the account is registered already.
    """
    async with repository.audited(cli_entry("account.add", f"account:{account}")) as audited:
        return await audited.add_account(account=account, site=site, key=key, name=name)


def _account_option(account: str) -> str:
    try:
        # The message quotes the account as it would be stored.
        return parse_account(account.strip().upper())
    except ValueError as err:
        raise fail(f"--account: {err}") from err


def _key_option(key: str | None, key_ascii: str | None) -> bytes | None:
    try:
        return parse_either_key(key, key_ascii, hex_name="--key", ascii_name="--key-ascii")
    except ValueError as err:
        raise fail(str(err)) from err


def _run_on_repository(
    settings: Settings, work: Callable[[SqlRepository], Awaitable[None]]
) -> None:
    async def run() -> None:
        async with open_repository(settings) as repository:
            await work(repository)

    try:
        asyncio.run(run())
    except NotFoundError as err:
        raise fail(f"--account: {err}", 1) from err
    except WatchfloorError as err:
        raise fail(str(err), 1) from err


def _describe(device: Device) -> str:
    encryption = "AES" if device.has_key else "none"
    supervision = (
        f"every {device.supervision_interval.total_seconds():g} s"
        if device.supervision_interval
        else "off"
    )
    state = "enabled" if device.enabled else "DISABLED"
    lost = (
        f", LINK LOST since {device.link_lost_at:%Y-%m-%d %H:%M:%S}" if device.link_lost_at else ""
    )
    return (
        f"account {device.account} (device {device.name!r}, site {device.site or '-'}, "
        f"encryption {encryption}, supervision {supervision}, {state}{lost})"
    )


@accounts_app.command("list")
def accounts_list(data_dir: DataDir = None, config: ConfigFile = None) -> None:
    """List the registered transmitters (keys are never shown)."""
    settings = cli_settings(config, data_dir=data_dir)

    async def work(repository: SqlRepository) -> None:
        table = Table(title="DC-09 accounts")
        for column in ("account", "name", "site", "key", "supervision", "state", "last seen"):
            table.add_column(column)
        for device in await repository.list_accounts():
            interval = device.supervision_interval
            table.add_row(
                device.account or "",
                device.name,
                device.site or "-",
                "AES" if device.has_key else "-",
                f"{interval.total_seconds():g} s" if interval else "off",
                "link lost"
                if device.link_lost_at
                else ("enabled" if device.enabled else "disabled"),
                f"{device.last_seen_at:%Y-%m-%d %H:%M:%S}" if device.last_seen_at else "never",
            )
        wide_console().print(table)

    _run_on_repository(settings, work)


def _update(settings: Settings, account: str, change: AccountUpdate) -> None:
    async def work(repository: SqlRepository) -> None:
        action = "account.key_change" if change.key or change.clear_key else "account.change"
        async with repository.audited(cli_entry(action, f"account:{account}")) as audited:
            device = await audited.update_account(account, change)
        out_console.print(f"updated {_describe(device)}", highlight=False)

    _run_on_repository(settings, work)


@accounts_app.command("update")
def accounts_update(
    account: Annotated[str, typer.Option("--account", help="DC-09 account.")],
    site: Annotated[str | None, typer.Option("--site", help="Move to this site.")] = None,
    name: Annotated[str | None, typer.Option("--name", help="Rename the device.")] = None,
    supervision: Annotated[
        float | None,
        typer.Option("--supervision", min=1, help="Expect a message at least every N seconds."),
    ] = None,
    grace: Annotated[
        float | None, typer.Option("--grace", min=0, help="Extra seconds before link loss.")
    ] = None,
    no_supervision: Annotated[
        bool, typer.Option("--no-supervision", help="Stop supervising the account.")
    ] = False,
    data_dir: DataDir = None,
    config: ConfigFile = None,
) -> None:
    """Change a transmitter's site, name or supervision."""
    account = _account_option(account)
    if no_supervision and supervision is not None:
        raise fail("give --supervision or --no-supervision, not both")
    _update(
        cli_settings(config, data_dir=data_dir),
        account,
        AccountUpdate(
            site=site,
            name=name,
            supervision_interval=timedelta(seconds=supervision) if supervision else None,
            supervision_grace=timedelta(seconds=grace) if grace is not None else None,
            clear_supervision=no_supervision,
        ),
    )


@accounts_app.command("disable")
def accounts_disable(
    account: Annotated[str, typer.Option("--account", help="DC-09 account.")],
    data_dir: DataDir = None,
    config: ConfigFile = None,
) -> None:
    """Refuse the transmitter's messages (DUH) until it is enabled again."""
    _update(
        cli_settings(config, data_dir=data_dir),
        _account_option(account),
        AccountUpdate(enabled=False),
    )


@accounts_app.command("enable")
def accounts_enable(
    account: Annotated[str, typer.Option("--account", help="DC-09 account.")],
    data_dir: DataDir = None,
    config: ConfigFile = None,
) -> None:
    """Accept the transmitter's messages again."""
    _update(
        cli_settings(config, data_dir=data_dir),
        _account_option(account),
        AccountUpdate(enabled=True),
    )


@accounts_app.command("rotate-key")
def accounts_rotate_key(
    account: Annotated[str, typer.Option("--account", help="DC-09 account.")],
    key: Annotated[
        str | None, typer.Option("--key", help="New AES key as 32, 48 or 64 hex digits.")
    ] = None,
    key_ascii: Annotated[
        str | None, typer.Option("--key-ascii", help="New AES key as 16, 24 or 32 characters.")
    ] = None,
    clear: Annotated[
        bool, typer.Option("--clear", help="Remove the key: accept unencrypted messages only.")
    ] = False,
    data_dir: DataDir = None,
    config: ConfigFile = None,
) -> None:
    """Give the transmitter a new AES key (or remove it with --clear)."""
    account = _account_option(account)
    new_key = _key_option(key, key_ascii)
    if (new_key is None) == (not clear):
        raise fail("give a new key (--key or --key-ascii) or --clear")
    _update(
        cli_settings(config, data_dir=data_dir),
        account,
        AccountUpdate(key=new_key, clear_key=clear),
    )


@accounts_app.command("delete")
def accounts_delete(
    account: Annotated[str, typer.Option("--account", help="DC-09 account.")],
    data_dir: DataDir = None,
    config: ConfigFile = None,
) -> None:
    """Unregister a transmitter; its signals and alarms stay."""
    account = _account_option(account)

    async def work(repository: SqlRepository) -> None:
        async with repository.audited(cli_entry("account.delete", f"account:{account}")) as audited:
            await audited.delete_account(account)
        out_console.print(f"deleted account {account}", highlight=False)

    _run_on_repository(cli_settings(config, data_dir=data_dir), work)

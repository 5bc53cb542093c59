"""The ``watchfloor`` command line: serve, register accounts, inspect the taxonomy."""

from __future__ import annotations

import asyncio
import logging
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from watchfloor.app import open_repository, serve
from watchfloor.codecs.dc09 import parse_key
from watchfloor.config import Settings, SettingsError, load_settings
from watchfloor.core.errors import ConflictError, TaxonomyError, WatchfloorError
from watchfloor.simulator import add_simulate_command
from watchfloor.taxonomy import check_taxonomy_file, load_taxonomy

__all__ = ["app", "main"]

app = typer.Typer(
    help="watchfloor: alarm receiving and incident management for control rooms.",
    no_args_is_help=True,
    add_completion=False,
)
accounts_app = typer.Typer(help="DC-09 transmitters (accounts).", no_args_is_help=True)
taxonomy_app = typer.Typer(help="The alarm-type taxonomy.", no_args_is_help=True)
app.add_typer(accounts_app, name="accounts")
app.add_typer(taxonomy_app, name="taxonomy")
add_simulate_command(app)

err_console = Console(stderr=True)
out_console = Console()


def _wide_console() -> Console:
    """A console for tables: the terminal's width, or wide enough when piped to a file."""
    return Console() if sys.stdout.isatty() else Console(width=200)


DataDir = Annotated[
    Path | None,
    typer.Option("--data-dir", help="Data directory (default ./var; env WATCHFLOOR_DATA_DIR)."),
]
ConfigFile = Annotated[
    Path | None, typer.Option("--config", help="TOML settings file (env WATCHFLOOR_CONFIG).")
]


def _fail(message: str, code: int = 2) -> typer.Exit:
    err_console.print(f"[red]error:[/red] {message}", highlight=False)
    return typer.Exit(code)


def _settings(config: Path | None, **overrides: object) -> Settings:
    try:
        return load_settings(config_file=config, overrides=overrides)
    except SettingsError as err:
        raise _fail(str(err)) from err


@app.command("serve")
def serve_command(
    data_dir: DataDir = None,
    config: ConfigFile = None,
    http: Annotated[str | None, typer.Option(help="HTTP HOST:PORT [127.0.0.1:8080].")] = None,
    dc09: Annotated[
        str | None, typer.Option(help="DC-09 HOST:PORT, TCP and UDP [127.0.0.1:12000].")
    ] = None,
    dc09_reject_unknown: Annotated[
        bool | None,
        typer.Option("--dc09-reject-unknown", help="DUH frames from unregistered accounts."),
    ] = None,
) -> None:
    """Run the platform: DC-09 receiver, API, alarm stream and operator console."""
    settings = _settings(
        config, data_dir=data_dir, http=http, dc09=dc09, dc09_reject_unknown=dc09_reject_unknown
    )
    logging.basicConfig(
        level=settings.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    try:
        asyncio.run(serve(settings, announce=lambda text: print(text, flush=True)))
    except TaxonomyError as err:
        raise _fail(str(err)) from err
    except KeyboardInterrupt:
        pass


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
    account = account.strip().upper()
    if not (3 <= len(account) <= 16) or any(c not in "0123456789ABCDEF" for c in account):
        raise _fail(f"--account: {account!r} is not 3 to 16 hex digits")
    if key is not None and key_ascii is not None:
        raise _fail("give --key or --key-ascii, not both")
    aes_key = None
    try:
        if key is not None:
            aes_key = parse_key(key, ascii=False)
        elif key_ascii is not None:
            aes_key = parse_key(key_ascii, ascii=True)
    except ValueError as err:
        raise _fail(f"{'--key' if key is not None else '--key-ascii'}: {err}") from err
    settings = _settings(config, data_dir=data_dir)

    async def add() -> None:
        async with open_repository(settings) as repository:
            device = await repository.add_account(
                account=account, site=site, key=aes_key, name=name
            )
        encryption = f"AES-{len(aes_key) * 8}" if aes_key else "none"
        out_console.print(
            f"registered account {device.account} (device {device.name!r}, "
            f"site {device.site or '-'}, encryption {encryption})",
            highlight=False,
        )

    try:
        asyncio.run(add())
    except ConflictError as err:
        raise _fail(f"--account: {account} is registered already", 1) from err
    except WatchfloorError as err:
        raise _fail(str(err), 1) from err


@taxonomy_app.command("check")
def taxonomy_check(file: Annotated[Path, typer.Argument(help="Taxonomy TOML file.")]) -> None:
    """Validate a taxonomy file; exit 0 only when it is valid."""
    problems = check_taxonomy_file(file)
    if problems:
        for problem in problems:
            err_console.print(f"[red]{file}:[/red] {problem}", highlight=False)
        raise typer.Exit(1)
    out_console.print(f"{file}: valid", highlight=False)


@taxonomy_app.command("show")
def taxonomy_show(
    file: Annotated[
        Path | None, typer.Option("--file", help="Show this file instead of the one in force.")
    ] = None,
    config: ConfigFile = None,
) -> None:
    """Print the taxonomy in force: every alarm type with its priority and basis."""
    settings = _settings(config)
    try:
        taxonomy = load_taxonomy(file or settings.taxonomy_file)
    except TaxonomyError as err:
        raise _fail(str(err), 1) from err
    table = Table(title=f"watchfloor taxonomy {taxonomy.version}")
    for column in ("code", "name", "category", "priority", "basis", "alarm"):
        table.add_column(column)
    for alarm_type in sorted(taxonomy.types.values(), key=lambda t: t.code):
        table.add_row(
            str(alarm_type.code),
            alarm_type.name,
            alarm_type.category,
            f"P{alarm_type.priority}",
            alarm_type.basis,
            "yes" if alarm_type.raises_alarm else "log only",
        )
    _wide_console().print(table)


def main() -> None:
    """Run the command line."""
    app()

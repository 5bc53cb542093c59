"""What every ``watchfloor`` command shares: the data-dir and config options, settings, errors."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from watchfloor.config import Settings, SettingsError, load_settings

__all__ = ["ConfigFile", "DataDir", "cli_settings", "fail", "wide_console"]

DataDir = Annotated[
    Path | None,
    typer.Option("--data-dir", help="Data directory (default ./var; env WATCHFLOOR_DATA_DIR)."),
]
ConfigFile = Annotated[
    Path | None, typer.Option("--config", help="TOML settings file (env WATCHFLOOR_CONFIG).")
]

# soft_wrap: an error line stays one line, whatever the terminal's width.
_errors = Console(stderr=True, soft_wrap=True)


def fail(message: str, code: int = 2) -> typer.Exit:
    """Print ``error: message`` to stderr and return the exit to raise (2: bad input)."""
    _errors.print(f"[red]error:[/red] {message}", highlight=False)
    return typer.Exit(code)


def cli_settings(config: Path | None, **overrides: object) -> Settings:
    """Return a command's settings (file < environment < options); exit 2 naming problems."""
    try:
        return load_settings(config_file=config, overrides=overrides)
    except SettingsError as err:
        raise fail(str(err)) from err


def wide_console() -> Console:
    """A console for tables: the terminal's width, or wide enough when piped to a file."""
    return Console() if sys.stdout.isatty() else Console(width=200)

"""The ``watchfloor`` command line: one module per command group, each with ``register``."""

from __future__ import annotations

import os

import typer

from watchfloor.cli import accounts, audit, devices, secrets, serve, simulate, taxonomy, users

__all__ = ["app", "main"]

app = typer.Typer(
    help="watchfloor: alarm receiving and incident management for control rooms.",
    no_args_is_help=True,
    add_completion=False,
)
for _group in (serve, accounts, taxonomy, audit, devices, simulate, users, secrets):
    _group.register(app)


def main() -> None:
    """Run the command line."""
    # What watchfloor makes (the data dir, the database, its keys) is its owner's alone.
    os.umask(0o077)
    app()

"""``watchfloor simulate``: a fleet of DC-09 panels against a receiver, with a summary."""

from __future__ import annotations

import asyncio
import shlex
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from watchfloor.adapters.clock import SystemClock
from watchfloor.app import open_repository
from watchfloor.cli._common import cli_settings
from watchfloor.cli.accounts import add_account
from watchfloor.codecs.accounts import parse_account, parse_key
from watchfloor.core.errors import WatchfloorError
from watchfloor.simulator import (
    DEFAULT_KEY_ASCII,
    SimulationPlan,
    SimulationProgress,
    SimulationReport,
    run_simulation,
)
from watchfloor.simulator._values import MAX_ACCOUNT, positive

__all__ = ["register"]

# Below this share of the planned messages, the command says the receiver held panels back.
_RATE_SHORTFALL = 0.9


def _fail(console: Console, message: str, code: int = 2) -> typer.Exit:
    console.print(f"[red]error:[/red] {message}", highlight=False)
    return typer.Exit(code)


def _parse_target(text: str) -> tuple[str, int]:
    host, sep, port = text.rpartition(":")
    host = host.strip("[]")
    if not sep or not host or not port.isdigit() or not 1 <= int(port) <= 65535:
        raise ValueError(f"expected HOST:PORT with a port of 1-65535, got {text!r}")
    return host, int(port)


def _parse_accounts_from(text: str, panels: int) -> tuple[int, int]:
    digits = parse_account(text)
    start = int(digits, 16)
    if start + panels - 1 > MAX_ACCOUNT:
        raise ValueError(f"{panels} accounts from {digits} run past 16 hex digits")
    return start, len(digits)


def _key_option(key: str | None, key_ascii: str | None) -> tuple[bytes, str, str]:
    """Return the key bytes, the option that names it, and that option's value."""
    if key is not None:
        return parse_key(key, ascii=False), "--key", key
    text = key_ascii if key_ascii is not None else DEFAULT_KEY_ASCII
    return parse_key(text, ascii=True), "--key-ascii", text


def _plan_from_options(
    console: Console,
    *,
    panels: int,
    rate: float,
    duration: float,
    udp: bool,
    key: bytes | None,
    target: str,
    accounts_from: str,
    reply_timeout: float,
    retries: int,
    seed: int | None,
) -> SimulationPlan:
    for option, value in (
        ("--rate", rate),
        ("--duration", duration),
        ("--reply-timeout", reply_timeout),
    ):
        if not positive(value):
            raise _fail(console, f"{option}: must be a positive number, got {value}")
    if panels < 1:
        raise _fail(console, f"--panels: must be at least 1, got {panels}")
    if retries < 0:
        raise _fail(console, f"--retries: must be 0 or more, got {retries}")
    try:
        host, port = _parse_target(target)
    except ValueError as err:
        raise _fail(console, f"--target: {err}") from err
    try:
        account_start, account_digits = _parse_accounts_from(accounts_from, panels)
    except ValueError as err:
        raise _fail(console, f"--accounts-from: {err}") from err
    return SimulationPlan(
        host=host,
        port=port,
        panels=panels,
        rate=rate,
        duration=duration,
        udp=udp,
        key=key,
        account_start=account_start,
        account_digits=account_digits,
        reply_timeout=reply_timeout,
        retries=retries,
        seed=seed,
    )


def _print_registrations(console: Console, plan: SimulationPlan, key_args: str) -> None:
    for account in plan.accounts():
        console.print(
            f"watchfloor accounts add --account {account}{key_args}",
            highlight=False,
            markup=False,
            soft_wrap=True,
        )


async def _register_accounts(
    plan: SimulationPlan, data_dir: Path | None, config: Path | None
) -> list[str]:
    """Register the plan's accounts that are not yet (as ``accounts add`` does); return notes.

    An account registered already is left as it is; a note says when its key is not the
    plan's (its messages will get DUH).
    """
    notes: list[str] = []
    added = 0
    async with open_repository(cli_settings(config, data_dir=data_dir)) as repository:
        for account in plan.accounts():
            if await repository.find_account(account) is None:
                await add_account(repository, account=account, key=plan.key)
                added += 1
            elif await repository.account_key(account) != plan.key:
                notes.append(
                    f"note: account {account} is registered with another key (or none) than"
                    " this run's: its messages will get DUH"
                )
    accounts = plan.accounts()
    notes.insert(
        0,
        f"registered {added} of accounts {accounts[0]}..{accounts[-1]}"
        f" ({len(accounts) - added} were registered already)",
    )
    return notes


def _closing_note(
    plan: SimulationPlan, report: SimulationReport, *, registered: bool
) -> str | None:
    """Say why messages went unanswered or the rate fell short, naming the likely cause."""
    if report.unanswered and report.connection_errors < report.unanswered:
        accounts = plan.accounts()
        if not registered:
            return (
                f"note: no reply to {report.unanswered} of {report.sent} messages. A receiver"
                " stays silent to unregistered accounts beyond its limit for unregistered"
                " traffic (per source address: WATCHFLOOR_DC09_UNREGISTERED_BURST, then"
                " WATCHFLOOR_DC09_UNREGISTERED_PER_MINUTE); register accounts"
                f" {accounts[0]}..{accounts[-1]}: pass --data-dir with the server's data"
                " directory, or run the commands --register prints"
            )
        return (
            f"note: no reply to {report.unanswered} of {report.sent} messages from registered"
            f" accounts within {plan.reply_timeout:g} s, {plan.retries} retransmissions"
            " included: the receiver could not store them (see its /healthz and log) or is"
            " overloaded"
        )
    if report.sent < _RATE_SHORTFALL * plan.rate * plan.duration:
        return (
            f"note: {report.rate:.1f} of {plan.rate:.1f} msg/s: each panel waits for the reply"
            " to one message before it sends the next, so a slow receiver caps the rate"
        )
    return None


def _run_with_progress(console: Console, plan: SimulationPlan) -> SimulationReport:
    columns = (
        TextColumn("simulate"),
        BarColumn(),
        TimeElapsedColumn(),
        TextColumn("{task.fields[status]}"),
    )
    with Progress(*columns, console=console, refresh_per_second=2, transient=True) as bar:
        task = bar.add_task("simulate", total=plan.duration, status="starting")

        def show(progress: SimulationProgress) -> None:
            bar.update(
                task,
                completed=min(progress.elapsed, progress.duration),
                status=(
                    f"sent {progress.sent} acked {progress.acked} failed {progress.failed}"
                    f" | {progress.rate:.1f} msg/s"
                ),
            )

        return asyncio.run(run_simulation(plan, clock=SystemClock(), progress=show))


def simulate_command(
    panels: Annotated[
        int, typer.Option("--panels", help="Panels, each with its own account and link.")
    ] = 10,
    rate: Annotated[
        float, typer.Option("--rate", help="Messages per second, in total across all panels.")
    ] = 10.0,
    duration: Annotated[float, typer.Option("--duration", help="Seconds to send for.")] = 10.0,
    udp: Annotated[bool, typer.Option("--udp", help="Send over UDP instead of TCP.")] = False,
    encrypt: Annotated[
        bool,
        typer.Option(
            "--encrypt",
            help=f"Encrypt with AES (default key: the test key {DEFAULT_KEY_ASCII!r}, ASCII).",
        ),
    ] = False,
    key: Annotated[
        str | None,
        typer.Option("--key", help="AES key as 32, 48 or 64 hex digits (implies --encrypt)."),
    ] = None,
    key_ascii: Annotated[
        str | None,
        typer.Option("--key-ascii", help="AES key as 16, 24 or 32 characters (implies --encrypt)."),
    ] = None,
    target: Annotated[
        str, typer.Option("--target", help="The receiver's DC-09 HOST:PORT.")
    ] = "127.0.0.1:12000",
    accounts_from: Annotated[
        str,
        typer.Option("--accounts-from", help="First account (hex); panel i uses it plus i."),
    ] = "1000",
    reply_timeout: Annotated[
        float, typer.Option("--reply-timeout", help="Seconds to wait for each reply.")
    ] = 5.0,
    retries: Annotated[
        int, typer.Option("--retries", help="Retransmissions of an unanswered message.")
    ] = 3,
    seed: Annotated[
        int | None, typer.Option("--seed", help="Repeat a run's events and timing offsets.")
    ] = None,
    register: Annotated[
        bool,
        typer.Option(
            "--register",
            help="Print the 'watchfloor accounts add' commands for these accounts, and exit"
            " (with --data-dir: register them there, and exit).",
        ),
    ] = False,
    data_dir: Annotated[
        Path | None,
        typer.Option(
            "--data-dir",
            help="The receiver's data directory: register the panels' accounts in its"
            " database first, as 'watchfloor accounts add' does (WATCHFLOOR_DATABASE_URL"
            " names another database); the server may be running.",
        ),
    ] = None,
    config: Annotated[
        Path | None,
        typer.Option("--config", help="The receiver's TOML settings file (with --data-dir)."),
    ] = None,
) -> None:
    """Act as DC-09 panels to check a receiver; exit 0 only if every message was ACKed."""
    out = Console(highlight=False, soft_wrap=True)
    err = Console(stderr=True, highlight=False, soft_wrap=True)
    if key is not None and key_ascii is not None:
        raise _fail(err, "give --key or --key-ascii, not both")
    aes_key = None
    key_args = ""
    if encrypt or key is not None or key_ascii is not None:
        try:
            aes_key, option, text = _key_option(key, key_ascii)
        except ValueError as error:
            raise _fail(err, f"{'--key' if key is not None else '--key-ascii'}: {error}") from error
        key_args = f" {option} {shlex.quote(text)}"
    plan = _plan_from_options(
        err,
        panels=panels,
        rate=rate,
        duration=duration,
        udp=udp,
        key=aes_key,
        target=target,
        accounts_from=accounts_from,
        reply_timeout=reply_timeout,
        retries=retries,
        seed=seed,
    )
    registered = data_dir is not None or config is not None
    if registered:
        try:
            notes = asyncio.run(_register_accounts(plan, data_dir, config))
        except WatchfloorError as error:
            raise _fail(err, f"--data-dir: cannot register the accounts: {error}", 1) from error
        for note in notes:
            err.print(note, markup=False)
        if register:
            return
    elif register:
        _print_registrations(out, plan, key_args)
        return
    accounts = plan.accounts()
    if aes_key is not None and not registered:
        which = (
            f"the test key {DEFAULT_KEY_ASCII} (ASCII)"
            if key is None and key_ascii is None
            else "the given key"
        )
        err.print(
            f"note: encrypting with {which}; accounts {accounts[0]}..{accounts[-1]} must be"
            " registered with it (--register prints the commands)",
            markup=False,
        )
    try:
        report = _run_with_progress(err, plan)
    except KeyboardInterrupt as interrupt:
        raise _fail(err, "interrupted", 130) from interrupt
    out.print(report.summary_line(), markup=False)
    if report.retransmissions or report.connection_errors or report.stale_replies:
        err.print(
            f"retransmissions {report.retransmissions} connection errors"
            f" {report.connection_errors} stale replies {report.stale_replies}",
            markup=False,
        )
    closing = _closing_note(plan, report, registered=registered)
    if closing is not None:
        err.print(closing, markup=False)
    if report.sent == 0:
        raise _fail(err, "no message was sent: raise --duration or --rate", 1)
    if not report.all_acked:
        raise _fail(err, f"{report.sent - report.acked} of {report.sent} messages not ACKed", 1)


def register(app: typer.Typer) -> None:
    """Attach ``simulate`` to the command line (the watchfloor CLI, or a test's own)."""
    app.command("simulate")(simulate_command)

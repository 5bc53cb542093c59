"""``watchfloor audit`` (verify the chain and its checkpoints, sign one now) and ``purge``."""

from __future__ import annotations

import asyncio
import getpass
from functools import partial
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from watchfloor.adapters.clock import SystemClock
from watchfloor.adapters.signing import AuditSigner, verify_with
from watchfloor.app import database_url, retention_policy
from watchfloor.cli._common import ConfigFile, DataDir, cli_settings
from watchfloor.config import Settings
from watchfloor.core.audit import AuditEntry, VerifyReport
from watchfloor.core.errors import StoreUnavailableError
from watchfloor.store.audit import SqlAuditLog
from watchfloor.store.database import migrate, open_engine
from watchfloor.store.retention import purge

__all__ = ["cli_entry", "register"]

audit_app = typer.Typer(help="The tamper-evident audit log.", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    """Attach ``audit`` and ``purge`` to the command line."""
    app.add_typer(audit_app, name="audit")
    app.command("purge")(purge_command)


_out = Console(highlight=False, soft_wrap=True)
_err = Console(stderr=True, highlight=False, soft_wrap=True)


def cli_entry(action: str, target: str | None = None, *, reason: str | None = None) -> AuditEntry:
    """Return the audit entry of an administrative command run by the local user."""
    return AuditEntry(
        at=SystemClock().now(),
        actor=getpass.getuser(),
        role=None,
        via="cli",
        action=action,
        target=target,
        reason=reason,
    )


def _settings(config: Path | None, data_dir: Path | None) -> tuple[str, AuditSigner]:
    settings = cli_settings(config, data_dir=data_dir)
    return database_url(settings), AuditSigner.load_or_create(settings.data_dir)


def _trusted(signer: AuditSigner, keys: list[str]) -> frozenset[str]:
    for key in keys:
        if len(key) != 64 or any(c not in "0123456789abcdef" for c in key.lower()):
            _err.print(f"[red]error:[/red] --trusted-key: {key!r} is not 64 hex digits")
            raise typer.Exit(2)
    return frozenset({signer.key_id, *(k.lower() for k in keys)})


async def _verify(url: str, trusted: frozenset[str]) -> VerifyReport:
    engine = open_engine(url)
    try:
        await migrate(engine)
        return await SqlAuditLog(engine, SystemClock()).verify(partial(verify_with, trusted))
    finally:
        await engine.dispose()


@audit_app.command("verify")
def verify(
    data_dir: DataDir = None,
    config: ConfigFile = None,
    trusted_key: Annotated[
        list[str] | None,
        typer.Option(
            "--trusted-key",
            help="Another node's checkpoint public key (hex); the data dir's key is trusted.",
        ),
    ] = None,
) -> None:
    """Recompute the hash chain and check every signed checkpoint; exit 1 if anything is wrong."""
    url, signer = _settings(config, data_dir)
    try:
        report = asyncio.run(_verify(url, _trusted(signer, trusted_key or [])))
    except StoreUnavailableError as err:
        _err.print(f"[red]error:[/red] {err}")
        raise typer.Exit(2) from err
    if report.ok:
        _out.print(
            f"audit log OK: {report.rows} rows, {report.checkpoints} signed checkpoints, "
            f"head {report.head_hash}"
        )
        return
    where = f"first broken row {report.first_broken}" if report.first_broken else "checkpoints"
    _err.print(
        f"[red]audit log BROKEN[/red]: {where} "
        f"({report.rows} rows, {report.checkpoints} checkpoints)"
    )
    for problem in report.problems:
        _err.print(f"  - {problem}")
    raise typer.Exit(1)


async def _checkpoint(url: str, signer: AuditSigner) -> str:
    engine = open_engine(url)
    try:
        await migrate(engine)
        audit_log = SqlAuditLog(engine, SystemClock())
        await audit_log.record(cli_entry("audit.checkpoint"))
        checkpoint = await audit_log.add_checkpoint(signer.key_id, signer.sign)
    finally:
        await engine.dispose()
    return f"checkpoint signed: {checkpoint.count} rows, head {checkpoint.head_hash}"


@audit_app.command("checkpoint")
def checkpoint(data_dir: DataDir = None, config: ConfigFile = None) -> None:
    """Sign a checkpoint of the chain now (the server also does so every hour)."""
    url, signer = _settings(config, data_dir)
    try:
        _out.print(asyncio.run(_checkpoint(url, signer)))
    except StoreUnavailableError as err:
        _err.print(f"[red]error:[/red] {err}")
        raise typer.Exit(2) from err


@audit_app.command("key")
def key(data_dir: DataDir = None, config: ConfigFile = None) -> None:
    """Print this data directory's checkpoint public key (give it to verifiers of other nodes)."""
    _, signer = _settings(config, data_dir)
    _out.print(signer.key_id)


async def _purge(settings: Settings) -> str:
    engine = open_engine(database_url(settings))
    try:
        await migrate(engine)
        result = await purge(engine, retention_policy(settings), SystemClock(), getpass.getuser())
    finally:
        await engine.dispose()
    return f"purged {result.summary()}" if result.total else "nothing is past its retention period"


def purge_command(data_dir: DataDir = None, config: ConfigFile = None) -> None:
    """Delete and redact what is past its retention period now (the server does so hourly)."""
    settings = cli_settings(config, data_dir=data_dir)
    try:
        _out.print(asyncio.run(_purge(settings)))
    except StoreUnavailableError as err:
        _err.print(f"[red]error:[/red] {err}")
        raise typer.Exit(2) from err

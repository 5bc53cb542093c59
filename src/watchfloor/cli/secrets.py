"""``watchfloor secrets``: the key file that encrypts secrets at rest, its rotation and use."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping

import typer
from rich.console import Console

from watchfloor.app import database_url, secret_keys
from watchfloor.cli._common import ConfigFile, DataDir, cli_settings, fail
from watchfloor.config import Settings
from watchfloor.core.errors import WatchfloorError
from watchfloor.store.database import migrate, open_engine
from watchfloor.store.reseal import CLEAR, count_sealed
from watchfloor.store.sealing import SecretKeys

__all__ = ["register"]

secrets_app = typer.Typer(
    help="Secrets at rest: the key file that encrypts AES keys, camera passwords, TOTP secrets.",
    no_args_is_help=True,
)

_out = Console(soft_wrap=True, highlight=False)


def register(app: typer.Typer) -> None:
    """Attach ``secrets`` to the command line."""
    app.add_typer(secrets_app, name="secrets")


async def _sealed(settings: Settings, keys: SecretKeys) -> Mapping[str, int]:
    # migrate seals what is in clear and re-seals what is under an older key.
    engine = open_engine(database_url(settings), keys=keys)
    try:
        await migrate(engine)
        return await count_sealed(engine)
    finally:
        await engine.dispose()


def _show(keys: SecretKeys, counts: Mapping[str, int]) -> None:
    _out.print(f"key file {keys.path}")
    for key_id in reversed(keys.key_ids):
        role = "encrypts" if key_id == keys.primary_id else "        "
        _out.print(f"  {key_id}  {role}  {counts.get(key_id, 0)} stored secrets")
    for key_id, count in sorted(counts.items()):
        if key_id != CLEAR and key_id not in keys.key_ids:
            _out.print(f"  {key_id}  missing   {count} stored secrets: restore its key file")
    _out.print(f"stored in clear: {counts.get(CLEAR, 0)}")


@secrets_app.command("status")
def secrets_status(data_dir: DataDir = None, config: ConfigFile = None) -> None:
    """Show the keys of the key file and how many stored secrets each one encrypts."""
    settings = cli_settings(config, data_dir=data_dir)
    try:
        keys = secret_keys(settings)
        _show(keys, asyncio.run(_sealed(settings, keys)))
    except WatchfloorError as err:
        raise fail(str(err), 1) from err


@secrets_app.command("rotate-key")
def secrets_rotate_key(data_dir: DataDir = None, config: ConfigFile = None) -> None:
    """Add a new key, which encrypts from now on, and re-encrypt every stored secret with it.

    The older keys stay in the file: they open backups made before. Remove an old key's line
    once no backup you keep needs it and `watchfloor secrets status` shows 0 for it.
    """
    settings = cli_settings(config, data_dir=data_dir)
    try:
        keys = secret_keys(settings)
        key_id = keys.add_key()
        counts = asyncio.run(_sealed(settings, keys))
    except (WatchfloorError, OSError) as err:
        raise fail(str(err), 1) from err
    _out.print(f"new key {key_id} encrypts from now on; stored secrets re-encrypted with it")
    _show(keys, counts)
    _out.print(
        "A server running now keeps encrypting new secrets with the key it started with until "
        "it restarts; restart it (every node, after copying the key file to each)."
    )

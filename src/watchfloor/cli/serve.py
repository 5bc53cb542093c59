"""``watchfloor serve``: run the platform."""

from __future__ import annotations

import asyncio
import logging
from typing import Annotated

import typer

from watchfloor.app import serve
from watchfloor.cli._common import ConfigFile, DataDir, cli_settings, fail
from watchfloor.config import SettingsError
from watchfloor.core.errors import SecretKeyError, TaxonomyError

__all__ = ["register"]


def register(app: typer.Typer) -> None:
    """Attach ``serve`` to the command line."""
    app.command("serve")(serve_command)


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
    settings = cli_settings(
        config, data_dir=data_dir, http=http, dc09=dc09, dc09_reject_unknown=dc09_reject_unknown
    )
    # force: the ONVIF library configures the root logger when it is imported.
    logging.basicConfig(
        level=settings.log_level,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        force=True,
    )
    # httpx logs every request's URL at INFO; a camera's URL can carry its credentials.
    logging.getLogger("httpx").setLevel(
        max(logging.WARNING, logging.getLevelName(settings.log_level))
    )
    try:
        asyncio.run(serve(settings, announce=lambda text: print(text, flush=True)))
    except (TaxonomyError, SecretKeyError, SettingsError) as err:
        raise fail(str(err)) from err
    except KeyboardInterrupt:
        pass

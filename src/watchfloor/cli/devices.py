"""``watchfloor devices``: register, list and remove cameras, NVRs and Frigate instances."""

from __future__ import annotations

import asyncio
import json
import secrets
from collections.abc import Awaitable, Callable
from datetime import timedelta
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from watchfloor.adapters.clock import SystemClock
from watchfloor.app import store_engine
from watchfloor.cli._common import ConfigFile, DataDir, cli_settings, fail, wide_console
from watchfloor.config import Settings
from watchfloor.core.cameras import CameraRegistration
from watchfloor.core.devices import DeviceKind
from watchfloor.core.errors import TaxonomyError, WatchfloorError
from watchfloor.core.mapping_overrides import MappingOverrides, parse_overrides
from watchfloor.store.cameras import SqlCameraStore
from watchfloor.store.database import migrate
from watchfloor.taxonomy import load_taxonomy

__all__ = ["register"]

devices_app = typer.Typer(help="Cameras, NVRs and Frigate instances.", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    """Attach ``devices`` to the command line."""
    app.add_typer(devices_app, name="devices")


_out = Console(soft_wrap=True, highlight=False)

Kind = Annotated[DeviceKind, typer.Option("--kind", help="hikvision, onvif or frigate.")]
Name = Annotated[str, typer.Option("--name", help="Device name (unique per kind).")]


def _run(settings: Settings, work: Callable[[SqlCameraStore], Awaitable[None]]) -> None:
    async def run() -> None:
        engine = store_engine(settings)
        try:
            await migrate(engine)
            await work(SqlCameraStore(engine, SystemClock()))
        finally:
            await engine.dispose()

    try:
        asyncio.run(run())
    except WatchfloorError as err:
        raise fail(str(err), 1) from err


def _overrides(text: str | None, settings: Settings) -> MappingOverrides | None:
    if text is None:
        return None
    source = Path(text[1:]).read_text(encoding="utf-8") if text.startswith("@") else text
    try:
        known = load_taxonomy(settings.taxonomy_file).types
        return parse_overrides(json.loads(source), known_types=frozenset(known))
    except (ValueError, OSError, TaxonomyError) as err:
        raise fail(f"--overrides: {err}") from err


@devices_app.command("add")
def devices_add(
    kind: Kind,
    name: Name,
    site: Annotated[str, typer.Option("--site", help="Site name (created if new).")],
    zone: Annotated[str | None, typer.Option("--zone", help="Where the camera looks.")] = None,
    heartbeat: Annotated[
        float | None,
        typer.Option(
            "--heartbeat", min=1, help="Seconds between heartbeats; silence is link loss."
        ),
    ] = None,
    url: Annotated[
        str | None,
        typer.Option("--url", help="Device base URL (alertStream pull) or Frigate's HTTP API."),
    ] = None,
    username: Annotated[str | None, typer.Option("--username", help="For --pull.")] = None,
    password: Annotated[str | None, typer.Option("--password", help="For --pull.")] = None,
    pull: Annotated[
        bool, typer.Option("--pull", help="Pull the alertStream instead of receiving pushes.")
    ] = False,
    topic_prefix: Annotated[
        str | None, typer.Option("--topic-prefix", help="Frigate MQTT topic prefix [frigate].")
    ] = None,
    overrides: Annotated[
        str | None,
        typer.Option("--overrides", help="Mapping overrides as JSON, or @FILE holding it."),
    ] = None,
    http: Annotated[
        str | None, typer.Option("--http", help="HOST:PORT the server listens on, for the URL.")
    ] = None,
    data_dir: DataDir = None,
    config: ConfigFile = None,
) -> None:
    """Register a camera, NVR or Frigate instance; prints a Hikvision device's push URL."""
    settings = cli_settings(config, data_dir=data_dir, http=http)
    if pull and (kind is not DeviceKind.HIKVISION or url is None):
        raise fail("--pull: only for --kind hikvision with --url")
    secret = secrets.token_urlsafe(24) if kind is DeviceKind.HIKVISION else None
    registration = CameraRegistration(
        kind=kind,
        name=name,
        site=site,
        zone=zone,
        secret=secret,
        url=url,
        username=username,
        password=password,
        pull=pull,
        topic_prefix=(topic_prefix or "frigate") if kind is DeviceKind.FRIGATE else None,
        heartbeat=None if heartbeat is None else timedelta(seconds=heartbeat),
        overrides=_overrides(overrides, settings),
    )

    async def work(store: SqlCameraStore) -> None:
        camera = await store.add_camera(registration)
        _out.print(f"registered {kind} {camera.device.name} at site {camera.device.site}")
        if secret is not None:
            _out.print("The device posts its events to (shown this once; keep it secret):")
            _out.print(f"http://{settings.http}/ingest/hikvision/{secret}")

    _run(settings, work)


@devices_app.command("list")
def devices_list(data_dir: DataDir = None, config: ConfigFile = None) -> None:
    """List cameras, NVRs and Frigate instances (secrets and passwords are never shown)."""
    settings = cli_settings(config, data_dir=data_dir)

    async def work(store: SqlCameraStore) -> None:
        table = Table(title="Cameras, NVRs and Frigate")
        for column in ("kind", "name", "site", "zone", "intake", "heartbeat", "state"):
            table.add_column(column)
        for camera in await store.list_cameras():
            device = camera.device
            interval = device.supervision_interval
            intake = (
                f"pull {camera.url}"
                if camera.pull
                else f"mqtt {camera.topic_prefix}/…"
                if camera.topic_prefix
                else "push"
            )
            table.add_row(
                device.kind.value,
                device.name,
                device.site or "-",
                device.zone or "-",
                intake,
                f"{interval.total_seconds():g} s" if interval else "off",
                "link lost" if device.link_lost_at else "ok",
            )
        wide_console().print(table)

    _run(settings, work)


@devices_app.command("remove")
def devices_remove(
    kind: Kind, name: Name, data_dir: DataDir = None, config: ConfigFile = None
) -> None:
    """Unregister a device; its signals, pictures and alarms stay."""
    settings = cli_settings(config, data_dir=data_dir)

    async def work(store: SqlCameraStore) -> None:
        await store.remove_camera(kind, name)
        _out.print(f"removed {kind} {name}")

    _run(settings, work)

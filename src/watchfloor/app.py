"""The composition root: the only module that names concrete classes and wires them together."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import signal
import threading
from collections.abc import AsyncIterator, Callable, Coroutine, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import timedelta
from functools import partial
from types import MappingProxyType
from urllib.parse import urlsplit

import httpx
import uvicorn
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncEngine

from watchfloor.adapters.auth_events import AuditedAuthEvents, LoggedAuthEvents
from watchfloor.adapters.bus import LocalBus
from watchfloor.adapters.clock import SystemClock
from watchfloor.adapters.credentials import Argon2Credentials
from watchfloor.adapters.data_dir import prepare_data_dir, prepare_private_file
from watchfloor.adapters.escalation import serve_escalation
from watchfloor.adapters.open_files import (
    FD_RESERVE,
    AcceptErrorFilter,
    connection_budget,
    open_file_limit,
    raise_open_file_limit,
)
from watchfloor.adapters.refusals import RefusalAudit, open_refusal_audit
from watchfloor.adapters.signing import AuditSigner, verify_with
from watchfloor.api import ApiServices, create_api
from watchfloor.api.cameras import CameraServices, RedactPushSecrets
from watchfloor.api.hardening import RequestLimits, redact_secrets
from watchfloor.api.head_limit import head_limited_protocol
from watchfloor.api.metrics import camera_metrics, chain_collectors, disk_metrics, intake_metrics
from watchfloor.api.reports import REPORT_MAX_BODY
from watchfloor.api.sites import SiteServices
from watchfloor.api.staff import StaffServices
from watchfloor.api.transparency import RegisterInfo
from watchfloor.config import Settings, SettingsError
from watchfloor.core.alarm_types import Taxonomy
from watchfloor.core.devices import DeviceKind
from watchfloor.core.disk_space import DiskSpacePolicy
from watchfloor.core.dispatching import Dispatching
from watchfloor.core.handling import AlarmHandling
from watchfloor.core.logins import Logins
from watchfloor.core.notifications import Channel, levels_off_the_ladder
from watchfloor.core.ports import Clock, SignalSink
from watchfloor.core.principals import Role
from watchfloor.core.retention import RetentionPolicy
from watchfloor.core.throttle import (
    BackoffPolicy,
    FailureBackoff,
    FailureWindow,
    ThrottlePolicy,
)
from watchfloor.core.user_admin import UserAdmin
from watchfloor.core.users import AuthEvents, SessionPolicy
from watchfloor.notifiers.dispatcher import NotificationDispatcher
from watchfloor.notifiers.log import AuditedNotificationLog, LoggingNotificationLog
from watchfloor.notifiers.senders import SENDERS
from watchfloor.notifiers.webhook import WebhookOutbox
from watchfloor.receivers.camera_mapping import SnapshotLimits
from watchfloor.receivers.dc09 import Dc09Receiver, Dc09Settings, open_dc09_listeners
from watchfloor.receivers.dc09_accounts import AccountDirectory
from watchfloor.receivers.disk_space import DiskSpaceWatch, FreeBytes, disk_free_bytes
from watchfloor.receivers.frigate import FrigateReceiver, fetch_frigate_snapshot
from watchfloor.receivers.hikvision import AlertStreamPuller, HikvisionPushReceiver
from watchfloor.receivers.onvif import serve_onvif_device
from watchfloor.receivers.open_close import OpenCloseWatch
from watchfloor.receivers.supervision import SupervisionWatch
from watchfloor.store.arming import ArmingSchedules
from watchfloor.store.audit import SqlAuditLog
from watchfloor.store.cameras import SqlCameraStore
from watchfloor.store.database import SQLITE_FILE, migrate, open_engine, sqlite_url
from watchfloor.store.dispatch import SqlDispatchStore
from watchfloor.store.repository import SqlRepository
from watchfloor.store.retention import serve_retention
from watchfloor.store.sealing import KEY_FILE, SecretKeys
from watchfloor.store.sites import SqlSiteStore
from watchfloor.store.taxonomy_history import record_taxonomy, taxonomy_history
from watchfloor.store.users import SqlUsers
from watchfloor.store.writer import GroupCommitWriter, open_writer
from watchfloor.taxonomy import load_taxonomy

__all__ = [
    "Platform",
    "database_url",
    "http_server_config",
    "open_platform",
    "open_repository",
    "open_user_admin",
    "open_users",
    "retention_policy",
    "secret_keys",
    "serve",
    "store_engine",
]

logger = logging.getLogger(__name__)

#: Seconds between two reads of which DC-09 accounts are registered (see AccountDirectory).
_ACCOUNTS_REFRESH_SECONDS = 10.0


def database_url(settings: Settings) -> str:
    """Return the database URL in force: ``WATCHFLOOR_DATABASE_URL`` or SQLite in the data dir.

    For SQLite, the data dir (0700) and the database file (0600) are made if missing.
    """
    if settings.database_url is not None:
        return settings.database_url.value
    prepare_private_file(prepare_data_dir(settings.data_dir) / SQLITE_FILE)
    return sqlite_url(settings.data_dir)


def secret_keys(settings: Settings) -> SecretKeys:
    """Return the secrets key ring of these settings, making its key file if missing."""
    path = settings.secrets_key_file or prepare_data_dir(settings.data_dir) / KEY_FILE
    return SecretKeys.load_or_create(path)


def store_engine(settings: Settings) -> AsyncEngine:
    """Return an engine on the settings' database, its secrets sealed with their key file."""
    return open_engine(database_url(settings), keys=secret_keys(settings))


@asynccontextmanager
async def open_repository(
    settings: Settings, clock: Clock | None = None
) -> AsyncIterator[SqlRepository]:
    """Open the database of these settings, migrated, for administrative commands."""
    engine = store_engine(settings)
    try:
        await migrate(engine)
        yield SqlRepository(engine, clock or SystemClock())
    finally:
        await engine.dispose()


@asynccontextmanager
async def open_users(settings: Settings, clock: Clock | None = None) -> AsyncIterator[SqlUsers]:
    """Open the users and API tokens of these settings' database, migrated."""
    engine = open_engine(database_url(settings))
    try:
        await migrate(engine)
        yield SqlUsers(engine, clock or SystemClock())
    finally:
        await engine.dispose()


@asynccontextmanager
async def open_user_admin(
    settings: Settings, clock: Clock | None = None, events: AuthEvents | None = None
) -> AsyncIterator[UserAdmin]:
    """Open the users and tokens of these settings' database, for administrative commands.

    Every change is audited as the local user's, through the command line.
    """
    engine = store_engine(settings)
    try:
        await migrate(engine)
        clock = clock or SystemClock()
        audit_log = SqlAuditLog(engine, clock)
        yield UserAdmin(
            store=SqlUsers(engine, clock),
            credentials=Argon2Credentials(),
            clock=clock,
            events=events or AuditedAuthEvents(LoggedAuthEvents(), audit_log.record, via="cli"),
        )
    finally:
        await engine.dispose()


def _logins(settings: Settings, users: SqlUsers, clock: Clock, events: AuthEvents) -> Logins:
    window = settings.login_failure_window_seconds
    return Logins(
        store=users,
        credentials=Argon2Credentials(),
        clock=clock,
        policy=SessionPolicy(
            idle=timedelta(seconds=settings.session_idle_seconds),
            absolute=timedelta(seconds=settings.session_absolute_seconds),
        ),
        events=events,
        by_name_and_address=FailureBackoff(
            BackoffPolicy(
                free_attempts=settings.login_failures_per_name,
                first_delay=settings.login_delay_seconds,
                max_delay=max(window, settings.login_delay_seconds),
            )
        ),
        by_address=FailureWindow(
            ThrottlePolicy(attempts=settings.login_failures_per_address, window=window)
        ),
    )


@dataclass(frozen=True, slots=True, kw_only=True)
class Platform:
    """A running platform: the ASGI app, the DC-09 address it listens on, and its parts."""

    api: FastAPI
    dc09_address: tuple[str, int]
    repository: SqlRepository
    users: SqlUsers
    writer: GroupCommitWriter
    receiver: Dc09Receiver
    bus: LocalBus
    taxonomy: Taxonomy
    engine: AsyncEngine
    supervision: SupervisionWatch
    open_close: OpenCloseWatch
    handling: AlarmHandling
    audit_log: SqlAuditLog
    signer: AuditSigner
    cameras: SqlCameraStore
    hikvision: HikvisionPushReceiver
    frigate: FrigateReceiver
    dispatching: Dispatching
    notifications: NotificationDispatcher
    webhooks: WebhookOutbox
    refusals: RefusalAudit
    #: The watch of the data disk (None when the database is not in the data dir).
    disk_space: DiskSpaceWatch | None = None


async def _bootstrap_tokens(
    settings: Settings, users: SqlUsers, announce: Callable[[str], None]
) -> None:
    if settings.bootstrap_token is not None:
        await users.ensure_token(
            user="admin", role=Role.ADMIN, label="bootstrap", token=settings.bootstrap_token.value
        )
        return
    if await users.count_tokens() == 0:
        token = secrets.token_urlsafe(32)
        await users.ensure_token(user="admin", role=Role.ADMIN, label="first-start", token=token)
        announce(
            "First start: an admin token was created; it is shown this once only.\n"
            f"  token:  {token}\n"
            f"  console: http://{settings.http}/#token={token}"
        )


def _disk_space_watch(
    settings: Settings, writer: GroupCommitWriter, clock: Clock, free_bytes: FreeBytes
) -> DiskSpaceWatch | None:
    """The watch of the data disk, which holds the SQLite database (None on PostgreSQL)."""
    if settings.database_url is not None:
        return None  # the database server's disk is watched where it runs
    return DiskSpaceWatch(
        data_dir=settings.data_dir,
        policy=DiskSpacePolicy(
            low_bytes=settings.disk_low_bytes, reserve_bytes=settings.disk_reserve_bytes
        ),
        sink=writer,
        clock=clock,
        period=settings.disk_check_seconds,
        free_bytes=free_bytes,
    )


@asynccontextmanager
async def _camera_intake(
    settings: Settings, cameras: SqlCameraStore, writer: SignalSink, clock: Clock
) -> AsyncIterator[FrigateReceiver]:
    """Run the Frigate subscription (with ``mqtt_url``), alertStream and ONVIF pullers."""
    limits = SnapshotLimits(max_bytes=settings.snapshot_max_bytes)
    async with contextlib.AsyncExitStack() as stack:
        client = await stack.enter_async_context(httpx.AsyncClient())
        frigate = FrigateReceiver(
            directory=cameras,
            sink=writer,
            clock=clock,
            fetch_snapshot=fetch_frigate_snapshot(client, max_bytes=limits.max_bytes),
            snapshots=limits,
        )
        if settings.mqtt_url is not None:
            await stack.enter_async_context(
                _running(frigate.serve(settings.mqtt_url.value), name="frigate")
            )
        for target in await cameras.pull_targets():
            puller = AlertStreamPuller(
                target, sink=writer, clock=clock, client=client, snapshots=limits
            )
            await stack.enter_async_context(
                _running(puller.serve(), name=f"alertstream-{target.device.name}")
            )
        for target in await cameras.pull_targets(DeviceKind.ONVIF):
            address = urlsplit(target.url)
            onvif = serve_onvif_device(
                host=address.hostname or target.url,
                port=address.port or (443 if address.scheme == "https" else 80),
                username=target.username,
                password=target.password,
                device=target.device.name,
                sink=writer,
                clock=clock,
                heartbeat=target.heartbeat or timedelta(seconds=60),
            )
            await stack.enter_async_context(_running(onvif, name=f"onvif-{target.device.name}"))
        yield frigate


def retention_policy(settings: Settings) -> RetentionPolicy:
    """Return the retention policy the settings define."""
    return RetentionPolicy.of_days(
        signals=settings.retention_signals_days,
        images=settings.retention_images_days,
        notes=settings.retention_notes_days,
        closed_alarms=settings.retention_closed_alarms_days,
    )


@asynccontextmanager
async def _running(work: Coroutine[object, object, None], *, name: str) -> AsyncIterator[None]:
    """Run a background task for the duration of the block; cancel it on exit."""
    task = asyncio.create_task(work, name=name)
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        if not task.cancelled() and task.exception() is not None:
            logger.error("background task %s had failed", name, exc_info=task.exception())


@asynccontextmanager
async def open_platform(
    settings: Settings,
    *,
    clock: Clock | None = None,
    announce: Callable[[str], None] = logger.info,
    free_bytes: FreeBytes = disk_free_bytes,
) -> AsyncIterator[Platform]:
    """Start everything but the HTTP listener: store, writer, DC-09 listeners, the ASGI app.

    ``free_bytes`` measures the data disk (tests pass their own).

    On exit the DC-09 listeners close first (their unacknowledged frames will be
    retransmitted), then the counted refusals are written, then the writer drains, then a
    last audit checkpoint is signed, then the database closes. A first checkpoint is signed
    at start-up.
    """
    clock = clock or SystemClock()
    taxonomy = load_taxonomy(settings.taxonomy_file)
    ladder = (level.name for level in taxonomy.escalation_ladder)
    if problems := levels_off_the_ladder(settings.notify, ladder):
        raise SettingsError(problems)
    engine = store_engine(settings)
    try:
        await migrate(engine)
        repository = SqlRepository(engine, clock)
        users = SqlUsers(engine, clock)
        audit_log = SqlAuditLog(engine, clock)
        signer = AuditSigner.load_or_create(settings.data_dir)
        await _bootstrap_tokens(settings, users, announce)
        await record_taxonomy(engine, taxonomy, clock)
        bus = LocalBus()
        async with (
            audit_log.checkpointed(signer.key_id, signer.sign),
            open_writer(
                engine,
                taxonomy,
                clock,
                bus.publish,
                flood_threshold=settings.flood_threshold or None,
                flood_window=timedelta(seconds=settings.flood_window_seconds),
            ) as writer,
        ):
            disk = _disk_space_watch(settings, writer, clock, free_bytes)
            # Panels, cameras and supervision stop while the disk is down to its reserve.
            intake = writer if disk is None else disk.gate(writer)
            if disk is not None:
                await disk.check()
            accounts = AccountDirectory(repository, clock)
            await accounts.refresh()
            receiver = Dc09Receiver(
                sink=intake,
                lookup=accounts.lookup,
                registered=accounts.is_registered,
                clock=clock,
                settings=Dc09Settings(
                    idle_timeout=settings.dc09_idle_timeout,
                    frame_timeout=settings.dc09_frame_timeout,
                    max_frame=settings.dc09_max_frame,
                    max_connections=_dc09_max_connections(settings),
                    reject_unknown=settings.dc09_reject_unknown,
                    unregistered_per_minute=settings.dc09_unregistered_per_minute,
                    unregistered_burst=settings.dc09_unregistered_burst,
                ),
            )
            watch = SupervisionWatch(
                devices=repository, sink=intake, clock=clock, period=settings.supervision_period
            )
            open_close = OpenCloseWatch(
                schedules=ArmingSchedules(engine),
                sink=intake,
                clock=clock,
                period=settings.open_close_period,
            )
            handling = AlarmHandling(
                repository=repository, taxonomy=taxonomy, clock=clock, publish=bus.publish
            )
            cameras = SqlCameraStore(engine, clock)
            hikvision = HikvisionPushReceiver(
                devices=cameras,
                sink=intake,
                clock=clock,
                max_body=settings.camera_max_body,
                snapshots=SnapshotLimits(max_bytes=settings.snapshot_max_bytes),
            )
            units = SqlDispatchStore(engine, clock)
            dispatching = Dispatching(
                units=units, repository=repository, clock=clock, publish=bus.publish
            )
            notification_log = AuditedNotificationLog(LoggingNotificationLog(), audit_log.record)
            async with httpx.AsyncClient() as http:
                webhooks = WebhookOutbox(
                    client=http, clock=clock, dead_letters=units, log=notification_log
                )
                notifications = NotificationDispatcher(
                    rules=settings.notify,
                    outbox=webhooks,
                    senders=SENDERS,
                    log=notification_log,
                    clock=clock,
                )
                site_store = SqlSiteStore(engine, clock)
                staff = StaffServices(
                    sink=writer,
                    store=units,
                    dispatching=dispatching,
                    dead_letters=units,
                    notification_log=notification_log,
                    clock=clock,
                    cap_rules=tuple(r for r in settings.notify if r.channel is Channel.CAP),
                    cap_sender=settings.cap_sender,
                    sites=site_store,
                )
                async with (
                    open_dc09_listeners(
                        receiver, host=settings.dc09.host, port=settings.dc09.port
                    ) as address,
                    _running(watch.serve(), name="supervision"),
                    _running(open_close.serve(), name="open-close"),
                    _running(accounts.serve(_ACCOUNTS_REFRESH_SECONDS), name="dc09-accounts"),
                    _running(
                        serve_escalation(handling, settings.supervision_period),
                        name="escalation",
                    ),
                    _running(
                        audit_log.serve_checkpoints(
                            signer.key_id, signer.sign, period=settings.audit_checkpoint_interval
                        ),
                        name="audit-checkpoints",
                    ),
                    _running(
                        serve_retention(
                            engine,
                            retention_policy(settings),
                            clock,
                            settings.retention_purge_interval,
                        ),
                        name="retention",
                    ),
                    _running(notification_log.serve(), name="notification-audit"),
                    _running(webhooks.serve(), name="webhooks"),
                    _running(notifications.serve(bus), name="notifications"),
                    _camera_intake(settings, cameras, intake, clock) as frigate,
                    open_refusal_audit(
                        audit_log.record,
                        clock,
                        interval=timedelta(seconds=settings.audit_refusal_interval),
                    ) as refusals,
                    contextlib.nullcontext() if disk is None else disk.running(),
                ):
                    auth_events = AuditedAuthEvents(
                        LoggedAuthEvents(),
                        audit_log.record,
                        via="session",
                        counted=refusals.record,
                    )
                    logins = _logins(settings, users, clock, auth_events)
                    api = create_api(
                        ApiServices(
                            alarms=repository,
                            accounts=repository,
                            users=users,
                            health=repository,
                            handling=handling,
                            events=bus,
                            metrics=chain_collectors(
                                intake_metrics(receiver, writer, bus),
                                camera_metrics(hikvision, frigate),
                                disk_metrics(disk),
                            ),
                            register=RegisterInfo(
                                operator_name=settings.operator_name,
                                contact=settings.contact,
                                retention=retention_policy(settings),
                                taxonomy_history=partial(taxonomy_history, engine),
                            ),
                            audit_log=audit_log,
                            signer=signer,
                            verify_signature=partial(verify_with, frozenset({signer.key_id})),
                            refusals=refusals,
                            request_limits=RequestLimits(
                                default=settings.max_request_bytes,
                                # Cameras push pictures, and a guard's report may carry
                                # a photo (base64: 4/3 of its size): larger limits.
                                by_prefix=MappingProxyType(
                                    {
                                        "/ingest/": settings.camera_max_body,
                                        "/api/reports": REPORT_MAX_BODY,
                                    }
                                ),
                            ),
                            disk_space=(lambda: None) if disk is None else lambda: disk.space,
                            cameras=CameraServices(
                                registry=cameras,
                                push=hikvision,
                                alarm_types=frozenset(taxonomy.types),
                            ),
                            staff=staff,
                            sites=SiteServices(
                                store=site_store,
                                credentials=logins.credentials,
                            ),
                            stream_recheck_seconds=settings.stream_recheck_seconds,
                            metrics_token=(
                                settings.metrics_token.value if settings.metrics_token else None
                            ),
                            logins=logins,
                            user_admin=UserAdmin(
                                store=users,
                                credentials=logins.credentials,
                                clock=clock,
                                events=auth_events,
                            ),
                        )
                    )
                    yield Platform(
                        api=api,
                        dc09_address=address,
                        repository=repository,
                        users=users,
                        writer=writer,
                        receiver=receiver,
                        bus=bus,
                        taxonomy=taxonomy,
                        engine=engine,
                        supervision=watch,
                        open_close=open_close,
                        handling=handling,
                        audit_log=audit_log,
                        signer=signer,
                        cameras=cameras,
                        hikvision=hikvision,
                        frigate=frigate,
                        dispatching=dispatching,
                        notifications=notifications,
                        webhooks=webhooks,
                        refusals=refusals,
                        disk_space=disk,
                    )
    finally:
        await engine.dispose()


class _Server(uvicorn.Server):
    """uvicorn's server, except that a stop signal only ends ``serve``.

    uvicorn raises a SIGTERM or SIGINT it caught again once it has stopped, so that the
    signal's default action follows; for SIGTERM that ends the process there and then, before
    ``open_platform`` drains the writer, writes the counted refusals and signs the last audit
    checkpoint. Here the signal stops the server and the platform then shuts down in order;
    a second signal during that shutdown has its default effect (the handlers are gone).
    """

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        """Stop the server on SIGINT/SIGTERM while the block runs (main thread only)."""
        if threading.current_thread() is not threading.main_thread():
            yield
            return
        loop = asyncio.get_running_loop()
        stops = (signal.SIGINT, signal.SIGTERM)
        for stop in stops:
            loop.add_signal_handler(stop, self.handle_exit, stop, None)
        try:
            yield
        finally:
            for stop in stops:
                loop.remove_signal_handler(stop)


def _dc09_max_connections(settings: Settings) -> int:
    """``dc09_max_connections``, lowered (with a warning) to what the open-file limit holds."""
    limit = open_file_limit()
    budget = connection_budget(settings.dc09_max_connections, limit)
    if budget < settings.dc09_max_connections:
        logger.warning(
            "dc09_max_connections lowered from %d to %d: the process may open %d files and "
            "keeps %d for HTTP, the database and logs; raise the hard limit (ulimit -Hn, "
            "systemd LimitNOFILE=) to allow more",
            settings.dc09_max_connections,
            budget,
            limit,
            min(FD_RESERVE, limit - budget),
        )
    return budget


def http_server_config(settings: Settings, api: FastAPI) -> uvicorn.Config:
    """Return the HTTP server's configuration for the settings.

    Request heads beyond ``max_header_bytes`` get 431. ``X-Forwarded-For`` and
    ``X-Forwarded-Proto`` are believed only from ``trusted_proxies`` (none by default): from
    anyone else they would let a client choose the address its sign-in failures, lockouts
    and audit rows are recorded under.
    """
    return uvicorn.Config(
        api,
        host=settings.http.host,
        port=settings.http.port,
        http=head_limited_protocol(settings.max_header_bytes),
        proxy_headers=bool(settings.trusted_proxies),
        forwarded_allow_ips=list(settings.trusted_proxies),
        log_config=None,
        lifespan="off",
        # The middleware logs requests without their query strings (the stream's token).
        access_log=False,
    )


async def serve(settings: Settings, *, announce: Callable[[str], None] = logger.info) -> None:
    """Run the platform until SIGINT/SIGTERM: DC-09 on TCP and UDP, HTTP, the console."""
    before, after = raise_open_file_limit(settings.dc09_max_connections + FD_RESERVE)
    if after > before:
        logger.info("open file limit raised from %d to %d", before, after)
    # A process out of descriptors would log every refused accept, with its traceback.
    logging.getLogger("asyncio").addFilter(AcceptErrorFilter(SystemClock().monotonic))
    async with open_platform(settings, announce=announce) as platform:
        config = http_server_config(settings, platform.api)
        for name in ("uvicorn.error", "uvicorn.access"):
            logging.getLogger(name).addFilter(redact_secrets)
        # The access logs name each request's path, and a push path carries a device secret.
        for name in ("uvicorn.access", "watchfloor.access"):
            logging.getLogger(name).addFilter(RedactPushSecrets())
        server = _Server(config)
        logger.info(
            "console and API on http://%s, DC-09 on %s:%s", settings.http, *platform.dc09_address
        )
        await server.serve()

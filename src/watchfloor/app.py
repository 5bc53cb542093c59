"""The composition root: the only module that names concrete classes and wires them together."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from collections.abc import AsyncIterator, Callable, Coroutine, Iterable
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
from watchfloor.adapters.signing import AuditSigner, verify_with
from watchfloor.api import ApiServices, create_api
from watchfloor.api.application import Metric
from watchfloor.api.cameras import CameraServices, RedactPushSecrets
from watchfloor.api.field import FieldServices
from watchfloor.api.hardening import RequestLimits, redact_secrets
from watchfloor.api.reports import REPORT_MAX_BODY
from watchfloor.api.transparency import RegisterInfo
from watchfloor.config import Settings, SettingsError
from watchfloor.core.alarm_types import Taxonomy
from watchfloor.core.audit import AuditEntry
from watchfloor.core.devices import DeviceKind
from watchfloor.core.dispatching import Dispatching
from watchfloor.core.errors import StoreUnavailableError
from watchfloor.core.handling import AlarmHandling
from watchfloor.core.logins import Logins
from watchfloor.core.notifications import Channel, levels_off_the_ladder
from watchfloor.core.ports import Clock
from watchfloor.core.principals import Role
from watchfloor.core.retention import PurgeResult, RetentionPolicy
from watchfloor.core.throttle import FailureWindow, ThrottlePolicy
from watchfloor.core.user_admin import UserAdmin
from watchfloor.core.users import AuthEvents, SessionPolicy
from watchfloor.notifiers.dispatcher import NotificationDispatcher
from watchfloor.notifiers.log import AuditedNotificationLog, LoggingNotificationLog
from watchfloor.notifiers.senders import SENDERS
from watchfloor.notifiers.webhook import WebhookOutbox
from watchfloor.receivers.camera_mapping import SnapshotLimits
from watchfloor.receivers.dc09 import AccountView, Dc09Receiver, Dc09Settings, open_dc09_listeners
from watchfloor.receivers.frigate import FrigateReceiver, fetch_frigate_snapshot
from watchfloor.receivers.hikvision import AlertStreamPuller, HikvisionPushReceiver
from watchfloor.receivers.onvif import serve_onvif_device
from watchfloor.receivers.supervision import SupervisionWatch
from watchfloor.store.audit import SqlAuditLog
from watchfloor.store.cameras import SqlCameraStore
from watchfloor.store.database import migrate, open_engine, sqlite_url
from watchfloor.store.dispatch import SqlDispatchStore
from watchfloor.store.repository import SqlRepository
from watchfloor.store.retention import purge_due
from watchfloor.store.taxonomy_history import record_taxonomy, taxonomy_history
from watchfloor.store.users import SqlUsers
from watchfloor.store.writer import GroupCommitWriter, open_writer
from watchfloor.taxonomy import load_taxonomy

__all__ = [
    "Platform",
    "database_url",
    "open_platform",
    "open_repository",
    "open_user_admin",
    "purge",
    "retention_policy",
    "serve",
]

logger = logging.getLogger(__name__)


def database_url(settings: Settings) -> str:
    """Return the database URL in force: ``WATCHFLOOR_DATABASE_URL`` or SQLite in the data dir."""
    if settings.database_url is not None:
        return settings.database_url.value
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    return sqlite_url(settings.data_dir)


@asynccontextmanager
async def open_repository(
    settings: Settings, clock: Clock | None = None
) -> AsyncIterator[SqlRepository]:
    """Open the database of these settings, migrated, for administrative commands."""
    engine = open_engine(database_url(settings))
    try:
        await migrate(engine)
        yield SqlRepository(engine, clock or SystemClock())
    finally:
        await engine.dispose()


@asynccontextmanager
async def open_user_admin(
    settings: Settings, clock: Clock | None = None, events: AuthEvents | None = None
) -> AsyncIterator[UserAdmin]:
    """Open the users and tokens of these settings' database, for administrative commands.

    Every change is audited as the local user's, through the command line.
    """
    engine = open_engine(database_url(settings))
    try:
        await migrate(engine)
        audit_log = SqlAuditLog(engine, clock or SystemClock())
        yield UserAdmin(
            store=SqlUsers(engine),
            credentials=Argon2Credentials(),
            clock=clock or SystemClock(),
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
        by_name=FailureWindow(
            ThrottlePolicy(attempts=settings.login_failures_per_name, window=window)
        ),
        by_address=FailureWindow(
            ThrottlePolicy(attempts=settings.login_failures_per_address, window=window)
        ),
    )


class AccountDirectory:
    """The receiver's view of DC-09 accounts, read from the store and kept for a second.

    Panels send in bursts; the second-long memory spares the store two reads per frame while
    an account added, changed or disabled (CLI, API, another node) still applies within
    ``ttl`` seconds.
    """

    def __init__(self, repository: SqlRepository, clock: Clock, *, ttl: float = 1.0) -> None:
        self._repository = repository
        self._clock = clock
        self._ttl = ttl
        self._views: dict[str, tuple[float, AccountView | None]] = {}

    async def lookup(self, account: str) -> AccountView | None:
        """Return the account's view (None: not registered)."""
        now = self._clock.monotonic()
        cached = self._views.get(account)
        if cached is not None and now - cached[0] < self._ttl:
            return cached[1]
        device = await self._repository.find_account(account)
        view = None
        if device is not None:
            key = await self._repository.account_key(account) if device.has_key else None
            view = AccountView(key=key, enabled=device.enabled)
        if len(self._views) > 100_000:
            self._views.clear()  # a scan of random accounts must not grow memory forever
        self._views[account] = (now, view)
        return view


@dataclass(frozen=True, slots=True, kw_only=True)
class Platform:
    """A running platform: the ASGI app, the DC-09 address it listens on, and its parts."""

    api: FastAPI
    dc09_address: tuple[str, int]
    repository: SqlRepository
    writer: GroupCommitWriter
    receiver: Dc09Receiver
    bus: LocalBus
    taxonomy: Taxonomy
    engine: AsyncEngine
    supervision: SupervisionWatch
    handling: AlarmHandling
    audit_log: SqlAuditLog
    signer: AuditSigner
    cameras: SqlCameraStore
    hikvision: HikvisionPushReceiver
    frigate: FrigateReceiver
    dispatching: Dispatching
    notifications: NotificationDispatcher
    webhooks: WebhookOutbox


async def _bootstrap_tokens(
    settings: Settings, repository: SqlRepository, announce: Callable[[str], None]
) -> None:
    if settings.bootstrap_token is not None:
        await repository.ensure_token(
            user="admin", role=Role.ADMIN, label="bootstrap", token=settings.bootstrap_token.value
        )
        return
    if await repository.count_tokens() == 0:
        token = secrets.token_urlsafe(32)
        await repository.ensure_token(
            user="admin", role=Role.ADMIN, label="first-start", token=token
        )
        announce(
            "First start: an admin token was created; it is shown this once only.\n"
            f"  token:  {token}\n"
            f"  console: http://{settings.http}/#token={token}"
        )


def _metrics(
    receiver: Dc09Receiver, writer: GroupCommitWriter, bus: LocalBus
) -> Callable[[], Iterable[Metric]]:
    def collect() -> Iterable[Metric]:
        stats = writer.stats
        yield Metric(
            name="watchfloor_dc09_events_total",
            help="DC-09 receiver events by outcome (acked, rejected_*, limit_*, ...)",
            kind="counter",
            samples=tuple(
                ((("outcome", k),), float(v)) for k, v in sorted(receiver.counters.items())
            ),
        )
        yield Metric(
            name="watchfloor_dc09_open_connections",
            help="Open DC-09 TCP connections",
            kind="gauge",
            samples=(((), float(receiver.open_connections)),),
        )
        yield Metric(
            name="watchfloor_intake_queue_depth",
            help="Signals waiting for the writer",
            kind="gauge",
            samples=(((), float(stats.queue_depth)),),
        )
        yield Metric(
            name="watchfloor_intake_batches_total",
            help="Group commits done",
            kind="counter",
            samples=(((), float(stats.batches)),),
        )
        yield Metric(
            name="watchfloor_intake_signals_total",
            help="Signals committed",
            kind="counter",
            samples=(((), float(stats.signals_committed)),),
        )
        yield Metric(
            name="watchfloor_intake_link_tests_total",
            help="Link tests (DC-09 NULL) committed",
            kind="counter",
            samples=(((), float(stats.link_tests_committed)),),
        )
        yield Metric(
            name="watchfloor_intake_failed_batches_total",
            help="Group commits that failed",
            kind="counter",
            samples=(((), float(stats.failed_batches)),),
        )
        yield Metric(
            name="watchfloor_intake_last_batch_size",
            help="Items in the last commit",
            kind="gauge",
            samples=(((), float(stats.last_batch_size)),),
        )
        yield Metric(
            name="watchfloor_intake_commit_seconds",
            help="Latency of the last group commit",
            kind="gauge",
            samples=(((), stats.last_commit_seconds),),
        )
        yield Metric(
            name="watchfloor_stream_subscribers",
            help="Consoles on the alarm stream",
            kind="gauge",
            samples=(((), float(bus.subscriber_count)),),
        )

    return collect


def _camera_metrics(
    hikvision: HikvisionPushReceiver, frigate: FrigateReceiver
) -> Callable[[], Iterable[Metric]]:
    def collect() -> Iterable[Metric]:
        for name, help_text, counters in (
            ("watchfloor_hikvision_push_total", "Hikvision pushes by outcome", hikvision.counters),
            (
                "watchfloor_frigate_messages_total",
                "Frigate MQTT messages by outcome",
                frigate.counters,
            ),
        ):
            yield Metric(
                name=name,
                help=help_text,
                kind="counter",
                samples=tuple(((("outcome", k),), float(v)) for k, v in sorted(counters.items())),
            )

    return collect


def _chain(*collectors: Callable[[], Iterable[Metric]]) -> Callable[[], Iterable[Metric]]:
    def collect() -> Iterable[Metric]:
        for collector in collectors:
            yield from collector()

    return collect


@asynccontextmanager
async def _camera_intake(
    settings: Settings, cameras: SqlCameraStore, writer: GroupCommitWriter, clock: Clock
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


async def _serve_escalation(handling: AlarmHandling, period: float) -> None:
    """Move alarms past their deadline up the escalation ladder, every ``period`` seconds."""
    while True:
        try:
            for alarm in await handling.escalate_overdue():
                logger.warning(
                    "alarm %s (priority %s) escalated to %s: not acknowledged in time",
                    alarm.id,
                    alarm.priority,
                    alarm.escalation_level,
                )
        except StoreUnavailableError:
            logger.error("escalation check failed: store unavailable; retrying")
        except Exception:  # task boundary: escalation must outlive a bug in one check
            logger.exception("escalation check failed")
        await asyncio.sleep(period)


async def _serve_checkpoints(audit_log: SqlAuditLog, signer: AuditSigner, period: float) -> None:
    """Sign a checkpoint of the audit chain every ``period`` seconds, and once at the end.

    The last one, written while shutting down, makes rows removed from the end of the chain
    while the server is stopped detectable.
    """
    try:
        while True:
            await asyncio.sleep(period)
            try:
                checkpoint = await audit_log.add_checkpoint(signer.key_id, signer.sign)
                logger.info("audit checkpoint: %s rows", checkpoint.count)
            except StoreUnavailableError:
                logger.error("audit checkpoint failed: store unavailable; retrying")
            except Exception:  # task boundary: checkpoints must outlive a bug in one
                logger.exception("audit checkpoint failed")
    finally:
        with contextlib.suppress(StoreUnavailableError):
            await audit_log.add_checkpoint(signer.key_id, signer.sign)


def retention_policy(settings: Settings) -> RetentionPolicy:
    """Return the retention policy the settings define."""
    return RetentionPolicy.of_days(
        signals=settings.retention_signals_days,
        images=settings.retention_images_days,
        notes=settings.retention_notes_days,
        closed_alarms=settings.retention_closed_alarms_days,
    )


async def purge(
    engine: AsyncEngine, policy: RetentionPolicy, clock: Clock, actor: str
) -> PurgeResult:
    """Purge everything due now under the policy; each batch is audited as ``actor``'s."""
    cutoffs = policy.cutoffs(clock.now())

    def entry(done: PurgeResult) -> AuditEntry:
        return AuditEntry(
            at=clock.now(),
            actor=actor,
            role=None,
            via="system" if actor == "system" else "cli",
            action="retention.purge",
            target=done.summary(),
            reason="retention period ended",
        )

    return await purge_due(engine, cutoffs, entry)


async def _serve_retention(
    engine: AsyncEngine, policy: RetentionPolicy, clock: Clock, period: float
) -> None:
    """Purge what is past its retention period, now and every ``period`` seconds."""
    while True:
        try:
            result = await purge(engine, policy, clock, "system")
            if result.total:
                logger.info("retention purge: %s", result.summary())
        except StoreUnavailableError:
            logger.error("retention purge failed: store unavailable; retrying")
        except Exception:  # task boundary: the purge must outlive a bug in one run
            logger.exception("retention purge failed")
        await asyncio.sleep(period)


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
) -> AsyncIterator[Platform]:
    """Start everything but the HTTP listener: store, writer, DC-09 listeners, the ASGI app.

    On exit the DC-09 listeners close first (their unacknowledged frames will be
    retransmitted), then the writer drains, then the database closes.
    """
    clock = clock or SystemClock()
    taxonomy = load_taxonomy(settings.taxonomy_file)
    ladder = (level.name for level in taxonomy.escalation_ladder)
    if problems := levels_off_the_ladder(settings.notify, ladder):
        raise SettingsError(problems)
    engine = open_engine(database_url(settings))
    try:
        await migrate(engine)
        repository = SqlRepository(engine, clock)
        audit_log = SqlAuditLog(engine, clock)
        signer = AuditSigner.load_or_create(settings.data_dir)
        await _bootstrap_tokens(settings, repository, announce)
        await record_taxonomy(engine, taxonomy, clock)
        bus = LocalBus()
        async with open_writer(
            engine,
            taxonomy,
            clock,
            bus.publish,
            flood_threshold=settings.flood_threshold or None,
            flood_window=timedelta(seconds=settings.flood_window_seconds),
        ) as writer:
            receiver = Dc09Receiver(
                sink=writer,
                lookup=AccountDirectory(repository, clock).lookup,
                clock=clock,
                settings=Dc09Settings(
                    idle_timeout=settings.dc09_idle_timeout,
                    max_frame=settings.dc09_max_frame,
                    max_connections=settings.dc09_max_connections,
                    reject_unknown=settings.dc09_reject_unknown,
                    unregistered_per_minute=settings.dc09_unregistered_per_minute,
                    unregistered_burst=settings.dc09_unregistered_burst,
                ),
            )
            watch = SupervisionWatch(
                devices=repository, sink=writer, clock=clock, period=settings.supervision_period
            )
            handling = AlarmHandling(
                repository=repository, taxonomy=taxonomy, clock=clock, publish=bus.publish
            )
            cameras = SqlCameraStore(engine, clock)
            hikvision = HikvisionPushReceiver(
                devices=cameras,
                sink=writer,
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
                field = FieldServices(
                    sink=writer,
                    store=units,
                    dispatching=dispatching,
                    dead_letters=units,
                    notification_log=notification_log,
                    clock=clock,
                    cap_rules=tuple(r for r in settings.notify if r.channel is Channel.CAP),
                    cap_sender=settings.cap_sender,
                )
                async with (
                    open_dc09_listeners(
                        receiver, host=settings.dc09.host, port=settings.dc09.port
                    ) as address,
                    _running(watch.serve(), name="supervision"),
                    _running(
                        _serve_escalation(handling, settings.supervision_period),
                        name="escalation",
                    ),
                    _running(
                        _serve_checkpoints(audit_log, signer, settings.audit_checkpoint_interval),
                        name="audit-checkpoints",
                    ),
                    _running(
                        _serve_retention(
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
                    _camera_intake(settings, cameras, writer, clock) as frigate,
                ):
                    users = SqlUsers(engine)
                    auth_events = AuditedAuthEvents(
                        LoggedAuthEvents(), audit_log.record, via="session"
                    )
                    logins = _logins(settings, users, clock, auth_events)
                    api = create_api(
                        ApiServices(
                            repository=repository,
                            handling=handling,
                            events=bus,
                            metrics=_chain(
                                _metrics(receiver, writer, bus),
                                _camera_metrics(hikvision, frigate),
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
                            cameras=CameraServices(
                                registry=cameras,
                                push=hikvision,
                                alarm_types=frozenset(taxonomy.types),
                            ),
                            field=field,
                            stream_recheck_seconds=settings.stream_recheck_seconds,
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
                        writer=writer,
                        receiver=receiver,
                        bus=bus,
                        taxonomy=taxonomy,
                        engine=engine,
                        supervision=watch,
                        handling=handling,
                        audit_log=audit_log,
                        signer=signer,
                        cameras=cameras,
                        hikvision=hikvision,
                        frigate=frigate,
                        dispatching=dispatching,
                        notifications=notifications,
                        webhooks=webhooks,
                    )
    finally:
        await engine.dispose()


async def serve(settings: Settings, *, announce: Callable[[str], None] = logger.info) -> None:
    """Run the platform until SIGINT/SIGTERM: DC-09 on TCP and UDP, HTTP, the console."""
    async with open_platform(settings, announce=announce) as platform:
        config = uvicorn.Config(
            platform.api,
            host=settings.http.host,
            port=settings.http.port,
            log_config=None,
            lifespan="off",
            # The middleware logs requests without their query strings (the stream's token).
            access_log=False,
        )
        for name in ("uvicorn.error", "uvicorn.access"):
            logging.getLogger(name).addFilter(redact_secrets)
        # The access logs name each request's path, and a push path carries a device secret.
        for name in ("uvicorn.access", "watchfloor.access"):
            logging.getLogger(name).addFilter(RedactPushSecrets())
        server = uvicorn.Server(config)
        logger.info(
            "console and API on http://%s, DC-09 on %s:%s", settings.http, *platform.dc09_address
        )
        await server.serve()

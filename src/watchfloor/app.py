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

import uvicorn
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncEngine

from watchfloor.api import ApiServices, create_api
from watchfloor.api.application import Metric
from watchfloor.api.transparency import RegisterInfo
from watchfloor.auth_events import LoggedAuthEvents
from watchfloor.bus import LocalBus
from watchfloor.clock import SystemClock
from watchfloor.config import Settings
from watchfloor.core.alarm_types import Taxonomy
from watchfloor.core.errors import StoreUnavailableError
from watchfloor.core.handling import AlarmHandling
from watchfloor.core.logins import Logins
from watchfloor.core.ports import Clock
from watchfloor.core.principals import Role
from watchfloor.core.throttle import FailureWindow, ThrottlePolicy
from watchfloor.core.user_admin import UserAdmin
from watchfloor.core.users import AuthEvents, SessionPolicy
from watchfloor.credentials import Argon2Credentials
from watchfloor.receivers.dc09 import AccountView, Dc09Receiver, Dc09Settings, open_dc09_listeners
from watchfloor.receivers.supervision import SupervisionWatch
from watchfloor.store.database import migrate, open_engine, sqlite_url
from watchfloor.store.repository import SqlRepository
from watchfloor.store.users import SqlUsers
from watchfloor.store.writer import GroupCommitWriter, open_writer
from watchfloor.taxonomy import load_taxonomy

__all__ = [
    "Platform",
    "database_url",
    "open_platform",
    "open_repository",
    "open_user_admin",
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
    """Open the users and tokens of these settings' database, for administrative commands."""
    engine = open_engine(database_url(settings))
    try:
        await migrate(engine)
        yield UserAdmin(
            store=SqlUsers(engine),
            credentials=Argon2Credentials(),
            clock=clock or SystemClock(),
            events=events or LoggedAuthEvents(),
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


async def _serve_escalation(handling: AlarmHandling, period: float) -> None:
    """Escalate alarms past their acknowledgement deadline, every ``period`` seconds."""
    while True:
        try:
            for alarm in await handling.escalate_overdue():
                logger.warning(
                    "alarm %s escalated to priority %s: not acknowledged in time",
                    alarm.id,
                    alarm.priority,
                )
        except StoreUnavailableError:
            logger.error("escalation check failed: store unavailable; retrying")
        except Exception:  # task boundary: escalation must outlive a bug in one check
            logger.exception("escalation check failed")
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
    engine = open_engine(database_url(settings))
    try:
        await migrate(engine)
        repository = SqlRepository(engine, clock)
        await _bootstrap_tokens(settings, repository, announce)
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
            async with (
                open_dc09_listeners(
                    receiver, host=settings.dc09.host, port=settings.dc09.port
                ) as address,
                _running(watch.serve(), name="supervision"),
                _running(
                    _serve_escalation(handling, settings.supervision_period), name="escalation"
                ),
            ):
                users, events = SqlUsers(engine), LoggedAuthEvents()
                logins = _logins(settings, users, clock, events)
                api = create_api(
                    ApiServices(
                        repository=repository,
                        handling=handling,
                        events=bus,
                        metrics=_metrics(receiver, writer, bus),
                        register=RegisterInfo(
                            operator_name=settings.operator_name, contact=settings.contact
                        ),
                        logins=logins,
                        user_admin=UserAdmin(
                            store=users,
                            credentials=logins.credentials,
                            clock=clock,
                            events=events,
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
        )
        server = uvicorn.Server(config)
        logger.info(
            "console and API on http://%s, DC-09 on %s:%s", settings.http, *platform.dc09_address
        )
        await server.serve()

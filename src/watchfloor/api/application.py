"""The FastAPI application: routes for alarms, signals, accounts, health and metrics."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from datetime import timedelta
from importlib import resources
from typing import Annotated, Protocol

from fastapi import APIRouter, Depends, FastAPI, HTTPException, Query, Request, WebSocket
from fastapi.responses import JSONResponse, PlainTextResponse
from fastapi.staticfiles import StaticFiles
from starlette.websockets import WebSocketDisconnect

from watchfloor.api.audit import (
    AuditLog,
    CheckpointSigner,
    audit_entry,
    audited,
    record,
)
from watchfloor.api.audit_log import audit_router
from watchfloor.api.auth import allowed, websocket_principal
from watchfloor.api.cameras import CameraServices, cameras_router
from watchfloor.api.errors import exception_handlers
from watchfloor.api.field import FieldServices
from watchfloor.api.fields import AccountPath, AfterId, AlarmId, NameQuery, OptionalId
from watchfloor.api.handling import handling_router
from watchfloor.api.hardening import DEFAULT_LIMITS, HardeningMiddleware, RequestLimits
from watchfloor.api.notifications import notifications_router
from watchfloor.api.reports import reports_router
from watchfloor.api.schemas import (
    AccountChange,
    AccountIn,
    AccountList,
    AccountOut,
    AlarmDetailOut,
    AlarmList,
    AlarmOut,
    SignalList,
    SignalOut,
    StreamMessage,
)
from watchfloor.api.search import search_router
from watchfloor.api.sessions import sessions_router
from watchfloor.api.statistics import statistics_router
from watchfloor.api.transparency import RegisterInfo, transparency_router
from watchfloor.api.units import units_router
from watchfloor.codecs.dc09 import parse_key
from watchfloor.core.alarms import AlarmOrder, AlarmState
from watchfloor.core.devices import AccountUpdate
from watchfloor.core.errors import NotFoundError, StoreUnavailableError
from watchfloor.core.handling import AlarmHandling
from watchfloor.core.logins import Logins
from watchfloor.core.ports import AlarmEvent, Repository
from watchfloor.core.principals import Permission, Principal, may
from watchfloor.core.user_admin import UserAdmin

__all__ = ["ApiServices", "Metric", "create_api"]

logger = logging.getLogger(__name__)


class EventSource(Protocol):
    """Where the stream takes committed alarm changes from."""

    def subscribe(self) -> AbstractAsyncContextManager[_EventQueue]:
        """Subscribe for the duration of the block."""
        ...


class _EventQueue(Protocol):
    async def get(self) -> AlarmEvent | None: ...


@dataclass(frozen=True, slots=True, kw_only=True)
class Metric:
    """One Prometheus sample: name, help, type and labelled values."""

    name: str
    help: str
    kind: str
    samples: tuple[tuple[tuple[tuple[str, str], ...], float], ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class ApiServices:
    """What the API needs, injected by the composition root."""

    repository: Repository
    handling: AlarmHandling
    events: EventSource
    metrics: Callable[[], Iterable[Metric]]
    register: RegisterInfo
    logins: Logins
    user_admin: UserAdmin
    field: FieldServices
    audit_log: AuditLog
    signer: CheckpointSigner
    #: (public key hex, message, signature hex) -> whether it verifies with a trusted key.
    verify_signature: Callable[[str, bytes, str], bool]
    request_limits: RequestLimits = DEFAULT_LIMITS
    #: How often an open stream checks that its token or session is still good.
    stream_recheck_seconds: float = 30.0
    cameras: CameraServices | None = None


def _render_metrics(metrics: Iterable[Metric]) -> str:
    lines: list[str] = []
    for metric in metrics:
        lines.append(f"# HELP {metric.name} {metric.help}")
        lines.append(f"# TYPE {metric.name} {metric.kind}")
        for labels, value in metric.samples:
            label_text = ",".join(f'{k}="{v}"' for k, v in labels)
            lines.append(
                f"{metric.name}{{{label_text}}} {value:g}"
                if label_text
                else f"{metric.name} {value:g}"
            )
    return "\n".join(lines) + "\n"


def _key_of(hex_text: str | None, ascii_text: str | None) -> bytes | None:
    """Parse a write-only AES key given in either form; 422 naming the field when invalid."""
    try:
        if hex_text is not None:
            return parse_key(hex_text, ascii=False)
        if ascii_text is not None:
            return parse_key(ascii_text, ascii=True)
    except ValueError as err:
        field = "key" if hex_text is not None else "key_ascii"
        raise HTTPException(422, f"{field}: {err}") from err
    return None


def _seconds(value: float | None) -> timedelta | None:
    return None if value is None else timedelta(seconds=value)


def _services(request: Request) -> ApiServices:
    services: ApiServices = request.app.state.services
    return services


Services = Annotated[ApiServices, Depends(_services)]
AlarmReader = Annotated[Principal, allowed(Permission.READ_ALARMS)]
EquipmentReader = Annotated[Principal, allowed(Permission.READ_EQUIPMENT)]
EquipmentManager = Annotated[Principal, allowed(Permission.MANAGE_EQUIPMENT)]


def _api_router() -> APIRouter:
    router = APIRouter(prefix="/api")

    @router.get(
        "/alarms",
        summary="List alarms: the queue (open alarms by priority, then oldest first; then "
        "the others, newest first), or newest first",
    )
    async def list_alarms(
        request: Request,
        principal: AlarmReader,
        state: AlarmState | None = None,
        limit: Annotated[int, Query(ge=1, le=1000)] = 100,
        after: AfterId = None,
        order: AlarmOrder = AlarmOrder.QUEUE,
    ) -> AlarmList:
        target = f"alarms:{state or 'all'}"
        async with audited(request, principal, "alarm.list", target) as repository:
            alarms = await repository.list_alarms(
                state=state, limit=limit, after=after, order=order
            )
        return AlarmList(items=[AlarmOut.of(a) for a in alarms])

    @router.get("/alarms/{alarm_id}", summary="One alarm with its signals and timeline")
    async def get_alarm(
        alarm_id: AlarmId, request: Request, principal: AlarmReader, services: Services
    ) -> AlarmDetailOut:
        async with audited(request, principal, "alarm.read", f"alarm:{alarm_id}") as repository:
            detail = await repository.get_alarm(alarm_id)
        alarm_type = services.handling.taxonomy.types.get(detail.alarm.type_code)
        return AlarmDetailOut.of_detail(detail, alarm_type)

    @router.get("/signals", summary="List signals, newest first")
    async def list_signals(
        request: Request,
        principal: AlarmReader,
        device: NameQuery = None,
        alarm: OptionalId = None,
        limit: Annotated[int, Query(ge=1, le=1000)] = 100,
        after: AfterId = None,
    ) -> SignalList:
        target = f"alarm:{alarm}" if alarm else f"device:{device}" if device else "signals:all"
        async with audited(request, principal, "signal.list", target) as repository:
            records = await repository.list_signals(
                device=device, alarm_id=alarm, limit=limit, after=after
            )
        return SignalList(items=[SignalOut.of(r) for r in records])

    @router.get("/accounts", summary="List the registered DC-09 transmitters")
    async def list_accounts(request: Request, principal: EquipmentReader) -> AccountList:
        async with audited(request, principal, "account.list") as repository:
            devices = await repository.list_accounts()
        return AccountList(items=[AccountOut.of(d) for d in devices])

    @router.post("/accounts", status_code=201, summary="Register a DC-09 transmitter")
    async def add_account(
        body: AccountIn, request: Request, principal: EquipmentManager
    ) -> AccountOut:
        key = _key_of(body.key, body.key_ascii)
        target = f"account:{body.account}"
        async with audited(request, principal, "account.add", target) as repository:
            device = await repository.add_account(
                account=body.account, site=body.site, key=key, name=body.name
            )
        logger.info("dc09 account %s registered by %s", device.account, principal.user)
        return AccountOut.of(device)

    @router.get("/accounts/{account}", summary="One registered DC-09 transmitter")
    async def get_account(
        account: AccountPath, request: Request, principal: EquipmentReader
    ) -> AccountOut:
        target = f"account:{account.upper()}"
        async with audited(request, principal, "account.read", target) as repository:
            device = await repository.find_account(account.upper())
        if device is None:
            raise NotFoundError(f"account {account.upper()} is not registered")
        return AccountOut.of(device)

    @router.patch(
        "/accounts/{account}",
        summary="Change a transmitter: site, name, enable/disable, rotate or clear its key, "
        "supervision",
    )
    async def update_account(
        account: AccountPath, body: AccountChange, request: Request, principal: EquipmentManager
    ) -> AccountOut:
        change = AccountUpdate(
            site=body.site,
            name=body.name,
            enabled=body.enabled,
            key=_key_of(body.key, body.key_ascii),
            clear_key=body.clear_key,
            supervision_interval=_seconds(body.supervision_interval_seconds),
            supervision_grace=_seconds(body.supervision_grace_seconds),
            clear_supervision=body.clear_supervision,
        )
        action = (
            "account.key_change"
            if body.key or body.key_ascii or body.clear_key
            else ("account.change")
        )
        target = f"account:{account.upper()}"
        async with audited(request, principal, action, target) as repository:
            device = await repository.update_account(account.upper(), change)
        logger.info(
            "dc09 account %s changed by %s (%s)",
            device.account,
            principal.user,
            ", ".join(sorted(body.model_fields_set)),
        )
        return AccountOut.of(device)

    @router.delete(
        "/accounts/{account}",
        status_code=204,
        summary="Unregister a transmitter (its signals and alarms stay)",
    )
    async def delete_account(
        account: AccountPath, request: Request, principal: EquipmentManager
    ) -> None:
        target = f"account:{account.upper()}"
        async with audited(request, principal, "account.delete", target) as repository:
            await repository.delete_account(account.upper())
        logger.info("dc09 account %s deleted by %s", account.upper(), principal.user)

    @router.websocket("/stream")
    async def stream(websocket: WebSocket) -> None:
        principal = await websocket_principal(websocket)
        if principal is None:
            await websocket.close(code=4401, reason="missing, invalid or revoked token")
            return
        services: ApiServices = websocket.app.state.services
        if not may(principal.role, Permission.READ_ALARMS):
            await websocket.close(
                code=4403, reason=f"the {principal.role} role may not read alarms"
            )
            return
        await record(websocket, audit_entry(websocket, principal, "stream.open"))
        async with services.events.subscribe() as queue:
            await websocket.accept()
            receiving = asyncio.create_task(_drain_client(websocket))
            revoked = asyncio.create_task(
                _credentials_end(websocket, services.stream_recheck_seconds)
            )
            try:
                while True:
                    getting = asyncio.create_task(queue.get())
                    done, _ = await asyncio.wait(
                        {getting, receiving, revoked}, return_when=asyncio.FIRST_COMPLETED
                    )
                    if receiving in done:
                        getting.cancel()
                        return
                    if revoked in done:
                        getting.cancel()
                        await websocket.close(code=4401, reason="session ended or token revoked")
                        return
                    event = getting.result()
                    if event is None:
                        await websocket.close(code=1013, reason="fell behind; reconnect")
                        return
                    await websocket.send_text(StreamMessage.of(event).model_dump_json())
            except WebSocketDisconnect:
                return
            finally:
                receiving.cancel()
                revoked.cancel()

    return router


async def _credentials_end(websocket: WebSocket, period: float) -> None:
    """Return once the stream's token is revoked or its session ended (checked every period).

    A stream outlives the request that opened it; without this, a console whose session was
    ended ("end all my sessions", a disabled user) would go on receiving alarms.
    """
    while True:
        await asyncio.sleep(period)
        if await websocket_principal(websocket) is None:
            return


async def _drain_client(websocket: WebSocket) -> None:
    """Read (and ignore) what the client sends, until it disconnects."""
    try:
        while True:
            await websocket.receive_text()
    except WebSocketDisconnect:
        return


def _public_router() -> APIRouter:
    router = APIRouter()

    @router.get("/healthz", summary="200 only when the store accepts writes")
    async def healthz(services: Services) -> JSONResponse:
        try:
            await services.repository.check_writable()
        except StoreUnavailableError as err:
            return JSONResponse({"status": "unavailable", "detail": str(err)}, status_code=503)
        return JSONResponse({"status": "ok"})

    @router.get("/metrics", response_class=PlainTextResponse, summary="Prometheus metrics")
    async def metrics(services: Services) -> PlainTextResponse:
        return PlainTextResponse(
            _render_metrics(services.metrics()),
            media_type="text/plain; version=0.0.4; charset=utf-8",
        )

    return router


def create_api(services: ApiServices) -> FastAPI:
    """Return the ASGI application serving the API, the stream and the console."""
    app = FastAPI(
        title="watchfloor",
        summary="Alarm receiving and incident management for control rooms",
        version="0.1.0",
        exception_handlers=exception_handlers,
    )
    app.state.services = services
    app.add_middleware(HardeningMiddleware, limits=services.request_limits)
    app.include_router(_public_router())
    # Before the handling routes, whose /alarms/{id}/{action} would shadow dispatch-units.
    app.include_router(units_router())
    app.include_router(reports_router())
    app.include_router(notifications_router())
    app.include_router(handling_router())
    app.include_router(statistics_router())
    app.include_router(transparency_router())
    app.include_router(sessions_router())
    app.include_router(audit_router())
    app.include_router(search_router())
    app.include_router(_api_router())
    if services.cameras is not None:
        app.include_router(cameras_router())
    static = resources.files("watchfloor.console") / "static"
    app.mount("/", StaticFiles(directory=str(static), html=True), name="console")
    return app

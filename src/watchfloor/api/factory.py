"""The app factory: the API's routers, its middleware and error handlers, and the console."""

from __future__ import annotations

from importlib import resources

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from watchfloor.api.accounts import accounts_router
from watchfloor.api.alarms import alarms_router
from watchfloor.api.audit_log import audit_router
from watchfloor.api.cameras import cameras_router
from watchfloor.api.errors import exception_handlers
from watchfloor.api.handling import handling_router
from watchfloor.api.hardening import HardeningMiddleware
from watchfloor.api.health import health_router
from watchfloor.api.metrics import metrics_router
from watchfloor.api.notifications import notifications_router
from watchfloor.api.reports import reports_router
from watchfloor.api.search import search_router
from watchfloor.api.services import ApiServices
from watchfloor.api.sessions import sessions_router
from watchfloor.api.sites import sites_router
from watchfloor.api.statistics import statistics_router
from watchfloor.api.stream import stream_router
from watchfloor.api.transparency import transparency_router
from watchfloor.api.units import units_router

__all__ = ["create_api"]


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
    app.include_router(health_router())
    app.include_router(metrics_router())
    # Before the handling routes, whose /alarms/{id}/{action} would shadow dispatch-units.
    app.include_router(units_router())
    # Also before them: /alarms/{id}/verify and /alarms/{id}/calls.
    app.include_router(sites_router())
    app.include_router(reports_router())
    app.include_router(notifications_router())
    app.include_router(handling_router())
    app.include_router(statistics_router())
    app.include_router(transparency_router())
    app.include_router(sessions_router())
    app.include_router(audit_router())
    app.include_router(search_router())
    app.include_router(alarms_router())
    app.include_router(accounts_router())
    app.include_router(stream_router())
    app.include_router(cameras_router())
    static = resources.files("watchfloor.console") / "static"
    app.mount("/", StaticFiles(directory=str(static), html=True), name="console")
    return app

"""The health check: whether the store takes writes and the data disk has room for intake."""

from __future__ import annotations

from collections.abc import Callable

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from watchfloor.api.services import Services
from watchfloor.core.disk_space import DiskLevel, DiskSpace
from watchfloor.core.errors import StoreUnavailableError
from watchfloor.core.ports import StoreHealth

__all__ = ["DiskSpaceSource", "health_answer", "health_router"]

#: The latest measurement of the data disk (None: not watched, e.g. on PostgreSQL).
DiskSpaceSource = Callable[[], DiskSpace | None]


def health_router() -> APIRouter:
    """Return the route of ``/healthz`` (public: load balancers ask it)."""
    router = APIRouter()

    @router.get("/healthz", summary="200 only when the store accepts writes")
    async def healthz(services: Services) -> JSONResponse:
        return await health_answer(services.health, services.disk_space)

    return router


async def health_answer(health: StoreHealth, disk_space: DiskSpaceSource) -> JSONResponse:
    """Return ``/healthz``'s answer: 200 only while the store takes writes, else 503.

    The body names a ``reason`` whenever there is one: ``disk_reserve`` (503: intake stopped
    to keep the disk's reserve for the operators), ``store_unavailable`` (503), or
    ``disk_low`` (200: still working, space is running out), each with a ``detail``.
    """
    space = disk_space()
    if space is not None and not space.intake_open:
        # No health row is written: the reserve is for the operators.
        return _answer(503, "unavailable", "disk_reserve", space.detail)
    try:
        await health.check_writable()
    except StoreUnavailableError as err:
        return _answer(503, "unavailable", "store_unavailable", str(err))
    if space is not None and space.level is DiskLevel.LOW:
        return _answer(200, "ok", "disk_low", space.detail)
    return JSONResponse({"status": "ok"})


def _answer(status_code: int, status: str, reason: str, detail: str) -> JSONResponse:
    return JSONResponse(
        {"status": status, "reason": reason, "detail": detail}, status_code=status_code
    )

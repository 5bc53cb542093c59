"""The health check: whether the store takes writes right now."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from watchfloor.api.services import Services
from watchfloor.core.errors import StoreUnavailableError

__all__ = ["health_router"]


def health_router() -> APIRouter:
    """Return the route of ``/healthz`` (public: load balancers ask it)."""
    router = APIRouter()

    @router.get("/healthz", summary="200 only when the store accepts writes")
    async def healthz(services: Services) -> JSONResponse:
        try:
            await services.health.check_writable()
        except StoreUnavailableError as err:
            return JSONResponse({"status": "unavailable", "detail": str(err)}, status_code=503)
        return JSONResponse({"status": "ok"})

    return router

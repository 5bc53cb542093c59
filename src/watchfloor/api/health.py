"""The health check: whether the store takes writes and the data disk has room for intake."""

from __future__ import annotations

from collections.abc import Callable

from fastapi.responses import JSONResponse

from watchfloor.core.disk_space import DiskLevel, DiskSpace
from watchfloor.core.errors import StoreUnavailableError
from watchfloor.core.ports import Repository

__all__ = ["DiskSpaceSource", "health_answer"]

#: The latest measurement of the data disk (None: not watched, e.g. on PostgreSQL).
DiskSpaceSource = Callable[[], DiskSpace | None]


async def health_answer(repository: Repository, disk_space: DiskSpaceSource) -> JSONResponse:
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
        await repository.check_writable()
    except StoreUnavailableError as err:
        return _answer(503, "unavailable", "store_unavailable", str(err))
    if space is not None and space.level is DiskLevel.LOW:
        return _answer(200, "ok", "disk_low", space.detail)
    return JSONResponse({"status": "ok"})


def _answer(status_code: int, status: str, reason: str, detail: str) -> JSONResponse:
    return JSONResponse(
        {"status": status, "reason": reason, "detail": detail}, status_code=status_code
    )

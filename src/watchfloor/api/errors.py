"""One table from errors to HTTP statuses and stable error codes."""

from __future__ import annotations

from collections.abc import Callable, Coroutine, Mapping
from typing import Any

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException

from watchfloor.core.errors import (
    ConflictError,
    InvalidTransitionError,
    NotFoundError,
    ProcedureIncompleteError,
    StoreUnavailableError,
    TaxonomyError,
)
from watchfloor.core.users import (
    LoginRefusedError,
    RateLimitedError,
    SecondFactorRequiredError,
    UserInputError,
)

__all__ = ["exception_handlers"]

#: error class -> (HTTP status, stable error code)
ERROR_STATUS: Mapping[type[Exception], tuple[int, str]] = {
    NotFoundError: (404, "not_found"),
    ConflictError: (409, "conflict"),
    InvalidTransitionError: (409, "invalid_transition"),
    StoreUnavailableError: (503, "store_unavailable"),
    ProcedureIncompleteError: (409, "sop_incomplete"),
    TaxonomyError: (422, "invalid_taxonomy"),
    UserInputError: (422, "invalid_request"),
    LoginRefusedError: (401, "login_refused"),
    SecondFactorRequiredError: (401, "totp_required"),
    RateLimitedError: (429, "rate_limited"),
}


def _body(code: str, detail: object, **extra: object) -> dict[str, object]:
    return {"error": code, "detail": detail, **extra}


async def _watchfloor_error(request: Request, exc: Exception) -> JSONResponse:
    status, code = next(
        (value for cls, value in ERROR_STATUS.items() if isinstance(exc, cls)), (500, "internal")
    )
    extra: dict[str, object] = {}
    if isinstance(exc, InvalidTransitionError):
        extra["state"] = exc.state
    if isinstance(exc, ProcedureIncompleteError):
        extra["missing_steps"] = [index + 1 for index in exc.missing]
    headers = None
    if isinstance(exc, UserInputError):
        extra["problems"] = [{"field": exc.field, "message": str(exc)}]
    if isinstance(exc, RateLimitedError):
        headers = {"Retry-After": str(exc.retry_after)}
    return JSONResponse(_body(code, str(exc), **extra), status_code=status, headers=headers)


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)  # noqa: S101 - registered for this class only
    problems = [
        {"field": ".".join(str(part) for part in err["loc"]), "message": err["msg"]}
        for err in exc.errors()
    ]
    detail = "; ".join(f"{p['field']}: {p['message']}" for p in problems)
    return JSONResponse(_body("invalid_request", detail, problems=problems), status_code=422)


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, HTTPException)  # noqa: S101 - registered for this class only
    code = {401: "unauthorized", 403: "forbidden", 404: "not_found"}.get(exc.status_code, "http")
    return JSONResponse(_body(code, exc.detail), status_code=exc.status_code, headers=exc.headers)


Handler = Callable[[Request, Any], Coroutine[Any, Any, Response]]

exception_handlers: dict[int | type[Exception], Handler] = {
    **dict.fromkeys(ERROR_STATUS, _watchfloor_error),
    RequestValidationError: _validation_error,
    HTTPException: _http_error,
}

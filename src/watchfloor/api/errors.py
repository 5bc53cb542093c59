"""One table from errors to HTTP statuses and stable error codes."""

from __future__ import annotations

from collections.abc import Callable, Coroutine, Mapping
from typing import Any

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException

from watchfloor.codecs.errors import DecodeError, UnsupportedMessageError
from watchfloor.core.errors import (
    ConflictError,
    InvalidRecordError,
    InvalidTransitionError,
    NotFoundError,
    PayloadTooLargeError,
    ProcedureIncompleteError,
    StoreUnavailableError,
    TaxonomyError,
    UnknownSenderError,
)
from watchfloor.core.users import (
    LoginRefusedError,
    RateLimitedError,
    SecondFactorRequiredError,
    SeparationOfDutiesError,
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
    # Devices posting events (api.cameras): the first matching class wins, so the
    # unsupported content type comes before the DecodeError it derives from.
    UnknownSenderError: (401, "unknown_device"),
    PayloadTooLargeError: (413, "payload_too_large"),
    UnsupportedMessageError: (415, "unsupported_media_type"),
    DecodeError: (400, "malformed_payload"),
    UserInputError: (422, "invalid_request"),
    InvalidRecordError: (422, "invalid_request"),
    LoginRefusedError: (401, "login_refused"),
    SecondFactorRequiredError: (401, "totp_required"),
    RateLimitedError: (429, "rate_limited"),
    SeparationOfDutiesError: (403, "separation_of_duties"),
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
    if isinstance(exc, InvalidRecordError):
        extra["problems"] = [
            {"field": problem.partition(":")[0], "message": problem} for problem in exc.problems
        ]
    if isinstance(exc, RateLimitedError):
        headers = {"Retry-After": str(exc.retry_after)}
    return JSONResponse(_body(code, str(exc), **extra), status_code=status, headers=headers)


#: HTTP status -> stable error code, for errors raised as ``HTTPException``
HTTP_CODES: Mapping[int, str] = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "invalid_request",
}


def _json_content_type(content_type: str) -> bool:
    media = content_type.partition(";")[0].strip().lower()
    return media == "application/json" or (
        media.startswith("application/") and media.endswith("+json")
    )


def _unsupported_media(request: Request, exc: RequestValidationError) -> JSONResponse | None:
    """415 when a body was sent but not as JSON, so it never reached the model as an object."""
    content_type = request.headers.get("content-type")
    if content_type is not None and _json_content_type(content_type):
        return None
    sent_body = any(
        tuple(err["loc"]) == ("body",) and err["type"] != "missing" for err in exc.errors()
    )
    if not sent_body:
        return None
    given = content_type.partition(";")[0].strip() if content_type else "none"
    detail = f"send the body as JSON with Content-Type: application/json (got {given})"
    return JSONResponse(_body("unsupported_media_type", detail), status_code=415)


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)  # noqa: S101 - registered for this class only
    unsupported = _unsupported_media(request, exc)
    if unsupported is not None:
        return unsupported
    problems = [
        {"field": ".".join(str(part) for part in err["loc"]), "message": err["msg"]}
        for err in exc.errors()
    ]
    detail = "; ".join(f"{p['field']}: {p['message']}" for p in problems)
    return JSONResponse(_body("invalid_request", detail, problems=problems), status_code=422)


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, HTTPException)  # noqa: S101 - registered for this class only
    code = HTTP_CODES.get(exc.status_code, "http")
    return JSONResponse(_body(code, exc.detail), status_code=exc.status_code, headers=exc.headers)


Handler = Callable[[Request, Any], Coroutine[Any, Any, Response]]

exception_handlers: dict[int | type[Exception], Handler] = {
    **dict.fromkeys(ERROR_STATUS, _watchfloor_error),
    RequestValidationError: _validation_error,
    HTTPException: _http_error,
}

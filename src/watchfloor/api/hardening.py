"""HTTP hardening: security headers, request body limits and an access log without secrets.

``HardeningMiddleware`` is a pure ASGI middleware (it never buffers a response, so streaming
responses and the WebSocket stream pass through untouched):

- every HTTP response gets the security headers of ``SECURITY_HEADERS`` unless the route set
  its own, ``/api/`` responses get ``Cache-Control: no-store`` (alarm data must not sit in a
  browser or proxy cache), and ``Strict-Transport-Security`` is added only to requests that
  came over https (HSTS over plain http is ignored by browsers and would mislead);
- a request body longer than its path's limit is refused with 413: at once when
  ``Content-Length`` says so, else as soon as the bytes counted in ``receive`` pass the limit
  (a chunked upload has no ``Content-Length``). The limit is that of the longest matching
  prefix of ``RequestLimits.by_prefix``, else ``RequestLimits.default``;
- one access line per request, with the path but never the query string (the stream takes
  its token as ``?token=``) nor any header.

``redact_secrets`` is a logging filter for the HTTP server's own log lines, which include
query strings (uvicorn logs WebSocket handshakes with them) and, at DEBUG level, the
handshake's headers.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from starlette.datastructures import MutableHeaders
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = [
    "DEFAULT_LIMITS",
    "DOCS_POLICY",
    "MIB",
    "POLICY_BY_PATH",
    "SECURITY_HEADERS",
    "BodyTooLargeError",
    "HardeningMiddleware",
    "RequestLimits",
    "redact_secrets",
]

access_logger = logging.getLogger("watchfloor.access")

MIB = 1024 * 1024

#: The console is served from this origin only: no inline script or style, no framing.
CONTENT_SECURITY_POLICY = "; ".join(
    (
        "default-src 'self'",
        "img-src 'self' blob: data:",
        "connect-src 'self' ws: wss:",
        "style-src 'self'",
        "script-src 'self'",
        "frame-ancestors 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "object-src 'none'",
    )
)

#: FastAPI's interactive API docs load Swagger UI / ReDoc from their CDN and start them with an
#: inline script. Those pages show only the public OpenAPI document, so they alone get a policy
#: that allows this; the console's pages never do.
DOCS_POLICY = "; ".join(
    (
        "default-src 'self'",
        "img-src 'self' data: https://fastapi.tiangolo.com https://cdn.redoc.ly",
        "connect-src 'self'",
        "style-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net https://fonts.googleapis.com",
        "font-src 'self' https://fonts.gstatic.com",
        "script-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net",
        "worker-src 'self' blob:",
        "frame-ancestors 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "object-src 'none'",
    )
)

#: exact path -> Content-Security-Policy instead of ``CONTENT_SECURITY_POLICY``
POLICY_BY_PATH: Mapping[str, str] = MappingProxyType(
    dict.fromkeys(("/docs", "/docs/oauth2-redirect", "/redoc"), DOCS_POLICY)
)

SECURITY_HEADERS: Mapping[str, str] = MappingProxyType(
    {
        "content-security-policy": CONTENT_SECURITY_POLICY,
        "x-content-type-options": "nosniff",
        "x-frame-options": "DENY",
        "referrer-policy": "no-referrer",
        # A patrol's phone page reports its position; nothing here needs camera or microphone.
        "permissions-policy": "camera=(), microphone=(), geolocation=(self)",
        "cross-origin-opener-policy": "same-origin",
        "cross-origin-resource-policy": "same-origin",
    }
)

HSTS = "max-age=31536000"

#: path prefix -> headers that replace whatever the route set
PREFIX_HEADERS: Mapping[str, Mapping[str, str]] = MappingProxyType(
    {"/api/": MappingProxyType({"cache-control": "no-store"})}
)


@dataclass(frozen=True, slots=True, kw_only=True)
class RequestLimits:
    """The largest request body accepted, by path prefix (the longest match wins)."""

    default: int = MIB
    by_prefix: Mapping[str, int] = field(default_factory=lambda: MappingProxyType({}))

    def limit_for(self, path: str) -> int:
        """Return the body limit in bytes for a request path."""
        matches = [prefix for prefix in self.by_prefix if path.startswith(prefix)]
        return self.by_prefix[max(matches, key=len)] if matches else self.default


DEFAULT_LIMITS = RequestLimits()


class BodyTooLargeError(HTTPException):
    """The request body passed its limit while the application was reading it."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, _too_large_detail(limit))


def _too_large_detail(limit: int) -> str:
    return f"the request body exceeds the limit of {limit} bytes for this path"


def _content_length(scope: Scope) -> int | None:
    for name, value in scope["headers"]:
        if name == b"content-length":
            text = value.decode("latin-1").strip()
            return int(text) if text.isdigit() else None
    return None


class HardeningMiddleware:
    """Security headers, body limits and a secret-free access log for every HTTP request."""

    def __init__(self, app: ASGIApp, *, limits: RequestLimits = DEFAULT_LIMITS) -> None:
        self.app = app
        self.limits = limits

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Handle one ASGI connection; WebSocket and lifespan scopes pass through."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        limit = self.limits.limit_for(path)
        status = 0

        async def send_hardened(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                _harden(scope, message)
            await send(message)

        received = 0

        async def receive_limited() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise BodyTooLargeError(limit)
            return message

        try:
            declared = _content_length(scope)
            if declared is not None and declared > limit:
                await _send_too_large(limit, send_hardened)
            else:
                await self.app(scope, receive_limited, send_hardened)
        except BodyTooLargeError:
            # Raised past the exception handlers, e.g. from an app that reads the body itself.
            if status:
                raise
            await _send_too_large(limit, send_hardened)
        finally:
            client = scope.get("client")
            access_logger.info(
                '%s "%s %s" %s',
                client[0] if client else "-",
                scope["method"],
                _CONTROL.sub(_escape, path),
                status or "-",
            )


#: A decoded path may hold line breaks (``%0a``): escaped, they cannot forge a log line.
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def _escape(match: re.Match[str]) -> str:
    return f"\\x{ord(match.group()):02x}"


def _harden(scope: Scope, message: Message) -> None:
    headers = MutableHeaders(scope=message)
    policy = POLICY_BY_PATH.get(scope["path"])
    if policy is not None:
        headers.setdefault("content-security-policy", policy)
    for name, value in SECURITY_HEADERS.items():
        headers.setdefault(name, value)
    if scope.get("scheme") == "https":
        headers.setdefault("strict-transport-security", HSTS)
    for prefix, replacements in PREFIX_HEADERS.items():
        if scope["path"].startswith(prefix):
            for name, value in replacements.items():
                headers[name] = value


async def _send_too_large(limit: int, send: Send) -> None:
    body = json.dumps({"error": "payload_too_large", "detail": _too_large_detail(limit)}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 413,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


#: pattern -> replacement: query strings, and credential headers as the server's debug
#: output shows them (``< authorization: Bearer ...``)
_REDACTIONS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"\?[^\s\"']*"), "?[redacted]"),
    (
        re.compile(r"(?im)^([<>]?\s*(?:proxy-)?(?:authorization|cookie|set-cookie)\s*:).*$"),
        r"\1 [redacted]",
    ),
)


class _SecretRedactor(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        redacted = message
        for pattern, replacement in _REDACTIONS:
            redacted = pattern.sub(replacement, redacted)
        if redacted != message:
            record.msg, record.args = redacted, None
        return True


redact_secrets: logging.Filter = _SecretRedactor()
"""A logging filter for the HTTP server's own log lines: query strings and credential headers
are replaced by ``[redacted]``."""

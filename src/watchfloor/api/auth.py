"""Authentication and authorization of API requests: who asks, and whether they may.

Two ways to the same ``Principal``: a bearer token (automation, ``?token=`` on the stream), or
the console's session cookie (``core.logins``). A request with a bearer token is judged by the
token alone. A cookie rides along with every request the browser makes, so a cookie-carried
unsafe request must also prove it comes from our own page (CSRF): an ``X-CSRF-Token`` header
derived from the session token (which another site can neither read nor compute), and, when
the browser says, the same origin (``Origin``, ``Sec-Fetch-Site``). Routes declare the
permission they need with ``allowed``; the role-to-permission matrix is
``core.principals.PERMISSIONS``.

Every refusal of presented credentials or of a permission is audited through
``audit_refusal``, over REST and on the stream alike: ``token.rejected`` (an unknown or revoked
token, kept as its SHA-256), ``session.rejected`` (a session cookie that is no live session),
``csrf.refused`` (a cross-site request, or a missing or wrong CSRF header) and
``access.denied`` (a role or crew without the permission). A request without any credentials
is refused with 401 and not audited: it presented nothing to guess with. Repeats from one
source are counted rather than written one row each (``api.audit.record``).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Awaitable, Callable, Mapping
from typing import Annotated, Any, Final

from fastapi import Depends, HTTPException, Request, Security, WebSocket
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.requests import HTTPConnection

from watchfloor.api.audit import audit_entry, record
from watchfloor.api.services import services_of
from watchfloor.core.audit import AuditOutcome, content_digest
from watchfloor.core.logins import SessionPrincipal
from watchfloor.core.principals import Permission, Principal, may
from watchfloor.core.users import UserDirectory

__all__ = [
    "CSRF_HEADER",
    "SESSION_COOKIE",
    "CurrentPrincipal",
    "CurrentSession",
    "MetricsReader",
    "allowed",
    "audit_refusal",
    "authenticate_token",
    "bearer_token",
    "csrf_token",
    "require_principal",
    "require_session",
    "same_origin",
    "session_of",
]

SESSION_COOKIE: Final = "watchfloor_session"
CSRF_HEADER: Final = "X-CSRF-Token"
_SAFE_METHODS: Final = frozenset({"GET", "HEAD", "OPTIONS"})
_SAME_SITE: Final = frozenset({"same-origin", "none"})

_CHALLENGE = {"WWW-Authenticate": 'Bearer realm="watchfloor"'}


def bearer_token(authorization: str | None) -> str | None:
    """Return the token of an ``Authorization: Bearer <token>`` header value, if any."""
    if not authorization:
        return None
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


async def authenticate_token(users: UserDirectory, token: str | None) -> Principal | None:
    """Return the principal a token stands for, or None."""
    if not token:
        return None
    return await users.authenticate(token)


async def audit_refusal(
    connection: HTTPConnection,
    principal: Principal | None,
    action: str,
    *,
    reason: str | None = None,
    digest: str | None = None,
) -> None:
    """Audit the refusal of this request or stream connection (outcome ``denied``).

    The target is the method (``WEBSOCKET`` for the stream) and path, never the query string.
    """
    method = connection.scope.get("method", "WEBSOCKET")
    await record(
        connection,
        audit_entry(
            connection,
            principal,
            action,
            f"{method} {connection.url.path}",
            reason=reason,
            digest=digest,
            outcome=AuditOutcome.DENIED,
        ),
    )


def csrf_token(session_token: str) -> str:
    """Return the CSRF token of a session: derived from its token, so never stored."""
    digest = hashlib.sha256(b"watchfloor csrf\0" + session_token.encode()).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


def same_origin(headers: Mapping[str, str], connection: HTTPConnection) -> bool:
    """Return False when the browser says the request comes from another site."""
    site = headers.get("sec-fetch-site")
    if site is not None and site not in _SAME_SITE:
        return False
    origin = headers.get("origin")
    if origin is None:
        return True
    return origin == f"{connection.url.scheme.replace('ws', 'http')}://{connection.url.netloc}"


async def _session(connection: HTTPConnection) -> SessionPrincipal | None:
    token = connection.cookies.get(SESSION_COOKIE)
    if not token:
        return None
    return await services_of(connection).logins.authenticate(token)


async def require_session(request: Request) -> SessionPrincipal:
    """FastAPI dependency: the live console session of a request, or 401; checks CSRF.

    Cookie-carried unsafe requests need the session's CSRF token in ``X-CSRF-Token`` and must
    not come from another origin (403 otherwise).
    """
    cookie = request.cookies.get(SESSION_COOKIE)
    if not cookie:
        raise HTTPException(401, "not signed in", headers=_CHALLENGE)
    signed_in = await _session(request)
    if signed_in is None:
        await audit_refusal(request, None, "session.rejected", digest=content_digest(cookie))
        raise HTTPException(401, "the session has expired or ended; sign in again")
    if request.method not in _SAFE_METHODS:
        problem = None
        if not same_origin(request.headers, request):
            problem = "cross-site request refused"
        elif not hmac.compare_digest(request.headers.get(CSRF_HEADER, ""), csrf_token(cookie)):
            problem = f"missing or wrong {CSRF_HEADER} header"
        if problem is not None:
            await audit_refusal(request, signed_in.principal, "csrf.refused", reason=problem)
            raise HTTPException(403, problem)
    request.state.signed_in = signed_in
    return signed_in


def session_of(request: Request) -> SessionPrincipal | None:
    """Return the session the request was authenticated with (None: a token, or none yet)."""
    signed_in: SessionPrincipal | None = getattr(request.state, "signed_in", None)
    return signed_in


#: The bearer scheme as OpenAPI shows it: each operation lists, as the scheme's scopes, the
#: permission it needs (``allowed``), so the document itself states the matrix per route.
_BEARER = HTTPBearer(
    auto_error=False,
    scheme_name="bearer",
    description="An API token; each operation's scope is the permission it needs.",
)


async def require_principal(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Security(_BEARER)],
) -> Principal:
    """FastAPI dependency: the principal of a request (bearer token or session), or 401."""
    token = credentials.credentials.strip() if credentials else None
    if token is None:
        if request.cookies.get(SESSION_COOKIE):
            return (await require_session(request)).principal
        raise HTTPException(401, "missing bearer token or session", headers=_CHALLENGE)
    principal = await authenticate_token(services_of(request).users, token)
    if principal is None:
        # A token that is not (or no longer) valid: someone guessing, or a stale client.
        await audit_refusal(request, None, "token.rejected", digest=content_digest(token))
        raise HTTPException(401, "invalid or revoked token", headers=_CHALLENGE)
    return principal


async def websocket_principal(websocket: WebSocket, *, audited: bool = True) -> Principal | None:
    """Return the principal of a stream connection, or None.

    A token (``?token=`` or bearer header) or the session cookie; with the cookie the
    connection must come from our own origin (browsers always send ``Origin`` on WebSockets).
    Refused credentials are audited as over REST, unless ``audited`` is False (the periodic
    re-check of an open stream, whose end is not a new attempt).
    """
    token = websocket.query_params.get("token") or bearer_token(
        websocket.headers.get("authorization")
    )
    if token:
        principal = await authenticate_token(services_of(websocket).users, token)
        if principal is None and audited:
            await audit_refusal(websocket, None, "token.rejected", digest=content_digest(token))
        return principal
    if not same_origin(websocket.headers, websocket):
        if audited:
            await audit_refusal(websocket, None, "csrf.refused", reason="cross-site stream")
        return None
    cookie = websocket.cookies.get(SESSION_COOKIE)
    signed_in = await _session(websocket)
    if signed_in is None and cookie and audited:
        await audit_refusal(websocket, None, "session.rejected", digest=content_digest(cookie))
    return None if signed_in is None else signed_in.principal


CurrentPrincipal = Annotated[Principal, Depends(require_principal)]
"""Any authenticated principal, whatever its role (for routes every role may use)."""

CurrentSession = Annotated[SessionPrincipal, Depends(require_session)]
"""The console session of the request (for routes that act on the session itself)."""

_CHECKS: dict[Permission, Callable[..., Awaitable[Principal]]] = {}


def _check(permission: Permission) -> Callable[..., Awaitable[Principal]]:
    async def check(request: Request, principal: CurrentPrincipal) -> Principal:
        if not may(principal.role, permission):
            await audit_refusal(request, principal, "access.denied", reason=f"may not {permission}")
            raise HTTPException(403, f"the {principal.role} role may not {permission}")
        return principal

    return check


async def _metrics_reader(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Security(_BEARER)],
) -> None:
    """Let through the configured metrics token, else a principal that may read metrics."""
    expected = services_of(request).metrics_token
    if expected is not None and credentials is not None:
        given = credentials.credentials.strip().encode()
        if hmac.compare_digest(given, expected.encode()):
            return
    principal = await require_principal(request, credentials)
    await _CHECKS.setdefault(Permission.READ_METRICS, _check(Permission.READ_METRICS))(
        request, principal
    )


MetricsReader = Annotated[None, Security(_metrics_reader, scopes=[Permission.READ_METRICS.name])]
"""For ``/metrics``: the metrics token (Prometheus' bearer token), or any principal whose role
may read metrics (administrators); 401 without credentials, 403 for other roles."""


def allowed(permission: Permission) -> Any:
    """Return the dependency for a route's parameter: the principal, if it has the permission.

    Use as ``principal: Annotated[Principal, allowed(Permission.HANDLE_ALARMS)]``. 401 without
    valid credentials, 403 naming the role and the permission otherwise.
    """
    check = _CHECKS.setdefault(permission, _check(permission))
    return Security(check, scopes=[permission.name])

"""Authentication and authorization of API requests: who asks, and whether they may.

Bearer tokens for now; users, roles and sessions build on ``authenticate_token``. Routes declare
the permission they need with ``allowed``; the role-to-permission matrix is
``core.principals.PERMISSIONS``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated, Any

from fastapi import Depends, HTTPException, Request, Security, WebSocket
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from watchfloor.api.audit import audit_entry, record
from watchfloor.core.audit import AuditOutcome, content_digest
from watchfloor.core.ports import Repository
from watchfloor.core.principals import Permission, Principal, may

__all__ = [
    "CurrentPrincipal",
    "allowed",
    "authenticate_token",
    "bearer_token",
    "permission_of",
    "require_principal",
]

_CHALLENGE = {"WWW-Authenticate": 'Bearer realm="watchfloor"'}


def bearer_token(authorization: str | None) -> str | None:
    """Return the token of an ``Authorization: Bearer <token>`` header value, if any."""
    if not authorization:
        return None
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


async def authenticate_token(repository: Repository, token: str | None) -> Principal | None:
    """Return the principal a token stands for, or None."""
    if not token:
        return None
    return await repository.authenticate(token)


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
    """FastAPI dependency: the principal of a request, or 401."""
    repository: Repository = request.app.state.services.repository
    token = credentials.credentials.strip() if credentials else None
    if token is None:
        raise HTTPException(401, "missing bearer token", headers=_CHALLENGE)
    principal = await authenticate_token(repository, token)
    if principal is None:
        # A token that is not (or no longer) valid: someone guessing, or a stale client.
        await record(
            request,
            audit_entry(
                request,
                None,
                "token.rejected",
                f"{request.method} {request.url.path}",
                outcome=AuditOutcome.DENIED,
                digest=content_digest(token),
            ),
        )
        raise HTTPException(401, "invalid or revoked token", headers=_CHALLENGE)
    return principal


async def websocket_principal(websocket: WebSocket) -> Principal | None:
    """Return the principal of a stream connection (``?token=`` or bearer header), or None."""
    repository: Repository = websocket.app.state.services.repository
    token = websocket.query_params.get("token") or bearer_token(
        websocket.headers.get("authorization")
    )
    return await authenticate_token(repository, token)


CurrentPrincipal = Annotated[Principal, Depends(require_principal)]
"""Any authenticated principal, whatever its role (for routes every role may use)."""

_CHECKS: dict[Permission, Callable[..., Awaitable[Principal]]] = {}


def _check(permission: Permission) -> Callable[..., Awaitable[Principal]]:
    async def check(request: Request, principal: CurrentPrincipal) -> Principal:
        if not may(principal.role, permission):
            await record(
                request,
                audit_entry(
                    request,
                    principal,
                    "access.denied",
                    f"{request.method} {request.url.path}",
                    reason=f"may not {permission}",
                    outcome=AuditOutcome.DENIED,
                ),
            )
            raise HTTPException(403, f"the {principal.role} role may not {permission}")
        return principal

    check.permission = permission  # type: ignore[attr-defined]
    return check


def allowed(permission: Permission) -> Any:
    """Return the dependency for a route's parameter: the principal, if it has the permission.

    Use as ``principal: Annotated[Principal, allowed(Permission.HANDLE_ALARMS)]``. 401 without
    valid credentials, 403 naming the role and the permission otherwise.
    """
    check = _CHECKS.setdefault(permission, _check(permission))
    return Security(check, scopes=[permission.name])


def permission_of(dependency: object) -> Permission | None:
    """Return the permission a dependency made by ``allowed`` checks, for the route matrix."""
    permission = getattr(dependency, "permission", None)
    return permission if isinstance(permission, Permission) else None

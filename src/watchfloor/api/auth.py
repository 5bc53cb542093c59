"""Authentication of API requests and stream connections: the one place that decides who asks.

Bearer tokens for now; users, roles and sessions build on ``authenticate_token``.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, HTTPException, Request, WebSocket

from watchfloor.core.ports import Repository
from watchfloor.core.principals import Principal

__all__ = ["CurrentPrincipal", "authenticate_token", "bearer_token", "require_principal"]

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


async def require_principal(request: Request) -> Principal:
    """FastAPI dependency: the principal of a request, or 401."""
    repository: Repository = request.app.state.services.repository
    token = bearer_token(request.headers.get("authorization"))
    if token is None:
        raise HTTPException(401, "missing bearer token", headers=_CHALLENGE)
    principal = await authenticate_token(repository, token)
    if principal is None:
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

"""What the API's WebSockets share: pushing messages until the client or its credentials go."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

from fastapi import WebSocket
from starlette.websockets import WebSocketDisconnect

from watchfloor.api.audit import audit_entry, record
from watchfloor.api.auth import audit_refusal, websocket_principal
from watchfloor.core.principals import Permission, Principal, may

__all__ = ["open_stream", "push_messages"]


async def open_stream(
    websocket: WebSocket, permission: Permission, *, action: str, target: str | None = None
) -> Principal | None:
    """Return who opens a stream that needs ``permission``, audited; None once refused.

    No valid token or session: closed 4401 (``websocket_principal`` audits the attempt); a
    role without the permission: audited and closed 4403.
    """
    principal = await websocket_principal(websocket)
    if principal is None:
        await websocket.close(code=4401, reason="missing, invalid or revoked token")
        return None
    if not may(principal.role, permission):
        reason = f"may not {permission}"
        await audit_refusal(websocket, principal, "access.denied", reason=reason)
        await websocket.close(code=4403, reason=f"the {principal.role} role {reason}")
        return None
    await record(websocket, audit_entry(websocket, principal, action, target))
    return principal


async def push_messages(
    websocket: WebSocket, messages: AsyncIterator[str], *, recheck_seconds: float
) -> None:
    """Send each message on an accepted WebSocket until one of the ends below.

    The client leaves; its token is revoked or its session ends (checked every
    ``recheck_seconds``, since a stream outlives the request that opened it): close 4401;
    the messages end (their subscriber fell behind): close 1013, so that the client
    reconnects and reloads. Cancelled, it stops waiting and leaves the socket to its server.
    On return nothing waits on ``messages`` any more: the caller may close it.
    """
    receiving = asyncio.create_task(_drain_client(websocket))
    revoked = asyncio.create_task(_credentials_end(websocket, recheck_seconds))
    getting: asyncio.Future[str] | None = None
    try:
        while True:
            getting = asyncio.ensure_future(anext(messages))
            done, _ = await asyncio.wait(
                {getting, receiving, revoked}, return_when=asyncio.FIRST_COMPLETED
            )
            if receiving in done:
                return
            if revoked in done:
                await websocket.close(code=4401, reason="session ended or token revoked")
                return
            try:
                text = getting.result()
            except StopAsyncIteration:
                await websocket.close(code=1013, reason="fell behind; reconnect")
                return
            else:
                await websocket.send_text(text)
    except WebSocketDisconnect:
        return
    finally:
        # Wait for the tasks to end, so that the caller may close the messages' generator.
        pending = [task for task in (getting, receiving, revoked) if task is not None]
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)


async def _credentials_end(websocket: WebSocket, period: float) -> None:
    # The re-check of an open stream is not a new attempt: its end is not audited as one.
    while True:
        await asyncio.sleep(period)
        if await websocket_principal(websocket, audited=False) is None:
            return


async def _drain_client(websocket: WebSocket) -> None:
    try:
        while True:
            await websocket.receive_text()
    except WebSocketDisconnect:
        return

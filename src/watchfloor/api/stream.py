"""The alarm stream: committed alarm changes pushed to a console over a WebSocket."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, WebSocket
from starlette.websockets import WebSocketDisconnect

from watchfloor.api.audit import audit_entry, record
from watchfloor.api.auth import audit_refusal, websocket_principal
from watchfloor.api.schemas import StreamMessage
from watchfloor.api.services import Services
from watchfloor.core.principals import Permission, may

__all__ = ["stream_router"]


def stream_router() -> APIRouter:
    """Return the route of ``/api/stream``."""
    router = APIRouter(prefix="/api")

    @router.websocket("/stream")
    async def stream(websocket: WebSocket, services: Services) -> None:
        principal = await websocket_principal(websocket)
        if principal is None:
            await websocket.close(code=4401, reason="missing, invalid or revoked token")
            return
        if not may(principal.role, Permission.READ_ALARMS):
            reason = f"may not {Permission.READ_ALARMS}"
            await audit_refusal(websocket, principal, "access.denied", reason=reason)
            await websocket.close(
                code=4403, reason=f"the {principal.role} role may not read alarms"
            )
            return
        await record(websocket, audit_entry(websocket, principal, "stream.open"))
        async with services.events.subscribe() as queue:
            await websocket.accept()
            receiving = asyncio.create_task(_drain_client(websocket))
            revoked = asyncio.create_task(
                _credentials_end(websocket, services.stream_recheck_seconds)
            )
            try:
                while True:
                    getting = asyncio.create_task(queue.get())
                    done, _ = await asyncio.wait(
                        {getting, receiving, revoked}, return_when=asyncio.FIRST_COMPLETED
                    )
                    if receiving in done:
                        getting.cancel()
                        return
                    if revoked in done:
                        getting.cancel()
                        await websocket.close(code=4401, reason="session ended or token revoked")
                        return
                    event = getting.result()
                    if event is None:
                        await websocket.close(code=1013, reason="fell behind; reconnect")
                        return
                    await websocket.send_text(StreamMessage.of(event).model_dump_json())
            except WebSocketDisconnect:
                return
            finally:
                receiving.cancel()
                revoked.cancel()

    return router


async def _credentials_end(websocket: WebSocket, period: float) -> None:
    """Return once the stream's token is revoked or its session ended (checked every period).

    A stream outlives the request that opened it; without this, a console whose session was
    ended ("end all my sessions", a disabled user) would go on receiving alarms.
    """
    while True:
        await asyncio.sleep(period)
        if await websocket_principal(websocket, audited=False) is None:
            return


async def _drain_client(websocket: WebSocket) -> None:
    """Read (and ignore) what the client sends, until it disconnects."""
    try:
        while True:
            await websocket.receive_text()
    except WebSocketDisconnect:
        return

"""The alarm stream: committed alarm changes pushed to a console over a WebSocket."""

from __future__ import annotations

from collections.abc import AsyncGenerator

from fastapi import APIRouter, WebSocket

from watchfloor.api._websockets import open_stream, push_messages
from watchfloor.api.schemas import StreamMessage
from watchfloor.api.services import Services
from watchfloor.core.ports import EventQueue
from watchfloor.core.principals import Permission

__all__ = ["stream_router"]


def stream_router() -> APIRouter:
    """Return the route of ``/api/stream``."""
    router = APIRouter(prefix="/api")

    @router.websocket("/stream")
    async def stream(websocket: WebSocket, services: Services) -> None:
        if await open_stream(websocket, Permission.READ_ALARMS, action="stream.open") is None:
            return
        async with services.events.subscribe() as queue:
            await websocket.accept()
            messages = _messages(queue)
            try:
                await push_messages(
                    websocket, messages, recheck_seconds=services.stream_recheck_seconds
                )
            finally:
                await messages.aclose()

    return router


async def _messages(queue: EventQueue) -> AsyncGenerator[str, None]:
    """Each committed alarm change as a stream message, until the subscriber falls behind."""
    while (event := await queue.get()) is not None:
        yield StreamMessage.of(event).model_dump_json()

"""The in-process alarm bus: committed alarm changes fanned out to every subscriber."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from watchfloor.core.ports import AlarmEvent

__all__ = ["LocalBus"]

logger = logging.getLogger(__name__)


class LocalBus:
    """Fan-out of alarm events to subscribers, each with a bounded queue.

    A subscriber that falls more than ``max_backlog`` events behind (a stalled console) is
    dropped rather than slowing everyone else; its iterator ends and the console reconnects
    and reloads.
    """

    def __init__(self, *, max_backlog: int = 10_000) -> None:
        self._subscribers: set[asyncio.Queue[AlarmEvent | None]] = set()
        self._max_backlog = max_backlog

    @property
    def subscriber_count(self) -> int:
        """How many subscribers are listening."""
        return len(self._subscribers)

    def publish(self, event: AlarmEvent) -> None:
        """Queue an event for every subscriber; never blocks."""
        for queue in list(self._subscribers):
            try:
                queue.put_nowait(event)
            except asyncio.QueueFull:
                logger.warning("alarm stream subscriber fell behind; disconnecting it")
                self._subscribers.discard(queue)
                queue.get_nowait()
                queue.put_nowait(None)

    @asynccontextmanager
    async def subscribe(self) -> AsyncIterator[asyncio.Queue[AlarmEvent | None]]:
        """Subscribe for the duration of the block; None in the queue means "you were dropped"."""
        queue: asyncio.Queue[AlarmEvent | None] = asyncio.Queue(self._max_backlog)
        self._subscribers.add(queue)
        try:
            yield queue
        finally:
            self._subscribers.discard(queue)

"""The supervision watch: raises "link lost" for devices that went silent past their deadline.

An I/O adapter like the receivers: it reads the overdue devices from the store, hands a
``link_lost`` signal per device to the intake (which marks the device lost in the same
commit), and sleeps. The restore happens in the intake when the device is heard again.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from datetime import datetime
from typing import Protocol

from watchfloor.core.errors import StoreUnavailableError
from watchfloor.core.ports import Clock, SignalSink
from watchfloor.core.supervision import SupervisedDevice, link_lost_signal

__all__ = ["OverdueDevices", "SupervisionWatch"]

logger = logging.getLogger(__name__)


class OverdueDevices(Protocol):
    """Where the watch finds the devices whose supervision deadline has passed."""

    async def overdue_devices(self, now: datetime) -> list[SupervisedDevice]:
        """Return supervised devices silent past interval + grace and not yet lost."""
        ...


class SupervisionWatch:
    """Checks supervision deadlines; ``check`` once, or ``serve`` until cancelled."""

    def __init__(
        self, *, devices: OverdueDevices, sink: SignalSink, clock: Clock, period: float = 1.0
    ) -> None:
        self._devices = devices
        self._sink = sink
        self._clock = clock
        self._period = period
        self.counters: Counter[str] = Counter()

    async def check(self) -> int:
        """Raise link loss for every overdue device; return how many were raised.

        Idempotent: a device is marked lost in the commit that stores its signal, so it is
        not overdue again until it has been heard and gone silent once more.

        Raises:
            StoreUnavailableError: the store could not read or commit; retried next period.
        """
        now = self._clock.now()
        overdue = await self._devices.overdue_devices(now)
        if overdue:
            await self._sink.submit([link_lost_signal(device, at=now) for device in overdue])
            for device in overdue:
                logger.warning(
                    "supervision: link lost for %s (silent past its deadline)", device.key
                )
            self.counters["link_lost"] += len(overdue)
        return len(overdue)

    async def serve(self) -> None:
        """Check every ``period`` seconds until cancelled; a store outage is retried."""
        while True:
            try:
                await self.check()
            except StoreUnavailableError:
                self.counters["store_unavailable"] += 1
                logger.error("supervision check failed: store unavailable; retrying")
            except Exception:  # task boundary: supervision must outlive a bug in one check
                self.counters["failed"] += 1
                logger.exception("supervision check failed")
            await asyncio.sleep(self._period)

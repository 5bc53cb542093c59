"""The escalation timer: runs ``core.handling``'s escalation of overdue alarms periodically."""

from __future__ import annotations

import asyncio
import logging

from watchfloor.core.errors import StoreUnavailableError
from watchfloor.core.handling import AlarmHandling

__all__ = ["serve_escalation"]

logger = logging.getLogger(__name__)


async def serve_escalation(handling: AlarmHandling, period: float) -> None:
    """Move alarms past their deadline up the escalation ladder, every ``period`` seconds.

    Runs until cancelled; a failed check is logged and tried again a period later.
    """
    while True:
        try:
            for alarm in await handling.escalate_overdue():
                logger.warning(
                    "alarm %s (priority %s) escalated to %s: not acknowledged in time",
                    alarm.id,
                    alarm.priority,
                    alarm.escalation_level,
                )
        except StoreUnavailableError:
            logger.error("escalation check failed: store unavailable; retrying")
        except Exception:  # task boundary: escalation must outlive a bug in one check
            logger.exception("escalation check failed")
        await asyncio.sleep(period)

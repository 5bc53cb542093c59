"""What the routes of staff on duty, call-takers, units and notifications need, injected."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Annotated, Protocol

from fastapi import Depends

from watchfloor.api.services import Services
from watchfloor.core.audit import AuditEntry
from watchfloor.core.dispatching import Dispatching, FieldStore
from watchfloor.core.notifications import DeadLetterStore, NotificationLog, NotificationRule
from watchfloor.core.ports import Clock
from watchfloor.core.signals import LinkTest, Signal, SignalRecord
from watchfloor.core.site_records import SiteStore

__all__ = ["AuditedSink", "Staff", "StaffServices"]


class AuditedSink(Protocol):
    """The intake (``store.writer.GroupCommitWriter``), taking a submission's audit row too."""

    async def submit(
        self, items: Sequence[Signal | LinkTest], *, audit: AuditEntry | None = None
    ) -> Sequence[SignalRecord | None]:
        """Store the items and the audit row in one commit; return after it."""
        ...


@dataclass(frozen=True, slots=True, kw_only=True)
class StaffServices:
    """Intake for reports and calls, units and dispatch, and the notification feeds.

    ``cap_rules`` select the alarms the CAP feed publishes (none: the feed is empty);
    ``cap_sender`` names this control room in every CAP alert. ``sites`` gives a crew sent to
    an alarm the site's address (None: none is looked up).
    """

    sink: AuditedSink
    store: FieldStore
    dispatching: Dispatching
    dead_letters: DeadLetterStore
    notification_log: NotificationLog
    clock: Clock
    cap_rules: tuple[NotificationRule, ...] = ()
    cap_sender: str = "watchfloor"
    sites: SiteStore | None = None


def _staff(services: Services) -> StaffServices:
    return services.staff


Staff = Annotated[StaffServices, Depends(_staff)]
"""A route's parameter: the services of staff on duty, call-takers and notifications."""

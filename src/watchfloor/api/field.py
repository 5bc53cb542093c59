"""What the routes of staff on duty, call-takers, units and notifications need, injected."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request

from watchfloor.core.dispatching import Dispatching, FieldStore
from watchfloor.core.notifications import DeadLetterStore, NotificationLog, NotificationRule
from watchfloor.core.ports import Clock, SignalSink

__all__ = ["Field", "FieldServices"]


@dataclass(frozen=True, slots=True, kw_only=True)
class FieldServices:
    """Intake for reports and calls, units and dispatch, and the notification feeds.

    ``cap_rules`` select the alarms the CAP feed publishes (none: the feed is empty);
    ``cap_sender`` names this control room in every CAP alert.
    """

    sink: SignalSink
    store: FieldStore
    dispatching: Dispatching
    dead_letters: DeadLetterStore
    notification_log: NotificationLog
    clock: Clock
    cap_rules: tuple[NotificationRule, ...] = ()
    cap_sender: str = "watchfloor"


def _field(request: Request) -> FieldServices:
    services: FieldServices = request.app.state.services.field
    return services


Field = Annotated[FieldServices, Depends(_field)]

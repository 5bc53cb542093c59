"""Alarm handling: the use cases of an operator's night, over the AlarmStore port.

Each use case reads the alarm, applies the pure rule from ``core.alarms``, stores the result
with its timeline entry (compare-and-set on the version, so of two operators acting on one
alarm at once exactly one wins and the other gets ``ConflictError``), and only then
publishes the change to every console.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from watchfloor.core.alarm_types import Taxonomy
from watchfloor.core.alarms import (
    TIMELINE_OF_ACTION,
    Alarm,
    AlarmAction,
    Outcome,
    TimelineEntry,
    TimelineKind,
    apply_action,
    check_sop_step,
    claim_alarm,
    escalate_alarm,
    escalation_due,
)
from watchfloor.core.correlation import SYSTEM_ACTOR
from watchfloor.core.errors import ConflictError
from watchfloor.core.ports import AlarmEvent, AlarmEventKind, AlarmStore, Clock, Publish
from watchfloor.core.sites import CallAttempt, CallOutcome, Contact, call_list_worked

__all__ = ["AlarmHandling"]


@dataclass(frozen=True, slots=True, kw_only=True)
class AlarmHandling:
    """What operators and supervisors do to alarms, and the escalation of forgotten ones."""

    repository: AlarmStore
    taxonomy: Taxonomy
    clock: Clock
    publish: Publish

    async def act(
        self,
        alarm_id: int,
        action: AlarmAction,
        *,
        actor: str,
        outcome: Outcome | None = None,
        note: str | None = None,
        override_reason: str | None = None,
    ) -> Alarm:
        """Apply an action (acknowledge, dispatch, hold, resume, resolve, close, reopen).

        Raises:
            NotFoundError, InvalidTransitionError, ProcedureIncompleteError, ConflictError.
        """
        previous = (await self.repository.get_alarm(alarm_id)).alarm
        now = self.clock.now()
        updated = apply_action(
            previous,
            action,
            at=now,
            actor=actor,
            alarm_type=self.taxonomy.types.get(previous.type_code),
            outcome=outcome,
            override_reason=override_reason,
        )
        details = [
            f"outcome: {outcome}" if outcome else "",
            note or "",
            f"procedure override: {override_reason}" if override_reason else "",
        ]
        entry = TimelineEntry(
            at=now,
            kind=TIMELINE_OF_ACTION[action],
            actor=actor,
            detail="; ".join(d for d in details if d),
        )
        return await self._save(previous, updated, [entry])

    async def claim(
        self, alarm_id: int, *, actor: str, release: bool = False, take_over: bool = False
    ) -> Alarm:
        """Hold an alarm (or release it) so that everyone sees who works on it.

        Raises:
            NotFoundError, InvalidTransitionError, ConflictError (held by someone else).
        """
        previous = (await self.repository.get_alarm(alarm_id)).alarm
        updated = claim_alarm(previous, actor=actor, release=release, take_over=take_over)
        kind = TimelineKind.RELEASED if release else TimelineKind.CLAIMED
        detail = (
            f"taken over from {previous.claimed_by}"
            if (take_over and previous.claimed_by not in (None, actor))
            else ""
        )
        entry = TimelineEntry(at=self.clock.now(), kind=kind, actor=actor, detail=detail)
        return await self._save(previous, updated, [entry])

    async def check_step(self, alarm_id: int, index: int, *, done: bool, actor: str) -> Alarm:
        """Mark a step of the alarm's procedure done (or not done).

        Raises:
            NotFoundError, InvalidTransitionError, IndexError (no such step), ConflictError.
        """
        detail = await self.repository.get_alarm(alarm_id)
        previous = detail.alarm
        alarm_type = self.taxonomy.get(previous.type_code)
        updated = check_sop_step(
            previous,
            alarm_type,
            index,
            done=done,
            call_list_worked=call_list_worked(detail.calls),
        )
        entry = TimelineEntry(
            at=self.clock.now(),
            kind=TimelineKind.SOP_STEP,
            actor=actor,
            detail=f"{'done' if done else 'not done'}: {index + 1}. {alarm_type.sop[index]}",
        )
        return await self._save(previous, updated, [entry])

    async def record_call(
        self,
        alarm_id: int,
        contact: Contact,
        outcome: CallOutcome,
        *,
        actor: str,
        phone_label: str | None = None,
    ) -> Alarm:
        """Record a call to a contact of the site's call list on the alarm's timeline.

        An answered call works the call list: the procedure's steps that require it are
        marked done with it. Not idempotent (each call is one attempt).

        Raises:
            NotFoundError, ConflictError.
        """
        detail = await self.repository.get_alarm(alarm_id)
        previous = detail.alarm
        now = self.clock.now()
        attempt = CallAttempt(
            contact_id=contact.id, outcome=outcome, at=now, actor=actor, phone_label=phone_label
        )
        on = f" on {phone_label}" if phone_label else ""
        spoken = outcome.value.replace("_", " ")
        role = contact.role.value.replace("_", " ")
        entries = [
            TimelineEntry(
                at=now,
                kind=TimelineKind.CALL,
                actor=actor,
                detail=f"called {contact.name} ({role}){on}: {spoken}",
            )
        ]
        alarm_type = self.taxonomy.types.get(previous.type_code)
        steps = frozenset[int]()
        if alarm_type is not None and previous.is_open and outcome is CallOutcome.ANSWERED:
            steps = alarm_type.call_list_steps - previous.sop_done
            entries += [
                TimelineEntry(
                    at=now,
                    kind=TimelineKind.SOP_STEP,
                    actor=actor,
                    detail=f"done: {index + 1}. {alarm_type.sop[index]}",
                )
                for index in sorted(steps)
            ]
        updated = replace(
            previous, sop_done=previous.sop_done | steps, version=previous.version + 1
        )
        stored = await self.repository.save_alarm(previous, updated, entries, calls=[attempt])
        self.publish(AlarmEvent(kind=AlarmEventKind.UPDATED, alarm=stored))
        return stored

    async def add_note(self, alarm_id: int, text: str, *, actor: str) -> Alarm:
        """Add a note to the alarm's timeline.

        Raises:
            NotFoundError, ConflictError.
        """
        previous = (await self.repository.get_alarm(alarm_id)).alarm
        entry = TimelineEntry(at=self.clock.now(), kind=TimelineKind.NOTE, actor=actor, detail=text)
        updated = replace(previous, version=previous.version + 1)
        return await self._save(previous, updated, [entry])

    async def escalate_overdue(self) -> list[Alarm]:
        """Move every alarm past its deadline up the escalation ladder; return each step.

        One rung at a time, each its own stored change, timeline entry and published
        ``alarm.escalated`` event (so that the notification rules of each rung fire), until
        the alarm's next deadline is still ahead or no rung is left. Safe to run on several
        nodes and after a restart: the deadline is stored with the alarm, and an alarm moved
        elsewhere meanwhile is skipped (stale version), so no rung is told twice.
        """
        now = self.clock.now()
        ladder = self.taxonomy.escalation_ladder
        escalated: list[Alarm] = []
        for alarm in await self.repository.overdue_alarms(now):
            while escalation_due(alarm, now):
                updated = escalate_alarm(alarm, at=now, ladder=ladder)
                if updated.escalation_count == alarm.escalation_count:
                    # The ladder has fewer rungs than this alarm climbed: only the deadline ends.
                    entries, kind = [], AlarmEventKind.UPDATED
                else:
                    entries = [
                        TimelineEntry(
                            at=now,
                            kind=TimelineKind.ESCALATED,
                            actor=SYSTEM_ACTOR,
                            detail=f"escalated to {_spoken(updated.escalation_level)}: "
                            "not acknowledged in time",
                        )
                    ]
                    kind = AlarmEventKind.ESCALATED
                try:
                    alarm = await self._save(alarm, updated, entries, kind=kind)
                except ConflictError:
                    break
                if kind is AlarmEventKind.ESCALATED:
                    escalated.append(alarm)
        return escalated

    async def _save(
        self,
        previous: Alarm,
        updated: Alarm,
        entries: list[TimelineEntry],
        kind: AlarmEventKind = AlarmEventKind.UPDATED,
    ) -> Alarm:
        stored = await self.repository.save_alarm(previous, updated, entries)
        self.publish(AlarmEvent(kind=kind, alarm=stored))
        return stored


def _spoken(level: str | None) -> str:
    return (level or "").replace("_", " ")

"""Working a call list on an alarm: calls stored with the alarm, and call-list steps."""

from __future__ import annotations

from dataclasses import replace
from types import MappingProxyType

import pytest

from support.clock import FakeClock
from support.factories import BURGLARY, dc09_signal
from watchfloor.core.alarm_types import Taxonomy
from watchfloor.core.alarms import TimelineKind
from watchfloor.core.errors import ConflictError
from watchfloor.core.handling import AlarmHandling
from watchfloor.core.ports import AlarmEvent
from watchfloor.core.sites import CallOutcome, Contact, ContactRole, Phone
from watchfloor.store import GroupCommitWriter, SqlRepository

JANE = Contact(
    id=7, name="Jane Doe", role=ContactRole.KEYHOLDER, phones=(Phone(label="mobile", number="999"),)
)


@pytest.fixture
def call_taxonomy(taxonomy: Taxonomy) -> Taxonomy:
    burglary = replace(
        taxonomy.types[BURGLARY],
        sop=("Call keyholders until one answers", "Log"),
        call_list_steps=frozenset({0}),
    )
    return replace(taxonomy, types=MappingProxyType({**taxonomy.types, BURGLARY: burglary}))


async def test_an_answered_call_works_the_call_list_step(
    writer: GroupCommitWriter,
    repository: SqlRepository,
    clock: FakeClock,
    call_taxonomy: Taxonomy,
) -> None:
    await repository.add_account(account="1234", site="HQ", key=None)
    (record,) = await writer.submit([dc09_signal(at=clock.now())])
    assert record is not None
    assert record.alarm_id is not None
    published: list[AlarmEvent] = []
    handling = AlarmHandling(
        repository=repository, taxonomy=call_taxonomy, clock=clock, publish=published.append
    )
    await handling.record_call(record.alarm_id, JANE, CallOutcome.NO_ANSWER, actor="olga")
    with pytest.raises(ConflictError, match="call list"):
        await handling.check_step(record.alarm_id, 0, done=True, actor="olga")
    answered = await handling.record_call(
        record.alarm_id, JANE, CallOutcome.ANSWERED, actor="olga", phone_label="mobile"
    )
    assert answered.sop_done == {0}
    detail = await repository.get_alarm(record.alarm_id)
    assert [(c.contact_id, c.outcome) for c in detail.calls] == [
        (7, CallOutcome.NO_ANSWER),
        (7, CallOutcome.ANSWERED),
    ]
    assert [(t.kind, t.detail) for t in detail.timeline[-3:]] == [
        (TimelineKind.CALL, "called Jane Doe (keyholder): no answer"),
        (TimelineKind.CALL, "called Jane Doe (keyholder) on mobile: answered"),
        (TimelineKind.SOP_STEP, "done: 1. Call keyholders until one answers"),
    ]
    assert len(published) == 2

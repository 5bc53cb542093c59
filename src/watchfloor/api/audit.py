"""Auditing of API requests: the entry of a request's action, and audited units of work.

Every route that reads or writes alarm, signal, image or equipment data runs its store calls
inside ``audited_in`` (or a use case inside ``audited_use_case``): the audit row and the
action commit in one transaction, and a failed action is recorded as failed. Alarm changes
made inside a use case are published to the consoles only after that commit.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import replace
from datetime import datetime
from typing import Protocol, TypeVar

from fastapi import Request
from starlette.requests import HTTPConnection

from watchfloor.api.services import services_of
from watchfloor.core.audit import (
    AuditEntry,
    AuditOutcome,
    AuditRecord,
    Checkpoint,
    VerifyReport,
)
from watchfloor.core.handling import AlarmHandling
from watchfloor.core.ports import AlarmEvent, AuditedStore, Publish
from watchfloor.core.principals import Principal

__all__ = [
    "AuditLog",
    "CheckpointSigner",
    "RefusalLog",
    "audit_entry",
    "audited_handling",
    "audited_in",
    "audited_use_case",
    "record",
]


class AuditLog(Protocol):
    """What the API reads and appends of the audit log (``store.audit.SqlAuditLog``)."""

    async def record(self, entry: AuditEntry) -> AuditRecord:
        """Append one entry in a transaction of its own."""
        ...

    async def search(
        self,
        *,
        limit: int,
        before: int | None = None,
        actor: str | None = None,
        action: str | None = None,
        target: str | None = None,
        start: datetime | None = None,
        end: datetime | None = None,
    ) -> list[AuditRecord]:
        """Rows newest first, filtered."""
        ...

    async def checkpoints(self) -> list[Checkpoint]:
        """Every checkpoint, oldest first."""
        ...

    async def latest_checkpoint(self) -> Checkpoint | None:
        """The newest checkpoint, if any."""
        ...

    async def count_actions(self, prefixes: Sequence[str], *, since: datetime) -> dict[str, int]:
        """How many successful rows of actions starting with each prefix since a time."""
        ...

    async def add_checkpoint(self, key_id: str, sign: Callable[[bytes], str]) -> Checkpoint:
        """Sign and store a checkpoint of the chain as it is now."""
        ...

    async def verify(self, verify_signature: Callable[[str, bytes, str], bool]) -> VerifyReport:
        """Recompute the chain and check the checkpoints."""
        ...


class CheckpointSigner(Protocol):
    """The deployment's checkpoint key (``signing.AuditSigner``) and the keys it trusts."""

    @property
    def key_id(self) -> str:
        """The public key, hex."""
        ...

    def sign(self, message: bytes) -> str:
        """The hex signature of a message."""
        ...


class RefusalLog(Protocol):
    """Where refusals are audited (``adapters.refusals.RefusalAudit``): repeats are counted."""

    async def record(self, entry: AuditEntry) -> None:
        """Append the refusal now, or count it as a repeat of this interval's first."""
        ...


def _via(principal: Principal) -> str:
    label = principal.token_label
    return label if ":" in label else f"token:{label}"


def audit_entry(
    request: HTTPConnection,
    principal: Principal | None,
    action: str,
    target: str | None = None,
    *,
    reason: str | None = None,
    digest: str | None = None,
    outcome: AuditOutcome = AuditOutcome.OK,
) -> AuditEntry:
    """Return the entry for an action of this request: who, from where, when (UTC)."""
    services = services_of(request)
    return AuditEntry(
        at=services.handling.clock.now(),
        actor=principal.user if principal else "anonymous",
        role=principal.role.value if principal else None,
        via=_via(principal) if principal else "none",
        action=action,
        target=target,
        peer=request.client.host if request.client else None,
        reason=reason,
        outcome=outcome,
        digest=digest,
    )


S = TypeVar("S", bound=AuditedStore)
U = TypeVar("U")


@asynccontextmanager
async def audited_in(
    store: S,
    request: Request,
    principal: Principal,
    action: str,
    target: str | None = None,
    *,
    reason: str | None = None,
    digest: str | None = None,
) -> AsyncIterator[S]:
    """Run the block's calls on ``store`` and the action's audit row in one transaction."""
    entry = audit_entry(request, principal, action, target, reason=reason, digest=digest)
    async with store.audited(entry) as bound:
        yield bound


@asynccontextmanager
async def audited_use_case(
    use_case: Callable[[S, Publish], U],
    store: S,
    publish: Publish,
    request: Request,
    principal: Principal,
    action: str,
    target: str | None = None,
    *,
    reason: str | None = None,
    digest: str | None = None,
) -> AsyncIterator[U]:
    """A use case bound to one audited unit of work on ``store``, publishing after commit.

    ``use_case`` builds the use case on the bound store and a publish function that holds the
    alarm changes back; once the unit (the action and its audit row) commits they are handed
    to ``publish``. If the block raises, nothing is stored and nothing is published.
    """
    pending: list[AlarmEvent] = []
    async with audited_in(
        store, request, principal, action, target, reason=reason, digest=digest
    ) as bound:
        yield use_case(bound, pending.append)
    for event in pending:
        publish(event)


def audited_handling(
    request: Request,
    principal: Principal,
    action: str,
    target: str | None = None,
    *,
    reason: str | None = None,
    digest: str | None = None,
) -> AbstractAsyncContextManager[AlarmHandling]:
    """The alarm use cases in an audited unit of work; their changes published after commit."""
    handling = services_of(request).handling
    return audited_use_case(
        lambda store, publish: replace(handling, repository=store, publish=publish),
        handling.repository,
        handling.publish,
        request,
        principal,
        action,
        target,
        reason=reason,
        digest=digest,
    )


async def record(request: HTTPConnection, entry: AuditEntry) -> None:
    """Append an entry on its own (a refusal, a login, an action with no data write).

    A refusal of a request that proved no identity (no role) goes through the refusal log,
    which writes the first of a source's repeated refusals at once and the rest as a count
    (``core.refusals``). A refused signed-in user or valid token is written in full: they are
    accountable, and add a row with every read anyway.
    """
    services = services_of(request)
    if entry.outcome is AuditOutcome.DENIED and entry.role is None:
        await services.refusals.record(entry)
        return
    await services.audit_log.record(entry)

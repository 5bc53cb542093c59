"""The auditors' routes: the audit log, its verification, and signed checkpoints."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query, Request
from pydantic import AwareDatetime, BaseModel

from watchfloor.api.audit import audit_entry, record
from watchfloor.api.auth import allowed
from watchfloor.api.services import Services
from watchfloor.core.audit import AuditRecord, Checkpoint, VerifyReport
from watchfloor.core.principals import Permission, Principal

__all__ = ["audit_router"]


class AuditRowOut(BaseModel):
    """One audit row as auditors read it."""

    seq: int
    at: datetime
    actor: str
    role: str | None
    via: str
    action: str
    target: str | None
    peer: str | None
    reason: str | None
    outcome: str
    digest: str | None
    hash: str

    @classmethod
    def of(cls, record: AuditRecord) -> AuditRowOut:
        """Build from a sealed row."""
        entry = record.entry
        return cls(
            seq=record.seq,
            at=entry.at,
            actor=entry.actor,
            role=entry.role,
            via=entry.via,
            action=entry.action,
            target=entry.target,
            peer=entry.peer,
            reason=entry.reason,
            outcome=entry.outcome.value,
            digest=entry.digest,
            hash=record.hash,
        )


class AuditList(BaseModel):
    """A page of audit rows, newest first."""

    items: list[AuditRowOut]


class CheckpointOut(BaseModel):
    """A signed checkpoint."""

    count: int
    head_hash: str
    at: datetime
    key_id: str
    signature: str

    @classmethod
    def of(cls, checkpoint: Checkpoint) -> CheckpointOut:
        """Build from a checkpoint."""
        return cls(
            count=checkpoint.count,
            head_hash=checkpoint.head_hash,
            at=checkpoint.at,
            key_id=checkpoint.key_id,
            signature=checkpoint.signature,
        )


class CheckpointList(BaseModel):
    """Every checkpoint, oldest first."""

    items: list[CheckpointOut]


class VerifyOut(BaseModel):
    """The result of verifying the chain and its checkpoints."""

    ok: bool
    rows: int
    checkpoints: int
    head_hash: str
    first_broken: int | None
    problems: list[str]


Auditor = Annotated[Principal, allowed(Permission.READ_AUDIT)]


def audit_router() -> APIRouter:
    """Return the auditors' routes."""
    router = APIRouter(prefix="/api/audit")

    @router.get("", summary="Audit rows, newest first (auditors)")
    async def search(
        request: Request,
        principal: Auditor,
        services: Services,
        actor: str | None = None,
        action: Annotated[str | None, Query(description="an action or its prefix")] = None,
        target: str | None = None,
        start: Annotated[AwareDatetime | None, Query(alias="from")] = None,
        end: Annotated[AwareDatetime | None, Query(alias="to")] = None,
        before: Annotated[int | None, Query(ge=1, description="only rows with seq < before")] = (
            None
        ),
        limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    ) -> AuditList:
        await record(request, audit_entry(request, principal, "audit.read", target=actor))
        rows = await services.audit_log.search(
            limit=limit,
            before=before,
            actor=actor,
            action=action,
            target=target,
            start=start,
            end=end,
        )
        return AuditList(items=[AuditRowOut.of(r) for r in rows])

    @router.get("/verify", summary="Recompute the chain and check the signed checkpoints")
    async def verify(request: Request, principal: Auditor, services: Services) -> VerifyOut:
        await record(request, audit_entry(request, principal, "audit.verify"))
        report: VerifyReport = await services.audit_log.verify(services.verify_signature)
        return VerifyOut(
            ok=report.ok,
            rows=report.rows,
            checkpoints=report.checkpoints,
            head_hash=report.head_hash,
            first_broken=report.first_broken,
            problems=list(report.problems),
        )

    @router.get("/checkpoints", summary="Every signed checkpoint, oldest first")
    async def checkpoints(principal: Auditor, services: Services) -> CheckpointList:
        checkpoints = await services.audit_log.checkpoints()
        return CheckpointList(items=[CheckpointOut.of(c) for c in checkpoints])

    @router.post("/checkpoints", status_code=201, summary="Sign a checkpoint of the chain now")
    async def add_checkpoint(
        request: Request, principal: Auditor, services: Services
    ) -> CheckpointOut:
        await record(request, audit_entry(request, principal, "audit.checkpoint"))
        signer = services.signer
        return CheckpointOut.of(await services.audit_log.add_checkpoint(signer.key_id, signer.sign))

    return router

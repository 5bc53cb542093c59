"""The public transparency register: what this deployment monitors, why, and for how long.

Public by design (no token): it is how the people a control room protects can see what it
does. Built from live data — the taxonomy in force with each type's basis and its history, the
retention periods, aggregate counts, the latest signed audit checkpoint — and never containing
personal data: no sites, devices, names or free text, only categories and numbers.
"""

from __future__ import annotations

import html
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from fastapi import APIRouter
from fastapi.responses import HTMLResponse
from pydantic import BaseModel, Field

from watchfloor.api.services import ApiServices, Services
from watchfloor.core.alarm_types import Basis
from watchfloor.core.retention import RetentionPolicy
from watchfloor.core.taxonomy_history import TaxonomyVersion

__all__ = ["RegisterInfo", "TransparencyOut", "transparency_router"]

#: What watchfloor is for, and what it will never do: the line the project does not cross.
PURPOSES = (
    "Receiving alarms from intruder and fire panels, cameras' own analytics and staff on duty, "
    "so that a control room can send help to protect people and property.",
)
DOES_NOT = (
    "No face recognition.",
    "No tracking or searching of people by appearance.",
    "No field for anyone's religion, ethnicity, political opinion or status.",
    "No alarm category for lawful assembly, protest, procession or petition.",
)
WINDOW = timedelta(days=30)


#: The audit actions the register counts as searches and as exports.
SEARCH_ACTIONS = "search."
EXPORT_ACTIONS = "export."


@dataclass(frozen=True, slots=True, kw_only=True)
class RegisterInfo:
    """What the register shows that is not in the store's tables.

    Who runs this deployment and how to reach them (None while not configured), its
    retention policy, and where the taxonomy's recorded history comes from.
    """

    operator_name: str | None
    contact: str | None
    retention: RetentionPolicy
    taxonomy_history: Callable[[], Awaitable[list[TaxonomyVersion]]]


class AlarmTypeEntry(BaseModel):
    """An alarm type in force and the harm it addresses."""

    code: int
    name: str
    category: str
    basis: Basis
    priority: int


class RetentionEntry(BaseModel):
    """How long one kind of data is kept."""

    kind: str
    days: int


class CheckpointEntry(BaseModel):
    """The latest signed statement of the audit log's length and head."""

    rows: int
    head_hash: str
    at: datetime
    public_key: str
    signature: str


class TaxonomyChangeEntry(BaseModel):
    """A taxonomy put in force, and the types it added, removed and changed."""

    loaded_at: datetime
    version: str
    digest: str
    type_count: int
    added: list[int]
    removed: list[int]
    changed: list[int]


class TransparencyOut(BaseModel):
    """The register, as JSON."""

    operator_name: str | None
    contact: str | None
    missing: list[str]
    purposes: list[str]
    does_not: list[str]
    taxonomy_version: str
    alarm_types: list[AlarmTypeEntry]
    retention: list[RetentionEntry]
    counts_since: datetime
    alarms_by_category: dict[str, int]
    searches: int
    exports: int
    users_by_role: dict[str, int]
    contact_records: int = Field(
        description="how many contact records (people on sites' call lists) are kept"
    )
    audit_checkpoint: CheckpointEntry | None
    taxonomy_history: list[TaxonomyChangeEntry]


async def _register(services: ApiServices) -> TransparencyOut:
    taxonomy, clock, info = services.handling.taxonomy, services.handling.clock, services.register
    since = clock.now() - WINDOW
    counts: dict[str, int] = {}
    for fact in await services.alarms.alarm_facts(start=since, end=clock.now()):
        alarm_type = taxonomy.types.get(fact.type_code)
        category = alarm_type.category if alarm_type is not None else "other"
        counts[category] = counts.get(category, 0) + 1
    audit_counts = await services.audit_log.count_actions(
        [SEARCH_ACTIONS, EXPORT_ACTIONS], since=since
    )
    checkpoint = await services.audit_log.latest_checkpoint()
    missing = [
        name
        for name, value in (
            ("operator name (WATCHFLOOR_OPERATOR_NAME)", info.operator_name),
            ("public contact point (WATCHFLOOR_CONTACT)", info.contact),
        )
        if not value
    ]
    return TransparencyOut(
        operator_name=info.operator_name,
        contact=info.contact,
        missing=missing,
        purposes=list(PURPOSES),
        does_not=list(DOES_NOT),
        taxonomy_version=taxonomy.version,
        alarm_types=[
            AlarmTypeEntry(
                code=t.code, name=t.name, category=t.category, basis=t.basis, priority=t.priority
            )
            for t in taxonomy.types.values()
        ],
        retention=[
            RetentionEntry(kind=kind.value, days=period.days)
            for kind, period in info.retention.periods.items()
        ],
        counts_since=since,
        alarms_by_category=dict(sorted(counts.items())),
        searches=audit_counts[SEARCH_ACTIONS],
        exports=audit_counts[EXPORT_ACTIONS],
        users_by_role=await services.users.count_users_by_role(),
        contact_records=await services.sites.store.count_contacts(),
        audit_checkpoint=None
        if checkpoint is None
        else CheckpointEntry(
            rows=checkpoint.count,
            head_hash=checkpoint.head_hash,
            at=checkpoint.at,
            public_key=checkpoint.key_id,
            signature=checkpoint.signature,
        ),
        taxonomy_history=[
            TaxonomyChangeEntry(
                loaded_at=v.loaded_at,
                version=v.version,
                digest=v.digest,
                type_count=v.type_count,
                added=list(v.added),
                removed=list(v.removed),
                changed=list(v.changed),
            )
            for v in await info.taxonomy_history()
        ],
    )


def _rows(cells: list[tuple[object, ...]], empty: str, columns: int) -> str:
    e = html.escape
    body = "".join(
        "<tr>" + "".join(f"<td>{e(str(c))}</td>" for c in row) + "</tr>" for row in cells
    )
    return body or f"<tr><td colspan={columns}>{e(empty)}</td></tr>"


def _codes(codes: list[int]) -> str:
    return ", ".join(map(str, codes)) or "-"


def _html(register: TransparencyOut) -> str:
    e = html.escape
    operator = (
        f"<p><strong>Operated by:</strong> {e(register.operator_name or '')}<br>"
        f"<strong>Contact:</strong> {e(register.contact or '')}</p>"
    )
    missing = "".join(f"<li>{e(item)} is not set</li>" for item in register.missing)
    if missing:
        operator = (
            "<p class='missing'><strong>This deployment has not yet said who runs it "
            f"or how to reach them:</strong></p><ul>{missing}</ul>"
        )
    types = _rows(
        [(t.code, t.name, t.category, t.basis, f"P{t.priority}") for t in register.alarm_types],
        "No alarm types.",
        5,
    )
    counts = _rows(list(register.alarms_by_category.items()), "No alarms.", 2)
    retention = _rows([(r.kind, f"{r.days} days") for r in register.retention], "", 2)
    users = _rows(list(register.users_by_role.items()), "No users.", 2)
    checkpoint = register.audit_checkpoint
    signed = (
        f"<p>At {e(checkpoint.at.isoformat())} the audit log held {checkpoint.rows} rows ending "
        f"in <code>{e(checkpoint.head_hash)}</code>, signed (Ed25519) by the key "
        f"<code>{e(checkpoint.public_key)}</code>: <code class='wrap'>"
        f"{e(checkpoint.signature)}</code></p>"
        if checkpoint
        else "<p>No checkpoint has been signed yet.</p>"
    )
    history = _rows(
        [
            (
                v.loaded_at.isoformat(),
                v.version,
                v.type_count,
                _codes(v.added),
                _codes(v.removed),
                _codes(v.changed),
            )
            for v in register.taxonomy_history
        ],
        "No taxonomy recorded yet.",
        6,
    )
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Transparency register</title>
<link rel="stylesheet" href="/transparency.css"></head><body>
<h1>Transparency register</h1>
{operator}
<h2>What this system is for</h2><ul>{"".join(f"<li>{e(p)}</li>" for p in register.purposes)}</ul>
<h2>What this system does not do</h2><ul>{"".join(f"<li>{e(d)}</li>" for d in register.does_not)}</ul>
<h2>How long data is kept</h2>
<p>Data past its period is deleted automatically; evidence of an alarm still open is kept
until it is closed. The audit log is kept for the life of the deployment.</p>
<table><tr><th>Data</th><th>Kept for</th></tr>{retention}</table>
<h2>The last 30 days</h2>
<table><tr><th>Category</th><th>Alarms</th></tr>{counts}</table>
<p>Searches of stored data: {register.searches}. Exports: {register.exports}.
Each needs a reason, and each is in the audit log.</p>
<table><tr><th>Role</th><th>Users</th></tr>{users}</table>
<p>Contact records kept (people on sites' call lists, with their phone numbers):
{register.contact_records}. Reading a site's call list is recorded in the audit log; a
contact removed from a site is deleted.</p>
<h2>Audit log</h2>
<p>Every read and change of alarm data is recorded in a hash-chained log that cannot be
altered without detection.</p>
{signed}
<h2>Alarm types in force (taxonomy {e(register.taxonomy_version)})</h2>
<p>Every type names the harm it addresses from a closed list.</p>
<table><tr><th>Code</th><th>Type</th><th>Category</th><th>Harm addressed</th><th>Priority</th></tr>
{types}</table>
<h2>Changes to the alarm types</h2>
<table><tr><th>In force from</th><th>Version</th><th>Types</th><th>Added</th><th>Removed</th>
<th>Changed</th></tr>{history}</table>
</body></html>
"""


def transparency_router() -> APIRouter:
    """Return the public register's routes."""
    router = APIRouter()

    @router.get("/transparency.json", summary="The public transparency register (JSON)")
    async def register_json(services: Services) -> TransparencyOut:
        return await _register(services)

    @router.get(
        "/transparency",
        response_class=HTMLResponse,
        summary="The public transparency register (HTML)",
    )
    async def register_html(services: Services) -> HTMLResponse:
        return HTMLResponse(_html(await _register(services)))

    return router

"""The public transparency register: what this deployment monitors, why, and for how long.

Public by design (no token): it is how the people a control room protects can see what it
does. Built from live data — the taxonomy in force with each type's basis, aggregate counts —
and never containing personal data: no sites, devices, names or free text, only categories
and numbers.
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse
from pydantic import BaseModel

from watchfloor.core.alarm_types import Basis, Taxonomy
from watchfloor.core.ports import Clock, Repository

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


@dataclass(frozen=True, slots=True, kw_only=True)
class RegisterInfo:
    """Who runs this deployment and how to reach them; None while not configured."""

    operator_name: str | None
    contact: str | None


class AlarmTypeEntry(BaseModel):
    """An alarm type in force and the harm it addresses."""

    code: int
    name: str
    category: str
    basis: Basis
    priority: int


class TransparencyOut(BaseModel):
    """The register, as JSON."""

    operator_name: str | None
    contact: str | None
    missing: list[str]
    purposes: list[str]
    does_not: list[str]
    taxonomy_version: str
    alarm_types: list[AlarmTypeEntry]
    retention: str
    counts_since: datetime
    alarms_by_category: dict[str, int]


def _services(request: Request) -> tuple[Repository, Taxonomy, Clock, RegisterInfo]:
    services = request.app.state.services
    return (
        services.repository,
        services.handling.taxonomy,
        services.handling.clock,
        services.register,
    )


Services = Annotated[tuple[Repository, Taxonomy, Clock, RegisterInfo], Depends(_services)]


async def _register(services: tuple[Repository, Taxonomy, Clock, RegisterInfo]) -> TransparencyOut:
    repository, taxonomy, clock, info = services
    since = clock.now() - WINDOW
    counts: dict[str, int] = {}
    for fact in await repository.alarm_facts(start=since, end=clock.now()):
        alarm_type = taxonomy.types.get(fact.type_code)
        category = alarm_type.category if alarm_type is not None else "other"
        counts[category] = counts.get(category, 0) + 1
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
        retention=(
            "Not yet configured: this version keeps signals and alarms until an administrator "
            "deletes them. Automatic deletion per kind of data is planned."
        ),
        counts_since=since,
        alarms_by_category=dict(sorted(counts.items())),
    )


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
    types = "".join(
        f"<tr><td>{t.code}</td><td>{e(t.name)}</td><td>{e(t.category)}</td>"
        f"<td>{e(t.basis)}</td><td>P{t.priority}</td></tr>"
        for t in register.alarm_types
    )
    counts = "".join(
        f"<tr><td>{e(k)}</td><td>{v}</td></tr>" for k, v in register.alarms_by_category.items()
    ) or ("<tr><td colspan=2>No alarms.</td></tr>")
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Transparency register</title>
<link rel="stylesheet" href="/transparency.css"></head><body>
<h1>Transparency register</h1>
{operator}
<h2>What this system is for</h2><ul>{"".join(f"<li>{e(p)}</li>" for p in register.purposes)}</ul>
<h2>What this system does not do</h2><ul>{"".join(f"<li>{e(d)}</li>" for d in register.does_not)}</ul>
<h2>Retention</h2><p>{e(register.retention)}</p>
<h2>Alarms in the last 30 days, by category</h2>
<table><tr><th>Category</th><th>Alarms</th></tr>{counts}</table>
<h2>Alarm types in force (taxonomy {e(register.taxonomy_version)})</h2>
<p>Every type names the harm it addresses from a closed list.</p>
<table><tr><th>Code</th><th>Type</th><th>Category</th><th>Harm addressed</th><th>Priority</th></tr>
{types}</table>
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

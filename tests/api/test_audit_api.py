"""Audit rows for each kind of API action, the auditors' routes, and verification."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager
from datetime import timedelta

import httpx
import pytest
from httpx_ws import AsyncWebSocketSession, aconnect_ws
from httpx_ws.transport import ASGIWebSocketTransport

from conftest import TOKEN
from support.panel import open_tcp_panel, reply_token, sia_frame
from watchfloor.app import Platform
from watchfloor.core.audit import AuditOutcome, AuditRecord
from watchfloor.core.principals import Role

ADMIN = {"Authorization": f"Bearer {TOKEN}"}
OPERATOR = {"Authorization": "Bearer audit-operator-token"}
SUPERVISOR = {"Authorization": "Bearer audit-supervisor-token"}
AUDITOR = {"Authorization": "Bearer audit-auditor-token"}


@pytest.fixture
async def client(platform: Platform) -> AsyncIterator[httpx.AsyncClient]:
    for user, role in (("olga", Role.OPERATOR), ("sam", Role.SUPERVISOR), ("ada", Role.AUDITOR)):
        await platform.users.ensure_token(
            user=user, role=role, label="desk", token=f"audit-{role.value}-token"
        )
    transport = httpx.ASGITransport(app=platform.api, client=("10.1.2.3", 50000))
    async with httpx.AsyncClient(transport=transport, base_url="http://watchfloor") as http:
        yield http


async def _raise_alarm(platform: Platform) -> int:
    await platform.repository.add_account(account="1234", site="Depot", key=None)
    host, port = platform.dc09_address
    async with open_tcp_panel(host, port) as panel:
        assert reply_token(await panel.exchange(sia_frame("1234", 1, "#1234|Nri1/BA05"))) == "ACK"
    [alarm] = await platform.repository.list_alarms(state=None, limit=1, after=None)
    return alarm.id


async def _rows(platform: Platform) -> list[AuditRecord]:
    """The rows of people's actions, oldest first (the start-up's taxonomy record left out)."""
    rows = reversed(await platform.audit_log.search(limit=1000))
    return [r for r in rows if r.entry.via != "system"]


async def test_reads_and_writes_of_an_alarm_are_audited(
    client: httpx.AsyncClient, platform: Platform
) -> None:
    alarm_id = await _raise_alarm(platform)
    note = "Caller Jane Doe on 07700 900123 says the door is open"
    assert (await client.get("/api/alarms", headers=OPERATOR)).status_code == 200
    assert (await client.get(f"/api/alarms/{alarm_id}", headers=OPERATOR)).status_code == 200
    assert (await client.get(f"/api/signals?alarm={alarm_id}", headers=OPERATOR)).is_success
    assert (await client.post(f"/api/alarms/{alarm_id}/acknowledge", headers=OPERATOR)).is_success
    noted = await client.post(
        f"/api/alarms/{alarm_id}/notes", headers=OPERATOR, json={"text": note}
    )
    assert noted.is_success
    missing = await client.post("/api/alarms/99999/acknowledge", headers=OPERATOR)
    assert missing.status_code == 404

    rows = await _rows(platform)
    seen = [(r.entry.action, r.entry.target, r.entry.outcome) for r in rows]
    target = f"alarm:{alarm_id}"
    assert seen == [
        ("alarm.list", "alarms:all", AuditOutcome.OK),
        ("alarm.read", target, AuditOutcome.OK),
        # The alarm's site record: its call list is personal data, read under audit.
        ("site.contacts.read", "site:Depot", AuditOutcome.OK),
        ("signal.list", target, AuditOutcome.OK),
        ("alarm.acknowledge", target, AuditOutcome.OK),
        ("alarm.note", target, AuditOutcome.OK),
        ("alarm.acknowledge", "alarm:99999", AuditOutcome.FAILED),
    ]
    for row in rows:
        assert (row.entry.actor, row.entry.role, row.entry.via) == (
            "olga",
            "operator",
            "token:desk",
        )
        assert row.entry.peer == "10.1.2.3"
        assert row.entry.at.utcoffset() == timedelta(0)
    assert [r.entry.at for r in rows] == sorted(r.entry.at for r in rows)
    # The note's text stays out of the audit log: its digest identifies it.
    assert rows[5].entry.digest == hashlib.sha256(note.encode()).hexdigest()
    assert not any("Jane" in str(r.entry) for r in rows)


async def test_a_change_published_after_an_audited_commit(
    client: httpx.AsyncClient, platform: Platform
) -> None:
    alarm_id = await _raise_alarm(platform)
    async with platform.bus.subscribe() as queue:
        assert (
            await client.post(f"/api/alarms/{alarm_id}/acknowledge", headers=OPERATOR)
        ).is_success
        event = await queue.get()
    assert event is not None
    assert (event.alarm.id, event.alarm.state) == (alarm_id, "acknowledged")


async def test_equipment_changes_and_refusals_are_audited(
    client: httpx.AsyncClient, platform: Platform
) -> None:
    added = await client.post("/api/accounts", headers=ADMIN, json={"account": "ABCD"})
    assert added.status_code == 201
    rotated = await client.patch(
        "/api/accounts/ABCD", headers=ADMIN, json={"key": "00112233445566778899aabbccddeeff"}
    )
    assert rotated.is_success
    assert (
        await client.post("/api/accounts", headers=OPERATOR, json={"account": "EF"})
    ).status_code == 403
    assert (
        await client.get("/api/alarms", headers={"Authorization": "Bearer guess"})
    ).status_code == 401
    rows = await _rows(platform)
    assert [(r.entry.actor, r.entry.action, r.entry.target, r.entry.outcome) for r in rows] == [
        ("admin", "account.add", "account:ABCD", AuditOutcome.OK),
        ("admin", "account.key_change", "account:ABCD", AuditOutcome.OK),
        ("olga", "access.denied", "POST /api/accounts", AuditOutcome.DENIED),
        ("anonymous", "token.rejected", "GET /api/alarms", AuditOutcome.DENIED),
    ]
    assert rows[2].entry.reason == "may not manage equipment"
    assert rows[3].entry.digest == hashlib.sha256(b"guess").hexdigest()
    assert not any("00112233" in str(r.entry) for r in rows)


async def test_an_export_needs_a_reason_and_records_it(
    client: httpx.AsyncClient, platform: Platform
) -> None:
    refused = await client.get("/api/stats?format=csv", headers=SUPERVISOR)
    assert refused.status_code == 422
    exported = await client.get(
        "/api/stats?format=csv&by=site&reason=insurer+request+42", headers=SUPERVISOR
    )
    assert exported.status_code == 200
    [row] = await _rows(platform)
    assert (row.entry.action, row.entry.reason) == ("export.statistics", "insurer request 42")


async def test_auditors_read_verify_and_checkpoint(
    client: httpx.AsyncClient, platform: Platform
) -> None:
    await _raise_alarm(platform)
    await client.get("/api/alarms", headers=OPERATOR)
    assert (await client.get("/api/audit", headers=OPERATOR)).status_code == 403
    assert (await client.get("/api/audit", headers=ADMIN)).status_code == 403

    page = await client.get("/api/audit?actor=olga", headers=AUDITOR)
    assert page.status_code == 200
    assert [i["action"] for i in page.json()["items"]] == ["access.denied", "alarm.list"]
    verified = (await client.get("/api/audit/verify", headers=AUDITOR)).json()
    assert verified["ok"] is True
    assert verified["problems"] == []
    made = await client.post("/api/audit/checkpoints", headers=AUDITOR)
    assert made.status_code == 201
    checkpoints = (await client.get("/api/audit/checkpoints", headers=AUDITOR)).json()["items"]
    assert checkpoints[-1]["count"] == made.json()["count"]
    assert checkpoints[-1]["key_id"] == platform.signer.key_id
    again = (await client.get("/api/audit/verify", headers=AUDITOR)).json()
    assert (again["ok"], again["checkpoints"]) == (True, len(checkpoints))
    actions = [r.entry.action for r in await _rows(platform)]
    assert actions[-4:] == ["audit.read", "audit.verify", "audit.checkpoint", "audit.verify"]


async def test_opening_the_stream_is_audited(platform: Platform) -> None:
    async with httpx.AsyncClient(
        transport=ASGIWebSocketTransport(platform.api), base_url="http://watchfloor"
    ) as client:
        session: AbstractAsyncContextManager[AsyncWebSocketSession] = aconnect_ws(
            f"/api/stream?token={TOKEN}", client
        )
        async with session:
            pass
    [row] = await _rows(platform)
    assert (row.entry.actor, row.entry.action) == ("admin", "stream.open")


async def test_searches_and_exports_need_a_reason_and_are_audited(
    client: httpx.AsyncClient, platform: Platform
) -> None:
    alarm_id = await _raise_alarm(platform)
    assert (
        await client.get("/api/search/alarms?site=Depot", headers=SUPERVISOR)
    ).status_code == 422
    assert (
        await client.get("/api/search/alarms?site=Depot&reason=+", headers=SUPERVISOR)
    ).status_code == 422
    assert (
        await client.get("/api/search/alarms?site=Depot&reason=x", headers=OPERATOR)
    ).status_code == 403
    found = await client.get(
        "/api/search/alarms?site=Depot&reason=police+request+7", headers=SUPERVISOR
    )
    assert found.status_code == 200
    assert [a["id"] for a in found.json()["items"]] == [alarm_id]
    elsewhere = await client.get(
        "/api/search/alarms?site=Elsewhere&reason=police+request+7", headers=SUPERVISOR
    )
    assert elsewhere.json()["items"] == []
    later = await client.get(
        "/api/search/alarms?from=2999-01-01T00:00:00Z&reason=check", headers=SUPERVISOR
    )
    assert later.json()["items"] == []
    exported = await client.get(
        "/api/search/alarms?type_code=300&format=csv&reason=insurer", headers=SUPERVISOR
    )
    assert exported.status_code == 200
    lines = exported.text.strip().splitlines()
    assert lines[0].startswith("id,origin,type_code")
    assert lines[1].startswith(f"{alarm_id},equipment,")
    rows = [r for r in await _rows(platform) if r.entry.outcome is AuditOutcome.OK]
    assert [(r.entry.action, r.entry.target, r.entry.reason) for r in rows] == [
        ("search.alarms", "alarms?site=Depot", "police request 7"),
        ("search.alarms", "alarms?site=Elsewhere", "police request 7"),
        ("search.alarms", "alarms?from=2999-01-01T00:00:00+00:00", "check"),
        ("export.alarms", "alarms?type=300", "insurer"),
    ]

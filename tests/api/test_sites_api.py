"""Site records through the API: the record, zones on alarms, call lists worked from an alarm,
and the passphrase check with its silent duress alarm — on the real app and store."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from conftest import TOKEN
from support.panel import open_tcp_panel, reply_token, sia_frame
from watchfloor.app import Platform
from watchfloor.core.principals import Role

ADMIN = {"Authorization": f"Bearer {TOKEN}"}
OPERATOR = {"Authorization": "Bearer operator-token"}
SUPERVISOR = {"Authorization": "Bearer supervisor-token"}
AUDITOR = {"Authorization": "Bearer auditor-token"}


@pytest.fixture
async def client(platform: Platform) -> AsyncIterator[httpx.AsyncClient]:
    for user, role, token in (
        ("olga", Role.OPERATOR, "operator-token"),
        ("sue", Role.SUPERVISOR, "supervisor-token"),
        ("aud", Role.AUDITOR, "auditor-token"),
    ):
        await platform.users.ensure_token(user=user, role=role, label="test", token=token)
    transport = httpx.ASGITransport(app=platform.api)
    async with httpx.AsyncClient(transport=transport, base_url="http://watchfloor") as http:
        yield http


async def _raise(platform: Platform, data: str = "#1234|Nri1/BA005", seq: int = 1) -> int:
    host, port = platform.dc09_address
    async with open_tcp_panel(host, port) as panel:
        assert reply_token(await panel.exchange(sia_frame("1234", seq, data))) == "ACK"
    alarms = await platform.repository.list_alarms(state=None, limit=1, after=None)
    return alarms[0].id


async def _depot(client: httpx.AsyncClient, platform: Platform) -> None:
    await platform.repository.add_account(account="1234", site="Depot", key=None)
    patched = await client.patch(
        "/api/sites/Depot",
        headers=SUPERVISOR,
        json={
            "address": "1 Quay Road, Hull",
            "latitude": 53.74,
            "longitude": -0.33,
            "time_zone": "Europe/London",
            "instructions": "Dog on premises",
            "emergency": {"police": "999", "fire": "999", "ambulance": "999"},
        },
    )
    assert patched.status_code == 200, patched.text
    zones = await client.put(
        "/api/accounts/1234/zones",
        headers=SUPERVISOR,
        json=[{"zone": "005", "description": "Rear door, ground floor", "kind": "door_contact"}],
    )
    assert zones.status_code == 200, zones.text
    contacts = await client.put(
        "/api/sites/Depot/contacts",
        headers=SUPERVISOR,
        json=[
            {
                "name": "Jane Doe",
                "role": "keyholder",
                "phones": [{"label": "mobile", "number": "+44 7700 900123"}],
            },
            {
                "name": "Sam Roe",
                "role": "manager",
                "phones": [{"label": "office", "number": "+44 20 7946 0000"}],
            },
        ],
    )
    assert contacts.status_code == 200, contacts.text


async def test_a_site_is_created_read_and_validated(client: httpx.AsyncClient) -> None:
    created = await client.post(
        "/api/sites", headers=SUPERVISOR, json={"name": "Mill", "time_zone": "Europe/Paris"}
    )
    assert created.status_code == 201, created.text
    assert created.json()["time_zone"] == "Europe/Paris"
    assert (
        await client.post("/api/sites", headers=SUPERVISOR, json={"name": "Mill"})
    ).status_code == 409
    bad = await client.patch(
        "/api/sites/Mill", headers=SUPERVISOR, json={"time_zone": "Mars/Base", "latitude": 95}
    )
    assert bad.status_code == 422
    fields = {p["field"] for p in bad.json()["problems"]}
    assert {"time_zone", "latitude"} <= fields
    # Operators read; only supervisors and administrators edit.
    assert (await client.get("/api/sites/Mill", headers=OPERATOR)).status_code == 200
    refused = await client.patch("/api/sites/Mill", headers=OPERATOR, json={"address": "x"})
    assert refused.status_code == 403
    listed = await client.get("/api/sites", headers=OPERATOR)
    assert [s["name"] for s in listed.json()["items"]] == ["Mill"]


async def test_alarm_shows_the_zone_and_the_site_record(
    client: httpx.AsyncClient, platform: Platform
) -> None:
    await _depot(client, platform)
    alarm_id = await _raise(platform)
    detail = (await client.get(f"/api/alarms/{alarm_id}", headers=OPERATOR)).json()
    assert detail["zone_name"] == "Rear door, ground floor"
    assert detail["signals"][0]["zone_name"] == "Rear door, ground floor"
    record = detail["site_record"]
    assert record["address"] == "1 Quay Road, Hull"
    assert record["instructions"] == "Dog on premises"
    assert [c["name"] for c in record["contacts"]] == ["Jane Doe", "Sam Roe"]
    assert record["next_contact"] == record["contacts"][0]["id"]
    assert "passphrase_hash" not in str(detail)
    listed = (await client.get("/api/alarms", headers=OPERATOR)).json()["items"]
    assert listed[0]["zone_name"] == "Rear door, ground floor"
    # Reading the call list is audited.
    audit = await client.get("/api/audit?action=site.contacts.read", headers=AUDITOR)
    assert audit.status_code == 200, audit.text
    assert any(r["target"] == "site:Depot" for r in audit.json()["items"])


async def test_the_call_list_is_worked_from_the_alarm(
    client: httpx.AsyncClient, platform: Platform
) -> None:
    await _depot(client, platform)
    alarm_id = await _raise(platform)
    contacts = (await client.get("/api/sites/Depot/contacts", headers=OPERATOR)).json()["items"]
    jane, sam = contacts
    called = await client.post(
        f"/api/alarms/{alarm_id}/calls",
        headers=OPERATOR,
        json={"contact_id": jane["id"], "outcome": "no_answer", "phone_label": "mobile"},
    )
    assert called.status_code == 200, called.text
    detail = (await client.get(f"/api/alarms/{alarm_id}", headers=OPERATOR)).json()
    assert detail["timeline"][-1]["detail"] == "called Jane Doe (keyholder) on mobile: no answer"
    assert detail["site_record"]["next_contact"] == sam["id"]
    await client.post(
        f"/api/alarms/{alarm_id}/calls",
        headers=OPERATOR,
        json={"contact_id": sam["id"], "outcome": "answered"},
    )
    detail = (await client.get(f"/api/alarms/{alarm_id}", headers=OPERATOR)).json()
    assert detail["site_record"]["next_contact"] is None
    assert [c["outcome"] for c in detail["site_record"]["calls"]] == ["no_answer", "answered"]
    unknown = await client.post(
        f"/api/alarms/{alarm_id}/calls",
        headers=OPERATOR,
        json={"contact_id": 999, "outcome": "answered"},
    )
    assert unknown.status_code == 404


async def test_passphrase_match_no_match_and_silent_duress(
    client: httpx.AsyncClient, platform: Platform
) -> None:
    await _depot(client, platform)
    alarm_id = await _raise(platform)
    jane = (await client.get("/api/sites/Depot/contacts", headers=OPERATOR)).json()["items"][0]
    set_ = await client.post(
        "/api/sites/Depot/passphrase",
        headers=SUPERVISOR,
        json={
            "contact_id": jane["id"],
            "passphrase": "blue heron",
            "duress_passphrase": "red kite",
        },
    )
    assert set_.status_code == 204, set_.text
    contacts = (await client.get("/api/sites/Depot/contacts", headers=OPERATOR)).json()
    assert contacts["items"][0]["has_passphrase"] is True

    async def check(words: str) -> httpx.Response:
        return await client.post(
            f"/api/alarms/{alarm_id}/verify",
            headers=OPERATOR,
            json={"contact_id": jane["id"], "words": words},
        )

    before = await platform.repository.list_alarms(state=None, limit=10, after=None)
    match = await check("blue heron")
    assert (match.status_code, match.json()) == (200, {"result": "match"})
    no_match = await check("blue herring")
    assert (no_match.status_code, no_match.json()) == (200, {"result": "no_match"})
    assert len(await platform.repository.list_alarms(state=None, limit=10, after=None)) == len(
        before
    )
    duress = await check("red kite")
    # Exactly what a plain match gets.
    assert (duress.status_code, duress.content, duress.headers.get("content-type")) == (
        match.status_code,
        match.content,
        match.headers.get("content-type"),
    )
    after = await platform.repository.list_alarms(state=None, limit=10, after=None)
    raised = [a for a in after if a.id not in {b.id for b in before}]
    assert [(a.type_code, a.priority, a.site) for a in raised] == [(225, 1, "Depot")]
    # The checks' audit rows are alike; the duress is recorded apart, for auditors.
    rows = (await client.get("/api/audit?action=alarm.verify_passphrase", headers=AUDITOR)).json()
    assert {(r["target"], r["reason"]) for r in rows["items"]} == {
        (f"alarm:{alarm_id}/contact:{jane['id']}", None)
    }
    duress_rows = (await client.get("/api/audit?action=duress.raise", headers=AUDITOR)).json()
    assert [r["target"] for r in duress_rows["items"]] == ["site:Depot"]
    assert (await client.get("/api/audit", headers=OPERATOR)).status_code == 403


async def test_the_transparency_register_counts_contacts_without_listing_them(
    client: httpx.AsyncClient, platform: Platform
) -> None:
    await _depot(client, platform)
    register = await client.get("/transparency.json")
    assert register.json()["contact_records"] == 2
    page = (await client.get("/transparency")).text
    assert "Contact records kept" in page
    assert "Jane Doe" not in page
    assert "Jane Doe" not in register.text

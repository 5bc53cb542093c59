"""Staff reports and calls through the API: intake, exactly-once resends, bad input."""

from __future__ import annotations

import base64
import uuid
from collections.abc import AsyncIterator

import httpx
import pytest

from conftest import TOKEN
from watchfloor.app import Platform
from watchfloor.core.principals import Role

ADMIN = {"Authorization": f"Bearer {TOKEN}"}
GUARD = {"Authorization": "Bearer guard-token"}
TAKER = {"Authorization": "Bearer taker-token"}

#: The smallest well-formed headers of each accepted image format.
JPEG = b"\xff\xd8\xff\xe0" + b"\x00" * 60
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 60


@pytest.fixture
async def client(platform: Platform) -> AsyncIterator[httpx.AsyncClient]:
    await platform.users.ensure_token(
        user="guard", role=Role.PATROL, label="phone", token="guard-token"
    )
    await platform.users.ensure_token(
        user="carol", role=Role.OPERATOR, label="desk", token="taker-token"
    )
    transport = httpx.ASGITransport(app=platform.api)
    async with httpx.AsyncClient(transport=transport, base_url="http://watchfloor") as http:
        yield http


def _report(**changes: object) -> dict[str, object]:
    body: dict[str, object] = {
        "report_id": str(uuid.uuid4()),
        "type_code": 850,
        "site": "Depot North",
        "text": "Side door forced open",
    }
    body.update(changes)
    return body


async def test_a_report_raises_a_patrol_alarm_at_its_site(client: httpx.AsyncClient) -> None:
    response = await client.post("/api/reports", headers=GUARD, json=_report())
    assert response.status_code == 201, response.text
    created = response.json()
    alarm = (await client.get(f"/api/alarms/{created['alarm_id']}", headers=ADMIN)).json()
    assert alarm["origin"] == "patrol"
    assert (alarm["type_code"], alarm["type_name"]) == (850, "Staff report")
    assert alarm["site"] == "Depot North"
    assert alarm["device"] == "patrol:guard"
    assert alarm["signals"][0]["source"] == "patrol"
    assert alarm["signals"][0]["text"] == "Side door forced open"


async def test_a_report_chooses_any_type_of_the_taxonomy(client: httpx.AsyncClient) -> None:
    response = await client.post("/api/reports", headers=GUARD, json=_report(type_code=110))
    alarm = (await client.get(f"/api/alarms/{response.json()['alarm_id']}", headers=ADMIN)).json()
    assert alarm["type_name"] == "Fire alarm"
    assert alarm["priority"] == 1


async def test_a_resent_report_is_stored_once(client: httpx.AsyncClient) -> None:
    body = _report()
    first = await client.post("/api/reports", headers=GUARD, json=body)
    again = await client.post("/api/reports", headers=GUARD, json=body)
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    signals = (await client.get("/api/signals?device=patrol:guard", headers=ADMIN)).json()
    assert len(signals["items"]) == 1
    alarm = (await client.get(f"/api/alarms/{first.json()['alarm_id']}", headers=ADMIN)).json()
    assert alarm["signal_count"] == 1


async def test_two_reports_of_one_guard_at_two_sites_are_two_alarms(
    client: httpx.AsyncClient,
) -> None:
    north = await client.post("/api/reports", headers=GUARD, json=_report(site="North"))
    south = await client.post("/api/reports", headers=GUARD, json=_report(site="South"))
    repeat = await client.post("/api/reports", headers=GUARD, json=_report(site="North"))
    assert north.json()["alarm_id"] != south.json()["alarm_id"]
    assert repeat.json()["alarm_id"] == north.json()["alarm_id"]


async def test_a_report_may_give_a_position_instead_of_a_site(client: httpx.AsyncClient) -> None:
    body = _report(site=None, latitude=52.370216, longitude=4.895168)
    response = await client.post("/api/reports", headers=GUARD, json=body)
    assert response.status_code == 201, response.text
    assert response.json()["site"] == "position 52.37022,4.89517"


@pytest.mark.parametrize(
    ("changes", "status", "detail"),
    [
        ({"site": None}, 422, "give a site, or both latitude and longitude"),
        ({"site": None, "latitude": 52.0}, 422, "give a site"),
        ({"latitude": 91, "longitude": 0}, 422, "latitude"),
        ({"type_code": 4242}, 422, "type_code: no alarm type 4242"),
        ({"type_code": 870}, 422, "raises no alarm"),
        ({"report_id": "not-a-uuid"}, 422, "report_id"),
        ({"photo": "%%%"}, 422, "photo: not valid base64"),
        ({"photo": base64.b64encode(b"GIF89a....").decode()}, 415, "only JPEG and PNG"),
        ({"photo": base64.b64encode(b"\xff\xd8\xff" * 700_000).decode()}, 413, "larger"),
        ({"colour": "red"}, 422, "colour"),
    ],
)
async def test_bad_reports_are_refused_clearly(
    client: httpx.AsyncClient, changes: dict[str, object], status: int, detail: str
) -> None:
    response = await client.post("/api/reports", headers=GUARD, json=_report(**changes))
    assert response.status_code == status, response.text
    assert detail in response.json()["detail"]


@pytest.mark.parametrize(("image", "media_type"), [(JPEG, "image/jpeg"), (PNG, "image/png")])
async def test_a_report_photo_is_kept_once(
    client: httpx.AsyncClient, image: bytes, media_type: str
) -> None:
    body = _report(photo=base64.b64encode(image).decode())
    first = (await client.post("/api/reports", headers=GUARD, json=body)).json()
    await client.post("/api/reports", headers=GUARD, json=body)
    photo = await client.get(f"/api/signals/{first['signal_id']}/snapshot", headers=ADMIN)
    assert photo.status_code == 200
    assert photo.headers["content-type"] == media_type
    assert photo.content == image
    raw = (await client.get(f"/api/signals?alarm={first['alarm_id']}", headers=ADMIN)).json()
    assert '"photo": true' in raw["items"][0]["raw"]


async def test_a_signal_without_a_photo_is_404(client: httpx.AsyncClient) -> None:
    created = (await client.post("/api/reports", headers=GUARD, json=_report())).json()
    response = await client.get(f"/api/signals/{created['signal_id']}/snapshot", headers=ADMIN)
    assert response.status_code == 404


async def test_a_guard_may_report_but_not_read_alarms(client: httpx.AsyncClient) -> None:
    assert (await client.get("/api/alarms", headers=GUARD)).status_code == 403
    assert (await client.get("/api/alarm-types", headers=GUARD)).status_code == 200


async def test_a_call_raises_a_call_alarm(client: httpx.AsyncClient) -> None:
    call = {
        "type_code": 860,
        "site": "Depot North",
        "callback_number": "+31 20 555 0100",
        "report": "Smoke from the loading bay",
    }
    response = await client.post("/api/calls", headers=TAKER, json=call)
    assert response.status_code == 201, response.text
    alarm = (await client.get(f"/api/alarms/{response.json()['alarm_id']}", headers=ADMIN)).json()
    assert alarm["origin"] == "call"
    assert alarm["device"] == "call-taker:carol"
    assert alarm["site"] == "Depot North"
    assert alarm["signals"][0]["text"] == "Smoke from the loading bay"


async def test_a_resent_call_with_its_id_is_stored_once(client: httpx.AsyncClient) -> None:
    call = {
        "call_id": str(uuid.uuid4()),
        "type_code": 860,
        "site": "Depot North",
        "callback_number": "0205550100",
        "report": "Alarm sounding",
    }
    first = await client.post("/api/calls", headers=TAKER, json=call)
    again = await client.post("/api/calls", headers=TAKER, json=call)
    assert again.json() == first.json()


@pytest.mark.parametrize(
    ("field", "value"), [("callback_number", "call me"), ("report", " "), ("site", "")]
)
async def test_bad_calls_are_refused(client: httpx.AsyncClient, field: str, value: str) -> None:
    call = {"type_code": 860, "site": "S", "callback_number": "0205550100", "report": "r"}
    response = await client.post("/api/calls", headers=TAKER, json={**call, field: value})
    assert response.status_code == 422
    assert field in response.json()["detail"]


async def test_a_bad_callback_number_is_refused_in_words_not_a_pattern(
    client: httpx.AsyncClient,
) -> None:
    call = {"type_code": 860, "site": "S", "callback_number": "call me", "report": "r"}
    response = await client.post("/api/calls", headers=TAKER, json=call)
    assert response.status_code == 422
    [problem] = response.json()["problems"]
    assert problem["field"] == "body.callback_number"
    assert problem["message"] == (
        "not a phone number: use digits, spaces and + ( ) . / - only, 3 to 32 characters, "
        "starting with + or a digit (e.g. +31 20 555 0199)"
    )
    spaced = {**call, "callback_number": "  +31 (20) 555-0199 "}
    assert (await client.post("/api/calls", headers=TAKER, json=spaced)).status_code == 201


async def test_a_guard_may_not_enter_calls(client: httpx.AsyncClient) -> None:
    call = {"type_code": 860, "site": "S", "callback_number": "0205550100", "report": "r"}
    assert (await client.post("/api/calls", headers=GUARD, json=call)).status_code == 403

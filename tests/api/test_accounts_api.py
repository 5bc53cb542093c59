"""Managing DC-09 accounts through the API: keys are write-only, errors name the field."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from conftest import TOKEN
from watchfloor.app import Platform

AUTH = {"Authorization": f"Bearer {TOKEN}"}
KEY = "000102030405060708090A0B0C0D0E0F"


@pytest.fixture
async def client(platform: Platform) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=platform.api)
    async with httpx.AsyncClient(
        transport=transport, base_url="http://watchfloor", headers=AUTH
    ) as http:
        yield http


async def test_account_lifecycle(client: httpx.AsyncClient, platform: Platform) -> None:
    assert (
        await client.post("/api/accounts", json={"account": "1234", "site": "Depot"})
    ).status_code == 201
    changed = await client.patch(
        "/api/accounts/1234",
        json={"site": "Harbour", "key": KEY, "supervision_interval_seconds": 300},
    )
    assert changed.status_code == 200, changed.text
    body = changed.json()
    assert (body["site"], body["has_key"], body["supervision_interval_seconds"]) == (
        "Harbour",
        True,
        300,
    )
    assert KEY not in changed.text
    assert await platform.repository.account_key("1234") == bytes.fromhex(KEY)
    disabled = await client.patch("/api/accounts/1234", json={"enabled": False, "clear_key": True})
    assert (disabled.json()["enabled"], disabled.json()["has_key"]) == (False, False)
    listing = (await client.get("/api/accounts")).json()["items"]
    assert [a["account"] for a in listing] == ["1234"]
    assert (await client.get("/api/accounts/1234")).json()["site"] == "Harbour"
    assert (await client.delete("/api/accounts/1234")).status_code == 204
    assert (await client.get("/api/accounts/1234")).status_code == 404
    assert (await client.delete("/api/accounts/1234")).status_code == 404


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"key": "00"}, "key"),
        ({"key_ascii": "short"}, "key_ascii"),
        ({"key": KEY, "clear_key": True}, "clear_key"),
        ({"supervision_interval_seconds": 0}, "supervision_interval_seconds"),
        ({"supervision_interval_seconds": 60, "clear_supervision": True}, "clear_supervision"),
        ({"colour": "red"}, "colour"),
    ],
)
async def test_bad_changes_name_the_field(
    client: httpx.AsyncClient, payload: dict[str, object], field: str
) -> None:
    await client.post("/api/accounts", json={"account": "1234"})
    response = await client.patch("/api/accounts/1234", json=payload)
    assert response.status_code == 422
    assert field in response.json()["detail"]


async def test_unknown_account_is_404(client: httpx.AsyncClient) -> None:
    response = await client.patch("/api/accounts/ABCD", json={"enabled": False})
    assert response.status_code == 404

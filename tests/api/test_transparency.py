"""The public transparency register: no token needed, no personal data, says what is missing."""

from __future__ import annotations

from dataclasses import replace

import httpx

from support.panel import open_tcp_panel, reply_token, sia_frame
from watchfloor.app import open_platform
from watchfloor.config import Settings


async def _get(settings: Settings, path: str, *, raise_alarm: bool = False) -> httpx.Response:
    async with open_platform(settings) as platform:
        if raise_alarm:
            await platform.repository.add_account(account="1234", site="Secret Street 7", key=None)
            host, port = platform.dc09_address
            async with open_tcp_panel(host, port) as panel:
                assert reply_token(await panel.exchange(sia_frame("1234", 1))) == "ACK"
        transport = httpx.ASGITransport(app=platform.api)
        async with httpx.AsyncClient(transport=transport, base_url="http://watchfloor") as http:
            return await http.get(path)


async def test_register_is_public_and_lists_every_type_with_its_basis(
    settings: Settings,
) -> None:
    response = await _get(settings, "/transparency.json", raise_alarm=True)
    assert response.status_code == 200
    register = response.json()
    assert {t["code"] for t in register["alarm_types"]} >= {110, 300, 601, 990, 991}
    assert all(t["basis"] for t in register["alarm_types"])
    assert "No face recognition." in register["does_not"]
    assert register["alarms_by_category"] == {"intrusion": 1}
    assert "Secret Street" not in response.text
    assert "1234" not in response.text


async def test_register_says_plainly_what_is_missing(settings: Settings) -> None:
    register = (await _get(settings, "/transparency.json")).json()
    assert register["operator_name"] is None
    assert len(register["missing"]) == 2
    page = await _get(settings, "/transparency")
    assert page.status_code == 200
    assert "has not yet said who runs it" in page.text
    assert "WATCHFLOOR_CONTACT" in page.text


async def test_register_names_the_operator_when_configured(settings: Settings) -> None:
    configured = replace(settings, operator_name="City <Control> Room", contact="dpo@example.org")
    page = await _get(configured, "/transparency")
    assert "City &lt;Control&gt; Room" in page.text
    assert "dpo@example.org" in page.text
    assert "has not yet said" not in page.text
    register = (await _get(configured, "/transparency.json")).json()
    assert register["missing"] == []

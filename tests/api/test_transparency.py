"""The public transparency register: no token needed, no personal data, says what is missing."""

from __future__ import annotations

from dataclasses import replace
from importlib import resources
from pathlib import Path

import httpx
from sqlalchemy import text

from conftest import TOKEN
from support.panel import open_tcp_panel, reply_token, sia_frame
from watchfloor.app import open_platform
from watchfloor.config import Settings
from watchfloor.core.principals import Role
from watchfloor.taxonomy import SHIPPED_TAXONOMY


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


async def test_register_figures_equal_the_databases(settings: Settings) -> None:
    configured = replace(settings, retention_images_days=14)
    async with open_platform(configured) as platform:
        await platform.users.ensure_token(
            user="sam", role=Role.SUPERVISOR, label="desk", token="sup-token"
        )
        await platform.users.ensure_token(
            user="ada", role=Role.AUDITOR, label="desk", token="aud-token"
        )
        transport = httpx.ASGITransport(app=platform.api)
        async with httpx.AsyncClient(transport=transport, base_url="http://watchfloor") as http:
            for n in range(3):
                exported = await http.get(
                    f"/api/stats?format=csv&reason=report+{n}",
                    headers={"Authorization": "Bearer sup-token"},
                )
                assert exported.status_code == 200
            refused = await http.get(
                "/api/stats?format=csv", headers={"Authorization": f"Bearer {TOKEN}"}
            )
            assert refused.status_code == 422
            for name, role in (("olga", "operator"), ("otto", "operator")):
                made = await http.post(
                    "/api/users",
                    headers={"Authorization": f"Bearer {TOKEN}"},
                    json={"name": name, "role": role, "password": "a long enough password"},
                )
                assert made.status_code == 201, made.text
            disabled = await http.patch(
                "/api/users/otto",
                headers={"Authorization": f"Bearer {TOKEN}"},
                json={"disabled": True},
            )
            assert disabled.status_code == 200, disabled.text
            checkpoint = await http.post(
                "/api/audit/checkpoints", headers={"Authorization": "Bearer aud-token"}
            )
            assert checkpoint.status_code == 201
            register = (await http.get("/transparency.json")).json()
            page = (await http.get("/transparency")).text
        async with platform.engine.connect() as connection:
            exports = (
                await connection.execute(
                    text(
                        "SELECT count(*) FROM audit_log "
                        "WHERE action LIKE 'export.%' AND outcome = 'ok'"
                    )
                )
            ).scalar_one()
            role_rows = await connection.execute(
                text(
                    "SELECT role, count(*) FROM ("
                    " SELECT name, role FROM users WHERE disabled_at IS NULL"
                    " UNION SELECT user_name, role FROM api_tokens WHERE revoked_at IS NULL"
                    " AND user_name NOT IN (SELECT name FROM users)) AS everyone GROUP BY role"
                )
            )
            roles = {str(row[0]): int(row[1]) for row in role_rows}
            head = (
                await connection.execute(
                    text("SELECT count, head_hash FROM audit_checkpoints ORDER BY id DESC LIMIT 1")
                )
            ).one()
            types = (
                await connection.execute(text("SELECT type_count FROM taxonomy_versions"))
            ).all()
    assert register["exports"] == exports == 3
    assert register["searches"] == 0
    assert register["users_by_role"] == roles
    assert roles == {"admin": 1, "auditor": 1, "operator": 1, "supervisor": 1}
    assert register["audit_checkpoint"]["rows"] == head.count == checkpoint.json()["count"]
    assert register["audit_checkpoint"]["head_hash"] == head.head_hash
    assert {(r["kind"], r["days"]) for r in register["retention"]} == {
        ("raw signals", 90),
        ("images", 14),
        ("notes and free text", 180),
        ("closed alarms", 365),
    }
    [history] = register["taxonomy_history"]
    assert [(history["type_count"],)] == [tuple(row) for row in types]
    assert history["added"] == sorted(t["code"] for t in register["alarm_types"])
    assert "14 days" in page
    assert head.head_hash in page
    assert "report 0" not in page


async def test_a_changed_taxonomy_is_recorded_once(settings: Settings, tmp_path: Path) -> None:
    await _get(settings, "/transparency.json")
    shipped = (resources.files("watchfloor.taxonomy") / SHIPPED_TAXONOMY).read_text(
        encoding="utf-8"
    )
    changed = tmp_path / "changed.toml"
    changed.write_text(
        shipped.replace('name = "Fire pre-alarm (unverified)"', 'name = "Fire pre-alarm"'),
        encoding="utf-8",
    )
    configured = replace(settings, taxonomy_file=changed)
    await _get(configured, "/transparency.json")
    register = (await _get(configured, "/transparency.json")).json()
    newest, first = register["taxonomy_history"]
    assert (newest["added"], newest["removed"], newest["changed"]) == ([], [], [112])
    assert len(first["added"]) == len(register["alarm_types"])

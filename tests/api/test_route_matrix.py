"""The authorization matrix, walked over every operation of the OpenAPI document.

Each route names the one permission it needs (``api.auth.allowed``), and the document shows it
as the operation's bearer scope. For every operation this checks: without credentials it is
401; for every role without the permission it is 403 naming role and permission; for a role
with it, it is neither. An operation under ``/api`` without a scope fails the test, so a new
route is covered the day it is added.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from watchfloor.app import Platform
from watchfloor.core.principals import PERMISSIONS, Permission, Role

TOKENS = {role: f"matrix-{role.value}-token" for role in Role}


@pytest.fixture
async def client(platform: Platform) -> AsyncIterator[httpx.AsyncClient]:
    for role, token in TOKENS.items():
        await platform.users.ensure_token(
            user=f"matrix-{role.value}", role=role, label="matrix", token=token
        )
    transport = httpx.ASGITransport(app=platform.api)
    async with httpx.AsyncClient(transport=transport, base_url="http://watchfloor") as http:
        yield http


#: Operations any signed-in user may call, whatever the role (their own session and account).
ANY_ROLE = frozenset({("GET", "/api/me"), ("POST", "/api/sessions/end-all")})
#: Operations on the console session itself: the session cookie, never a token.
SESSION_ONLY = frozenset(
    {("POST", "/api/logout"), ("POST", "/api/me/password"), ("POST", "/api/me/totp")}
)
#: Public by design: signing in.
PUBLIC_API = frozenset({("POST", "/api/login")})
#: Outside /api but not public: Prometheus scrapes with a token.
TOKEN_OUTSIDE_API = frozenset({("GET", "/metrics")})

#: An operation's bearer scheme requirement: None (no token), () (any role), or its permission.
Requirement = tuple[Permission, ...] | None


def _operations(document: dict[str, Any]) -> list[tuple[str, str, Requirement]]:
    """Every (method, path, requirement) of the document."""
    found: list[tuple[str, str, Requirement]] = []
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            bearer = [r["bearer"] for r in operation.get("security", []) if "bearer" in r]
            scopes = tuple(Permission[s] for r in bearer for s in r)
            assert len(scopes) <= 1, f"{method} {path} needs several permissions: {scopes}"
            found.append((method.upper(), path, scopes if bearer else None))
    return found


def _concrete(path: str) -> str:
    # Any well-formed value: authorization is decided before the resource is looked up.
    return re.sub(r"\{[^}]+\}", "1", path)


async def test_every_api_operation_names_its_permission(client: httpx.AsyncClient) -> None:
    document = (await client.get("/openapi.json")).json()
    operations = _operations(document)
    assert len(operations) >= 20
    for method, path, requirement in operations:
        key = (method, path)
        if key in ANY_ROLE:
            assert requirement == (), f"{method} {path} should take any signed-in user"
        elif key in SESSION_ONLY or key in PUBLIC_API:
            assert requirement is None, f"{method} {path} should take no token"
        elif path.startswith("/api/") or key in TOKEN_OUTSIDE_API:
            assert requirement, f"{method} {path} checks no permission"
        else:
            assert requirement is None, f"{method} {path} is outside /api but needs a token"


async def test_session_routes_need_a_session(client: httpx.AsyncClient) -> None:
    for method, path in sorted(SESSION_ONLY):
        anonymous = await client.request(method, path, json={})
        assert anonymous.status_code == 401, f"{method} {path}"
        with_token = await client.request(
            method, path, json={}, headers={"Authorization": f"Bearer {TOKENS[Role.ADMIN]}"}
        )
        assert with_token.status_code == 401, f"{method} {path} with a token"


async def test_route_matrix(client: httpx.AsyncClient) -> None:
    document = (await client.get("/openapi.json")).json()
    checked = 0
    for method, path, requirement in _operations(document):
        if requirement is None:
            continue
        permission = requirement[0] if requirement else None
        url = _concrete(path)
        anonymous = await client.request(method, url)
        assert anonymous.status_code == 401, f"{method} {path} without credentials"
        for role, token in TOKENS.items():
            response = await client.request(
                method, url, headers={"Authorization": f"Bearer {token}"}
            )
            if permission is None or permission in PERMISSIONS[role]:
                assert response.status_code not in (401, 403), (
                    f"{method} {path} as {role}: {response.status_code} {response.text}"
                )
            else:
                assert response.status_code == 403, (
                    f"{method} {path} as {role}: {response.status_code} {response.text}"
                )
                assert response.json()["detail"] == f"the {role} role may not {permission}"
            checked += 1
    assert checked >= 20 * len(Role)


def test_the_matrix_separates_duties() -> None:
    operator, supervisor, admin, auditor, patrol = (PERMISSIONS[r] for r in Role)
    assert Permission.HANDLE_ALARMS in operator
    assert Permission.MANAGE_EQUIPMENT not in operator
    assert Permission.READ_AUDIT not in operator
    assert operator < supervisor < admin
    assert Permission.READ_AUDIT in auditor
    assert Permission.READ_AUDIT not in admin
    assert Permission.READ_STATISTICS in auditor
    assert not auditor & {Permission.HANDLE_ALARMS, Permission.READ_ALARMS}
    assert patrol == {
        Permission.REPORT_FROM_PATROL,
        Permission.UPDATE_OWN_UNIT,
        Permission.READ_TAXONOMY,
    }

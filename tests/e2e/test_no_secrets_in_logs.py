"""No secret in any log line: tokens, DC-09 keys and Authorization headers never reach a log.

The server runs as a process at DEBUG level with a bootstrap token. Accounts get keys through
the API and the command line, panels send encrypted traffic (and traffic the server refuses),
consoles connect to the stream with ``?token=``, and clients present wrong tokens. Then the
whole output of the server and of the commands is searched for every secret, in every form.
"""

from __future__ import annotations

import socket
import subprocess
import sys
from contextlib import AbstractContextManager
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from httpx_ws import WebSocketSession, WebSocketUpgradeError, connect_ws

from support.panel import reply_token, sia_frame
from support.server import ServerProcess, run_server
from watchfloor.codecs.dc09 import encode_frame

pytestmark = pytest.mark.slow

API_KEY_HEX = "8F1A2B3C4D5E6F708192A3B4C5D6E7F8"
ROTATED_KEY_ASCII = "Rotated-Key-0042"
CLI_KEY_ASCII = "Cli-Ascii-Key-77"
CLI_KEY_HEX = "0F1E2D3C4B5A69788796A5B4C3D2E1F00F1E2D3C4B5A6978"
WRONG_TOKEN = "not-the-token-5f3e9a"


def _forms(secret: str, *, ascii_key: bool = False) -> set[str]:
    forms = {secret, secret.lower(), secret.upper()}
    if ascii_key:
        forms |= {secret.encode().hex(), secret.encode().hex().upper()}
    return forms


def _exchange(server: ServerProcess, frame: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", server.dc09_port), timeout=10) as panel:
        panel.sendall(frame)
        return panel.recv(1024)


def _encrypted(account: str, seq: int, key: bytes) -> bytes:
    return encode_frame(
        token="SIA-DCS",
        seq=f"{seq:04d}",
        account=account,
        data=f"#{account}|Nri1/BA05",
        timestamp=datetime.now(UTC),
        key=key,
    )


def _cli(data_dir: Path, *args: str) -> str:
    result = subprocess.run(  # noqa: S603 - our own interpreter and module
        [sys.executable, "-m", "watchfloor", "accounts", *args, "--data-dir", str(data_dir)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout + result.stderr


def _stream(
    http: httpx.Client, path: str, headers: dict[str, str] | None = None
) -> AbstractContextManager[WebSocketSession]:
    session: AbstractContextManager[WebSocketSession] = connect_ws(
        path, http, headers=headers or {}
    )
    return session


def _use_the_stream(server: ServerProcess) -> None:
    with httpx.Client(base_url=server.base_url, timeout=10) as http:
        with _stream(http, f"/api/stream?token={server.token}") as ws:
            ws.ping()
        bearer = {"Authorization": f"Bearer {server.token}"}
        with _stream(http, "/api/stream", bearer) as ws:
            ws.ping()
        with (
            pytest.raises(WebSocketUpgradeError),
            connect_ws(f"/api/stream?token={WRONG_TOKEN}", http),
        ):
            pass


def test_no_token_key_or_authorization_header_reaches_a_log(tmp_path: Path) -> None:
    data_dir = tmp_path / "var"
    outputs: list[str] = []
    with run_server(data_dir, extra_env={"WATCHFLOOR_LOG_LEVEL": "DEBUG"}) as server:
        with server.client() as client:
            created = client.post("/api/accounts", json={"account": "5678", "key": API_KEY_HEX})
            assert created.status_code == 201, created.text
            first = _exchange(server, _encrypted("5678", 1, bytes.fromhex(API_KEY_HEX)))
            assert reply_token(first) == "*ACK"
            rotated = client.patch("/api/accounts/5678", json={"key_ascii": ROTATED_KEY_ASCII})
            assert rotated.status_code == 200, rotated.text
            refused_key = client.post(
                "/api/accounts", json={"account": "5679", "key": API_KEY_HEX[:-1]}
            )
            assert refused_key.status_code == 422
            assert API_KEY_HEX[:-1] not in refused_key.text
            outputs.append(refused_key.text)
        outputs.append(_cli(data_dir, "add", "--account", "9ABC", "--key-ascii", CLI_KEY_ASCII))
        outputs.append(_cli(data_dir, "rotate-key", "--account", "9ABC", "--key", CLI_KEY_HEX))

        replies = [
            _exchange(server, _encrypted("5678", 2, ROTATED_KEY_ASCII.encode())),
            _exchange(server, _encrypted("9ABC", 1, bytes.fromhex(CLI_KEY_HEX))),
            # Refused: the old key, and clear text to an account that has a key.
            _exchange(server, _encrypted("5678", 3, bytes.fromhex(API_KEY_HEX))),
            _exchange(server, sia_frame("9ABC", 2)),
        ]
        assert [reply_token(r) for r in replies] == ["*ACK", "*ACK", "DUH", "DUH"], replies

        _use_the_stream(server)
        wrong = httpx.get(
            f"{server.base_url}/api/alarms?token={WRONG_TOKEN}",
            headers={"Authorization": f"Bearer {WRONG_TOKEN}"},
        )
        assert wrong.status_code == 401
        with server.client() as client:
            assert len(client.get("/api/signals").json()["items"]) == 3

    log = server.log()
    everything = "\n".join([log, *outputs])
    secrets = (
        _forms(server.token)
        | _forms(WRONG_TOKEN)
        | _forms(API_KEY_HEX)
        | _forms(CLI_KEY_HEX)
        | _forms(ROTATED_KEY_ASCII, ascii_key=True)
        | _forms(CLI_KEY_ASCII, ascii_key=True)
        | {"Bearer ", "bearer "}
    )
    leaked = sorted(secret for secret in secrets if secret in everything)
    assert not leaked, f"secrets in the logs: {leaked}"
    assert "/api/stream?[redacted]" in log, "the stream's handshake is logged, without its query"
    assert '"GET /api/alarms" 401' in log, "requests are logged, without their query"
    assert "DEBUG" in log, "the server logged at DEBUG level"

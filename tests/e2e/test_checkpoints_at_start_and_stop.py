"""The audit chain is signed when ``watchfloor serve`` starts and when SIGTERM stops it.

The server runs as a process on its own data dir; the register is read over HTTP right after
start, and after a SIGTERM the checkpoints are read from the SQLite file with ``sqlite3`` and
the whole chain is checked with ``watchfloor audit verify``.
"""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from contextlib import closing
from pathlib import Path

import httpx
import pytest

from support.server import run_server

pytestmark = pytest.mark.slow


def _checkpoints(data_dir: Path) -> list[tuple[int, str]]:
    with closing(sqlite3.connect(data_dir / "watchfloor.db")) as database:
        found = database.execute("SELECT count, head_hash FROM audit_checkpoints ORDER BY id")
        return [(int(count), str(head)) for count, head in found]


def _head(data_dir: Path) -> tuple[int, str]:
    with closing(sqlite3.connect(data_dir / "watchfloor.db")) as database:
        seq, head = database.execute(
            "SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1"
        ).fetchone()
        return int(seq), str(head)


def test_the_chain_is_signed_at_start_and_at_a_clean_stop(tmp_path: Path) -> None:
    data_dir = tmp_path / "var"
    with run_server(data_dir) as server:
        register = httpx.get(f"{server.base_url}/transparency.json", timeout=10).json()
        with server.client() as client:
            assert client.get("/api/alarms").status_code == 200
            forged = {"Authorization": "Bearer forged-token"}
            for _ in range(5):
                assert client.get("/api/alarms", headers=forged).status_code == 401
        assert server.stop() == 0, server.log()
    log = server.log()

    signed = register["audit_checkpoint"]
    assert signed is not None, "no checkpoint in the register right after start"
    checkpoints = _checkpoints(data_dir)
    assert len(checkpoints) == 2, checkpoints
    assert checkpoints[0] == (signed["rows"], signed["head_hash"])
    # The last one covers everything written before the database closed: the reads and the
    # refusals, the counted ones' summary row included.
    assert checkpoints[-1] == _head(data_dir)
    assert checkpoints[-1][0] > checkpoints[0][0]
    assert "audit checkpoint at shutdown" in log
    assert "Traceback" not in log

    verify = subprocess.run(  # noqa: S603 - our own interpreter and module
        [sys.executable, "-m", "watchfloor", "audit", "verify", "--data-dir", str(data_dir)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert verify.returncode == 0, verify.stdout + verify.stderr
    assert "2 signed checkpoints" in verify.stdout

"""``watchfloor serve`` under a low open-file limit: it raises what it may, and a DC-09
connection flood no longer takes the descriptors HTTP needs."""

from __future__ import annotations

import contextlib
import resource
import socket
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from support.panel import reply_token, sia_frame
from support.server import run_server
from watchfloor.codecs.dc09 import FrameSplitter

pytestmark = pytest.mark.slow

# More than a process limited to 1024 open files (a common default) can hold.
OPEN_FILES = 1024
IDLE_CONNECTIONS = 1100


def _open_files(soft: int, hard: int) -> Callable[[], None]:
    def apply() -> None:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))

    return apply


def _soft_limit(pid: int) -> int:
    for line in Path(f"/proc/{pid}/limits").read_text().splitlines():
        if line.startswith("Max open files"):
            return int(line.split()[3])
    raise AssertionError("no open-file limit in /proc")


@contextlib.contextmanager
def _idle_connections(port: int, count: int) -> Iterator[None]:
    sockets: list[socket.socket] = []
    try:
        sockets.extend(
            socket.create_connection(("127.0.0.1", port), timeout=10) for _ in range(count)
        )
        yield
    finally:
        for sock in sockets:
            sock.close()


def _exchange(port: int, frame: bytes) -> bytes:
    splitter = FrameSplitter(max_frame_size=4096)
    with socket.create_connection(("127.0.0.1", port), timeout=10) as panel:
        panel.sendall(frame)
        while True:
            chunk = panel.recv(4096)
            if not chunk:
                raise ConnectionError("closed without a reply")
            if frames := splitter.feed(chunk):
                return frames[0]


def test_serve_raises_its_open_file_limit_as_far_as_the_hard_limit_allows(
    tmp_path: Path,
) -> None:
    with run_server(tmp_path / "var", preexec_fn=_open_files(256, 4096)) as server:
        assert _soft_limit(server.process.pid) == 4096
        assert "open file limit raised from 256 to 4096" in server.log()
        assert "dc09_max_connections lowered from 10000 to 3840" in server.log()


def test_idle_connections_beyond_the_open_file_limit_leave_http_and_panels_answered(
    tmp_path: Path,
) -> None:
    limit = _open_files(OPEN_FILES, OPEN_FILES)
    with run_server(tmp_path / "var", preexec_fn=limit) as server:
        assert "dc09_max_connections lowered from 10000 to 768" in server.log()
        with _idle_connections(server.dc09_port, IDLE_CONNECTIONS):
            # Taken in after all of the idle ones: the receiver got to each of those first.
            assert reply_token(_exchange(server.dc09_port, sia_frame("1234", 1))) == "ACK"
            with server.client() as http:
                assert http.get("/healthz").status_code == 200
        assert "out of system resource" not in server.log()

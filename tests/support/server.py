"""``watchfloor serve`` as a real process on free loopback ports, for end-to-end tests."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

__all__ = ["ServerProcess", "free_port", "run_server"]

TOKEN = "e2e-secret-token"


def free_port() -> int:
    """A port that is free on 127.0.0.1 for both TCP and UDP right now."""
    while True:
        with socket.socket() as tcp:
            tcp.bind(("127.0.0.1", 0))
            port = int(tcp.getsockname()[1])
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
                try:
                    udp.bind(("127.0.0.1", port))
                except OSError:
                    continue
            return port


@dataclass
class ServerProcess:
    """A running server: its process, addresses and token."""

    process: subprocess.Popen[bytes]
    http_port: int
    dc09_port: int
    data_dir: Path
    log_path: Path
    token: str = TOKEN

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def client(self) -> httpx.Client:
        return httpx.Client(
            base_url=self.base_url, headers={"Authorization": f"Bearer {self.token}"}, timeout=10
        )

    def wait_ready(self, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"server exited with {self.process.returncode}:\n{self.log()}")
            try:
                if httpx.get(f"{self.base_url}/healthz", timeout=1).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            # Polling a process we do not control: the one place tests wait on the wall clock.
            self.process_wait(0.1)
        raise TimeoutError(f"server not ready after {timeout} s:\n{self.log()}")

    def process_wait(self, seconds: float) -> None:
        try:
            self.process.wait(timeout=seconds)
        except subprocess.TimeoutExpired:
            return

    def kill(self) -> None:
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=10)

    def stop(self) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.kill()
        return self.process.returncode


@contextmanager
def run_server(
    data_dir: Path,
    *,
    http_port: int | None = None,
    dc09_port: int | None = None,
    extra_env: dict[str, str] | None = None,
    preexec_fn: Callable[[], object] | None = None,
) -> Iterator[ServerProcess]:
    """Start ``python -m watchfloor serve`` on ``data_dir`` and wait until /healthz is 200.

    ``preexec_fn`` runs in the child before it starts (e.g. to lower its resource limits).
    """
    http_port = http_port or free_port()
    dc09_port = dc09_port or free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("WATCHFLOOR_")}  # noqa: TID251 - child process environment
    env["WATCHFLOOR_BOOTSTRAP_TOKEN"] = TOKEN
    env.update(extra_env or {})
    log_path = data_dir.parent / f"{data_dir.name}-server-{http_port}.log"
    with log_path.open("ab") as log:
        process = subprocess.Popen(  # noqa: S603 - our own interpreter and module
            [
                sys.executable,
                "-m",
                "watchfloor",
                "serve",
                "--data-dir",
                str(data_dir),
                "--http",
                f"127.0.0.1:{http_port}",
                "--dc09",
                f"127.0.0.1:{dc09_port}",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
            preexec_fn=preexec_fn,
        )
    server = ServerProcess(
        process=process,
        http_port=http_port,
        dc09_port=dc09_port,
        data_dir=data_dir,
        log_path=log_path,
    )
    try:
        server.wait_ready()
        yield server
    finally:
        server.stop()

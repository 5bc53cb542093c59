"""The real HTTP server (uvicorn, configured as ``watchfloor serve`` configures it) in-process."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import replace

import uvicorn
from fastapi import FastAPI

from watchfloor.app import http_server_config
from watchfloor.config import HostPort, Settings

__all__ = ["serve_http"]


@asynccontextmanager
async def serve_http(settings: Settings, api: FastAPI) -> AsyncIterator[str]:
    """Serve ``api`` on a free port of 127.0.0.1 until the block ends; yields its base URL.

    The socket listens before the server starts, so requests made at once wait in its backlog
    instead of failing: nothing needs to poll for readiness.
    """
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen(64)
    port = int(listener.getsockname()[1])
    config = http_server_config(replace(settings, http=HostPort(host="127.0.0.1", port=port)), api)
    server = uvicorn.Server(config)
    serving = asyncio.create_task(server.serve(sockets=[listener]))
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await serving
        listener.close()

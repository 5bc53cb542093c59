"""API tokens for users of a running server's data dir, written as the CLI would."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from watchfloor.app import open_users
from watchfloor.config import Settings
from watchfloor.core.principals import Role

__all__ = ["add_token"]


def add_token(data_dir: Path, *, user: str, role: Role, token: str) -> str:
    """Make sure ``token`` exists for ``user`` in the database of ``data_dir``; return it."""

    async def ensure() -> None:
        async with open_users(Settings(data_dir=data_dir)) as users:
            await users.ensure_token(user=user, role=role, label="test", token=token)

    # In a thread of its own: Playwright's sync API keeps an event loop running in this one.
    with ThreadPoolExecutor(max_workers=1) as pool:
        pool.submit(asyncio.run, ensure()).result(timeout=60)
    return token

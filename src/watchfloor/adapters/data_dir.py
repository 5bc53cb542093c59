"""The data directory: made readable by its owner alone, as the database in it.

The data directory holds the database (SQLite), the audit signing key and the secrets key
file. When watchfloor makes it, it is mode 0700, and the SQLite file is made 0600 before
SQLite opens it (SQLite gives its ``-wal`` and ``-shm`` files the database file's mode). A
directory or database that exists already keeps its mode: changing what an administrator
set is theirs to do, so a group- or world-readable one is reported in the log instead.
"""

from __future__ import annotations

import logging
import os
import stat
from pathlib import Path

__all__ = ["prepare_data_dir", "prepare_private_file"]

logger = logging.getLogger(__name__)

_OTHERS = stat.S_IRWXG | stat.S_IRWXO


def prepare_data_dir(path: Path) -> Path:
    """Make the data directory (mode 0700) if it is missing; return it.

    Parents that are missing too are made with the process's default mode.
    """
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    if path.stat().st_mode & _OTHERS:
        logger.warning(
            "the data directory %s can be read by others than its owner: chmod 700 it", path
        )
    return path


def prepare_private_file(path: Path) -> Path:
    """Make an empty file readable and writable by its owner alone (0600) if it is missing.

    Idempotent; an existing file is left as it is (a warning if others may read it).
    """
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    except FileExistsError:
        if path.stat().st_mode & _OTHERS:
            logger.warning("%s can be read by others than its owner: chmod 600 it", path)
    return path

"""The process's open files: the limit raised at start, shared out, exhaustion logged rarely.

Every TCP connection, HTTP or DC-09, holds a file descriptor. Under ``ulimit -n 1024`` (a
common default) a thousand idle DC-09 connections would take them all: the HTTP listener could
no longer accept, and asyncio logs ``socket.accept() out of system resource`` for every
pending connection on every retry (each with a traceback: hundreds of MB of log a minute).
Hence three measures, applied by ``watchfloor serve``:

- ``raise_open_file_limit`` raises the soft limit towards what the settings need, as far as
  the hard limit allows (an unprivileged process may do that itself);
- ``connection_budget`` caps the DC-09 connection table so that ``FD_RESERVE`` descriptors
  stay free for HTTP clients, database connections, listeners and log files;
- ``AcceptErrorFilter`` lets asyncio's accept error through once per interval.
"""

from __future__ import annotations

import logging
import resource
from collections.abc import Callable

__all__ = [
    "ACCEPT_ERROR",
    "FD_RESERVE",
    "AcceptErrorFilter",
    "connection_budget",
    "open_file_limit",
    "raise_open_file_limit",
]

#: Descriptors kept free of DC-09 connections: HTTP clients and consoles, the database pool
#: (and SQLite's WAL files), listeners, outgoing notifications and camera links, log files.
FD_RESERVE = 256

#: How asyncio's message starts when accept() fails for want of descriptors or memory.
ACCEPT_ERROR = "socket.accept() out of system resource"

# What ``open_file_limit`` reports for an unlimited soft limit: more than any setting needs.
_UNLIMITED = 1 << 30


def open_file_limit() -> int:
    """Return the soft limit on open files (RLIMIT_NOFILE) of this process."""
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    return _UNLIMITED if soft == resource.RLIM_INFINITY else soft


def raise_open_file_limit(wanted: int) -> tuple[int, int]:
    """Raise the soft limit on open files to ``wanted``, or to the hard limit if that is lower.

    The limit is never lowered. Returns the soft limit before and after.
    """
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY:
        return _UNLIMITED, _UNLIMITED
    target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
    if target <= soft:
        return soft, soft
    resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    return soft, target


def connection_budget(requested: int, open_files: int, reserve: int = FD_RESERVE) -> int:
    """Return how many DC-09 connections fit in ``open_files`` with ``reserve`` kept free.

    ``requested`` when it fits; otherwise what is left after the reserve, and never more than
    half of a limit too small to hold the reserve twice over.
    """
    available = open_files - reserve if open_files >= 2 * reserve else open_files // 2
    return max(1, min(requested, available))


class AcceptErrorFilter(logging.Filter):
    """For the ``asyncio`` logger: one accept error per ``interval`` seconds gets through.

    The line that gets through says how many were left out since the previous one; other
    records pass untouched.
    """

    def __init__(self, monotonic: Callable[[], float], interval: float = 60.0) -> None:
        super().__init__()
        self._monotonic = monotonic
        self._interval = interval
        self._last: float | None = None
        self._left_out = 0

    def filter(self, record: logging.LogRecord) -> bool:
        """Return whether ``record`` is logged; an accept error is, once per interval."""
        if not isinstance(record.msg, str) or not record.msg.startswith(ACCEPT_ERROR):
            return True
        now = self._monotonic()
        if self._last is not None and now - self._last < self._interval:
            self._left_out += 1
            return False
        self._last = now
        if self._left_out:
            record.msg = (
                f"{record.getMessage()}\n({self._left_out} more accept errors left out of the"
                f" log in the last {self._interval:g} s; raise the open-file limit or lower"
                " WATCHFLOOR_DC09_MAX_CONNECTIONS)"
            )
            record.args = None
            self._left_out = 0
        return True

"""The open-file budget: how DC-09 connections are capped, and asyncio's accept error logged."""

from __future__ import annotations

import asyncio
import errno
import logging
from collections.abc import Iterator

import pytest

from support.clock import FakeClock
from watchfloor.adapters.open_files import AcceptErrorFilter, connection_budget


@pytest.mark.parametrize(
    ("requested", "open_files", "budget"),
    [
        (10_000, 1_048_576, 10_000),  # fits
        (10_000, 1024, 768),  # the reserve stays free
        (500, 1024, 500),
        (10_000, 300, 150),  # too small for the reserve twice over: half of it
        (10_000, 1, 1),
    ],
)
def test_connection_budget_keeps_descriptors_for_the_rest(
    requested: int, open_files: int, budget: int
) -> None:
    assert connection_budget(requested, open_files) == budget


class _Records(logging.Handler):
    def __init__(self, records: list[logging.LogRecord]) -> None:
        super().__init__()
        self.records = records

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.fixture
def asyncio_records() -> Iterator[list[logging.LogRecord]]:
    """What the ``asyncio`` logger emits while the test runs."""
    records: list[logging.LogRecord] = []
    handler = _Records(records)
    logger = logging.getLogger("asyncio")
    logger.addHandler(handler)
    try:
        yield records
    finally:
        logger.removeHandler(handler)


def _refused_accept(loop: asyncio.AbstractEventLoop) -> None:
    # What asyncio's accept loop reports for each pending connection while out of descriptors.
    loop.call_exception_handler(
        {
            "message": "socket.accept() out of system resource",
            "exception": OSError(errno.EMFILE, "Too many open files"),
        }
    )


def test_accept_errors_are_logged_once_per_interval(
    asyncio_records: list[logging.LogRecord],
) -> None:
    clock = FakeClock()
    accept_filter = AcceptErrorFilter(clock.monotonic, interval=60.0)
    logger = logging.getLogger("asyncio")
    logger.addFilter(accept_filter)
    loop = asyncio.new_event_loop()
    try:
        for _ in range(500):
            _refused_accept(loop)
        loop.call_exception_handler({"message": "something else went wrong"})
        clock.advance(61)
        _refused_accept(loop)
    finally:
        loop.close()
        logger.removeFilter(accept_filter)
    messages = [record.getMessage() for record in asyncio_records]
    assert len(messages) == 3
    assert messages[0].startswith("socket.accept() out of system resource")
    assert messages[1] == "something else went wrong"
    assert messages[2].startswith("socket.accept() out of system resource")
    assert "499 more accept errors left out" in messages[2]

"""Prometheus metrics: what the receivers, the writer and the bus count, and ``/metrics``.

The composition root picks the collectors and hands them to the API as ``ApiServices.metrics``;
each reads its source's counters when ``/metrics`` is asked.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Protocol

from fastapi import APIRouter
from fastapi.responses import PlainTextResponse

from watchfloor.api.auth import MetricsReader
from watchfloor.api.services import Services
from watchfloor.core.disk_space import DiskLevel, DiskSpace

__all__ = [
    "Collector",
    "Metric",
    "camera_metrics",
    "chain_collectors",
    "disk_metrics",
    "intake_metrics",
    "metrics_router",
]


@dataclass(frozen=True, slots=True, kw_only=True)
class Metric:
    """One Prometheus sample: name, help, type and labelled values."""

    name: str
    help: str
    kind: str
    samples: tuple[tuple[tuple[tuple[str, str], ...], float], ...]


#: Returns the metrics as they are now.
Collector = Callable[[], Iterable[Metric]]


class Counted(Protocol):
    """A receiver that counts what it did by outcome."""

    @property
    def counters(self) -> Mapping[str, int]:
        """Events by outcome, since start."""
        ...


class Dc09Counters(Counted, Protocol):
    """The DC-09 receiver's counts (``receivers.dc09.Dc09Receiver``)."""

    @property
    def open_connections(self) -> int:
        """Open TCP connections."""
        ...


class IntakeStats(Protocol):
    """The group-commit writer's counters (``store.writer.WriterStats``)."""

    @property
    def batches(self) -> int:
        """Group commits done."""
        ...

    @property
    def failed_batches(self) -> int:
        """Group commits that failed."""
        ...

    @property
    def signals_committed(self) -> int:
        """Signals committed."""
        ...

    @property
    def link_tests_committed(self) -> int:
        """Link tests committed."""
        ...

    @property
    def last_batch_size(self) -> int:
        """Items in the last commit."""
        ...

    @property
    def last_commit_seconds(self) -> float:
        """Duration of the last commit."""
        ...

    @property
    def queue_depth(self) -> int:
        """Items waiting for a batch."""
        ...


class Intake(Protocol):
    """The group-commit writer (``store.writer.GroupCommitWriter``)."""

    @property
    def stats(self) -> IntakeStats:
        """A snapshot of its counters."""
        ...


class Subscribed(Protocol):
    """The alarm bus (``adapters.bus.LocalBus``)."""

    @property
    def subscriber_count(self) -> int:
        """Consoles and other subscribers listening."""
        ...


class DiskWatched(Counted, Protocol):
    """The watch of the data disk (``receivers.disk_space.DiskSpaceWatch``)."""

    @property
    def space(self) -> DiskSpace | None:
        """The latest measurement (None before the first)."""
        ...


def disk_metrics(disk: DiskWatched | None) -> Collector:
    """Return the collector of the data disk's metrics (none while it is not watched)."""

    def collect() -> Iterable[Metric]:
        space = None if disk is None else disk.space
        if disk is None or space is None:
            return
        for name, help_text, value in (
            ("watchfloor_disk_free_bytes", "Free bytes on the data disk", space.free_bytes),
            (
                "watchfloor_disk_low",
                "1 while the data disk is below its alarm threshold",
                space.level is not DiskLevel.OK,
            ),
            (
                "watchfloor_disk_intake_stopped",
                "1 while intake is stopped to keep the reserve",
                not space.intake_open,
            ),
            (
                "watchfloor_disk_reserve_held",
                "1 while the reserve file is in place",
                space.reserve_held,
            ),
        ):
            yield Metric(name=name, help=help_text, kind="gauge", samples=(((), float(value)),))
        yield Metric(
            name="watchfloor_disk_refused_total",
            help="Items refused while intake was stopped for disk space",
            kind="counter",
            samples=(((), float(disk.counters["refused"])),),
        )

    return collect


def intake_metrics(receiver: Dc09Counters, writer: Intake, bus: Subscribed) -> Collector:
    """Return the collector of the DC-09 receiver's, the writer's and the stream's metrics."""

    def collect() -> Iterable[Metric]:
        stats = writer.stats
        yield Metric(
            name="watchfloor_dc09_events_total",
            help="DC-09 receiver events by outcome (acked, rejected_*, limit_*, ...)",
            kind="counter",
            samples=tuple(
                ((("outcome", k),), float(v)) for k, v in sorted(receiver.counters.items())
            ),
        )
        yield Metric(
            name="watchfloor_dc09_open_connections",
            help="Open DC-09 TCP connections",
            kind="gauge",
            samples=(((), float(receiver.open_connections)),),
        )
        yield Metric(
            name="watchfloor_intake_queue_depth",
            help="Signals waiting for the writer",
            kind="gauge",
            samples=(((), float(stats.queue_depth)),),
        )
        yield Metric(
            name="watchfloor_intake_batches_total",
            help="Group commits done",
            kind="counter",
            samples=(((), float(stats.batches)),),
        )
        yield Metric(
            name="watchfloor_intake_signals_total",
            help="Signals committed",
            kind="counter",
            samples=(((), float(stats.signals_committed)),),
        )
        yield Metric(
            name="watchfloor_intake_link_tests_total",
            help="Link tests (DC-09 NULL) committed",
            kind="counter",
            samples=(((), float(stats.link_tests_committed)),),
        )
        yield Metric(
            name="watchfloor_intake_failed_batches_total",
            help="Group commits that failed",
            kind="counter",
            samples=(((), float(stats.failed_batches)),),
        )
        yield Metric(
            name="watchfloor_intake_last_batch_size",
            help="Items in the last commit",
            kind="gauge",
            samples=(((), float(stats.last_batch_size)),),
        )
        yield Metric(
            name="watchfloor_intake_commit_seconds",
            help="Latency of the last group commit",
            kind="gauge",
            samples=(((), stats.last_commit_seconds),),
        )
        yield Metric(
            name="watchfloor_stream_subscribers",
            help="Consoles on the alarm stream",
            kind="gauge",
            samples=(((), float(bus.subscriber_count)),),
        )

    return collect


def camera_metrics(hikvision: Counted, frigate: Counted) -> Collector:
    """Return the collector of the Hikvision push and Frigate receivers' counters."""

    def collect() -> Iterable[Metric]:
        for name, help_text, counters in (
            ("watchfloor_hikvision_push_total", "Hikvision pushes by outcome", hikvision.counters),
            (
                "watchfloor_frigate_messages_total",
                "Frigate MQTT messages by outcome",
                frigate.counters,
            ),
        ):
            yield Metric(
                name=name,
                help=help_text,
                kind="counter",
                samples=tuple(((("outcome", k),), float(v)) for k, v in sorted(counters.items())),
            )

    return collect


def chain_collectors(*collectors: Collector) -> Collector:
    """Return one collector yielding the metrics of each, in order."""

    def collect() -> Iterable[Metric]:
        for collector in collectors:
            yield from collector()

    return collect


def _render_metrics(metrics: Iterable[Metric]) -> str:
    lines: list[str] = []
    for metric in metrics:
        lines.append(f"# HELP {metric.name} {metric.help}")
        lines.append(f"# TYPE {metric.name} {metric.kind}")
        for labels, value in metric.samples:
            label_text = ",".join(f'{k}="{v}"' for k, v in labels)
            lines.append(
                f"{metric.name}{{{label_text}}} {_number(value)}"
                if label_text
                else f"{metric.name} {_number(value)}"
            )
    return "\n".join(lines) + "\n"


def _number(value: float) -> str:
    # Whole numbers in full (free bytes, counters past a million), others as Python's
    # shortest exact form: ":g" kept 6 digits, so 62914560 came out as 6.29146e+07.
    return str(int(value)) if value.is_integer() else repr(value)


def metrics_router() -> APIRouter:
    """Return the route of ``/metrics``."""
    router = APIRouter()

    @router.get(
        "/metrics",
        response_class=PlainTextResponse,
        summary="Prometheus metrics (the metrics token, or an API token that may read metrics)",
    )
    async def metrics(services: Services, _: MetricsReader) -> PlainTextResponse:
        return PlainTextResponse(
            _render_metrics(services.metrics()),
            media_type="text/plain; version=0.0.4; charset=utf-8",
        )

    return router

"""Prometheus metrics: the samples the composition root collects, and ``/metrics``."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from fastapi import APIRouter
from fastapi.responses import PlainTextResponse

from watchfloor.api.services import Services

__all__ = ["Metric", "metrics_router"]


@dataclass(frozen=True, slots=True, kw_only=True)
class Metric:
    """One Prometheus sample: name, help, type and labelled values."""

    name: str
    help: str
    kind: str
    samples: tuple[tuple[tuple[tuple[str, str], ...], float], ...]


def _render_metrics(metrics: Iterable[Metric]) -> str:
    lines: list[str] = []
    for metric in metrics:
        lines.append(f"# HELP {metric.name} {metric.help}")
        lines.append(f"# TYPE {metric.name} {metric.kind}")
        for labels, value in metric.samples:
            label_text = ",".join(f'{k}="{v}"' for k, v in labels)
            lines.append(
                f"{metric.name}{{{label_text}}} {value:g}"
                if label_text
                else f"{metric.name} {value:g}"
            )
    return "\n".join(lines) + "\n"


def metrics_router() -> APIRouter:
    """Return the route of ``/metrics``."""
    router = APIRouter()

    @router.get("/metrics", response_class=PlainTextResponse, summary="Prometheus metrics")
    async def metrics(services: Services) -> PlainTextResponse:
        return PlainTextResponse(
            _render_metrics(services.metrics()),
            media_type="text/plain; version=0.0.4; charset=utf-8",
        )

    return router

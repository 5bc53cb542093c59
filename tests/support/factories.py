"""Factories of core values for tests."""

from __future__ import annotations

from datetime import UTC, datetime

from watchfloor.core.alarm_types import CodeSystem, SourceCode
from watchfloor.core.signals import Signal, SignalSource

T0 = datetime(2026, 1, 1, 3, 0, tzinfo=UTC)


def make_signal(
    code: str = "BA",
    *,
    zone: str | None = "005",
    restore: bool = False,
    system: CodeSystem = CodeSystem.SIA_DCS,
    at: datetime = T0,
    source: SignalSource = SignalSource.DC09,
    device: str = "1234",
) -> Signal:
    return Signal(
        source=source,
        received_at=at,
        device=device,
        code=SourceCode(system=system, code=code),
        zone=zone,
        restore=restore,
        raw="raw",
        account=device,
        seq="0001",
        token="SIA-DCS",
    )

"""Group commit versus one commit per signal: intake throughput on SQLite (WAL, synchronous=FULL).

Runs the real writer twice in one process on fresh SQLite files: ``max_batch=1`` (the
baseline: every signal its own transaction) and the default. Concurrent "panels" submit
stop-and-wait, as DC-09 panels do. Prints signals/s, latency percentiles and the ratio.

    .venv/bin/python bench/group_commit.py [--panels 200] [--signals 20]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from watchfloor.core.alarm_types import CodeSystem, SourceCode
from watchfloor.core.signals import Signal, SignalSource
from watchfloor.store.database import migrate, open_engine, sqlite_url
from watchfloor.store.writer import open_writer
from watchfloor.taxonomy import load_taxonomy


class _Clock:
    def now(self) -> datetime:
        return datetime.now(UTC)

    def monotonic(self) -> float:
        return time.monotonic()


async def run(max_batch: int, panels: int, per_panel: int) -> tuple[float, list[float], int]:
    with tempfile.TemporaryDirectory() as tmp:
        engine = open_engine(sqlite_url(Path(tmp)))
        await migrate(engine)
        clock = _Clock()
        latencies: list[float] = []
        async with open_writer(
            engine, load_taxonomy(), clock, lambda event: None, max_batch=max_batch
        ) as writer:

            async def panel(index: int) -> None:
                account = f"{0x1000 + index:X}"
                for seq in range(per_panel):
                    signal = Signal(
                        source=SignalSource.DC09,
                        received_at=clock.now(),
                        device=account,
                        code=SourceCode(system=CodeSystem.SIA_DCS, code="BA"),
                        zone=f"{seq % 8:02d}",
                        raw=f"bench {account} {seq}",
                        account=account,
                        seq=f"{seq:04d}",
                        token="SIA-DCS",
                    )
                    started = time.perf_counter()
                    await writer.submit([signal])
                    latencies.append(time.perf_counter() - started)

            started = time.perf_counter()
            async with asyncio.timeout(300):
                await asyncio.gather(*(panel(i) for i in range(panels)))
            elapsed = time.perf_counter() - started
            batches = writer.stats.batches
        await engine.dispose()
    return panels * per_panel / elapsed, latencies, batches


def _ms(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100)[int(q) - 1] * 1000


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--panels", type=int, default=200)
    parser.add_argument("--signals", type=int, default=20, help="signals per panel")
    args = parser.parse_args()
    results = {}
    for label, max_batch in (("one commit per signal", 1), ("group commit", 512)):
        rate, latencies, batches = await run(max_batch, args.panels, args.signals)
        results[label] = rate
        print(
            f"{label:>22}: {rate:8.0f} signals/s  batches {batches:6d}  "
            f"latency p50 {_ms(latencies, 50):7.1f} ms  p99 {_ms(latencies, 99):7.1f} ms"
        )
    ratio = results["group commit"] / results["one commit per signal"]
    print(f"{'ratio':>22}: {ratio:.1f}x ({args.panels} panels x {args.signals} signals, SQLite)")


if __name__ == "__main__":
    asyncio.run(main())

"""Frigate event to committed alarm with its snapshot: latency through a real MQTT broker.

Starts the platform on a fresh SQLite data dir with the Frigate subscription on, a stand-in
for Frigate's snapshot API on a loopback port, registers an instance under a topic prefix of
its own, then publishes ``new`` events one at a time and measures until the alarm change is
on the bus (after the commit that also stored the fetched picture).

    .venv/bin/python bench/frigate_latency.py [--broker mqtt://127.0.0.1:1883] [--events 50]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import tempfile
import time
import uuid
from pathlib import Path
from urllib.parse import urlsplit

import aiomqtt

from watchfloor.app import open_platform
from watchfloor.config import HostPort, Secret, Settings
from watchfloor.core.cameras import CameraRegistration
from watchfloor.core.devices import DeviceKind

#: A tiny JPEG: start and end markers around a few bytes (Frigate's are some 100 kB).
JPEG = b"\xff\xd8\xff\xe0" + b"\x00" * 2000 + b"\xff\xd9"


async def _snapshot_api(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    await reader.readuntil(b"\r\n\r\n")
    writer.write(
        b"HTTP/1.1 200 OK\r\nContent-Type: image/jpeg\r\nConnection: close\r\n"
        + f"Content-Length: {len(JPEG)}\r\n\r\n".encode()
        + JPEG
    )
    await writer.drain()
    writer.close()


async def main(broker: str, events: int) -> None:
    api = await asyncio.start_server(_snapshot_api, "127.0.0.1", 0)
    port = api.sockets[0].getsockname()[1]
    parts = urlsplit(broker)
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(
            data_dir=Path(tmp),
            dc09=HostPort(host="127.0.0.1", port=0),
            bootstrap_token=Secret("bench"),
            mqtt_url=Secret(broker),
        )
        async with open_platform(settings) as platform:
            prefix = f"bench{uuid.uuid4().hex[:8]}"
            await platform.cameras.add_camera(
                CameraRegistration(
                    kind=DeviceKind.FRIGATE,
                    name="nvr",
                    site="Bench",
                    url=f"http://127.0.0.1:{port}",
                    topic_prefix=prefix,
                )
            )
            await platform.frigate.subscribed.wait()
            latencies: list[float] = []
            async with (
                aiomqtt.Client(
                    hostname=parts.hostname or "127.0.0.1", port=parts.port or 1883
                ) as c,
                platform.bus.subscribe() as queue,
            ):
                for index in range(events):
                    event = {
                        "type": "new",
                        "after": {
                            "id": f"event-{index}",
                            "camera": "quay",
                            "label": "person",
                            "current_zones": [f"zone-{index}"],
                            "has_snapshot": True,
                        },
                    }
                    started = time.perf_counter()
                    await c.publish(f"{prefix}/events", json.dumps(event))
                    await queue.get()
                    latencies.append(time.perf_counter() - started)
            stored = platform.frigate.counters["stored"]
    api.close()
    latencies.sort()
    p95 = latencies[max(0, round(0.95 * len(latencies)) - 1)]
    print(
        f"{events} Frigate events, {stored} stored with their snapshot: "
        f"median {statistics.median(latencies) * 1000:.1f} ms, p95 {p95 * 1000:.1f} ms, "
        f"max {latencies[-1] * 1000:.1f} ms (publish -> alarm committed and on the bus)"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--broker", default="mqtt://127.0.0.1:1883")
    parser.add_argument("--events", type=int, default=50)
    arguments = parser.parse_args()
    asyncio.run(main(arguments.broker, arguments.events))

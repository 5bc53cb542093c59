"""Pictures that came with signals: written in the signals' transaction, read one by one."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncConnection

from watchfloor.core.signals import SignalRecord
from watchfloor.store.tables import signal_snapshots

__all__ = ["insert_snapshots"]


async def insert_snapshots(connection: AsyncConnection, records: Sequence[SignalRecord]) -> None:
    """Insert the snapshots of the stored signals, in one executemany.

    Runs inside the batch's transaction, so that a signal and its pictures are committed
    together or not at all.
    """
    rows = [
        {
            "signal_id": record.id,
            "content_type": snapshot.content_type,
            "data": snapshot.data,
            "sha256": hashlib.sha256(snapshot.data).hexdigest(),
            "size": len(snapshot.data),
            "received_at": record.signal.received_at,
        }
        for record in records
        for snapshot in record.signal.snapshots
    ]
    if rows:
        await connection.execute(signal_snapshots.insert(), rows)

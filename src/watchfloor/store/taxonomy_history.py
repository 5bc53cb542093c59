"""The recorded history of the taxonomy in force, for the transparency register."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncEngine

from watchfloor.core.alarm_types import Taxonomy
from watchfloor.core.audit import AuditEntry
from watchfloor.core.ports import Clock
from watchfloor.core.taxonomy_history import (
    TaxonomyVersion,
    compare_fingerprints,
    fingerprint_types,
)
from watchfloor.store._errors import translate_errors
from watchfloor.store.audit import append_audit, lock_chain
from watchfloor.store.database import write_transaction
from watchfloor.store.tables import taxonomy_versions

__all__ = ["record_taxonomy", "taxonomy_history"]


def _version_from_row(row: Any) -> TaxonomyVersion:
    return TaxonomyVersion(
        loaded_at=row.loaded_at,
        version=row.version,
        digest=row.digest,
        type_count=row.type_count,
        added=tuple(json.loads(row.added)),
        removed=tuple(json.loads(row.removed)),
        changed=tuple(json.loads(row.changed)),
    )


async def record_taxonomy(
    engine: AsyncEngine, taxonomy: Taxonomy, clock: Clock
) -> TaxonomyVersion | None:
    """Record the taxonomy put in force now, if it differs from the last one recorded.

    The record and its ``taxonomy.change`` audit row commit together. Idempotent: the same
    taxonomy again records nothing (and returns None). Safe when several nodes start at once.

    Raises:
        StoreUnavailableError: nothing was recorded.
    """
    fingerprints = fingerprint_types(taxonomy)
    with translate_errors("record the taxonomy in force"):
        async with write_transaction(engine) as connection:
            await lock_chain(connection)
            last = (
                await connection.execute(
                    select(taxonomy_versions.c.fingerprints)
                    .order_by(taxonomy_versions.c.id.desc())
                    .limit(1)
                )
            ).scalar()
            previous = None if last is None else {int(k): v for k, v in json.loads(last).items()}
            change = compare_fingerprints(previous, fingerprints)
            if change is None:
                return None
            version = TaxonomyVersion(
                loaded_at=clock.now(),
                version=taxonomy.version,
                digest=change.digest,
                type_count=len(taxonomy.types),
                added=change.added,
                removed=change.removed,
                changed=change.changed,
            )
            await connection.execute(
                insert(taxonomy_versions).values(
                    loaded_at=version.loaded_at,
                    version=version.version,
                    digest=version.digest,
                    type_count=version.type_count,
                    added=json.dumps(list(version.added)),
                    removed=json.dumps(list(version.removed)),
                    changed=json.dumps(list(version.changed)),
                    fingerprints=json.dumps({str(k): v for k, v in fingerprints.items()}),
                )
            )
            await append_audit(
                connection,
                AuditEntry(
                    at=version.loaded_at,
                    actor="system",
                    role=None,
                    via="system",
                    action="taxonomy.change",
                    target=f"taxonomy:{taxonomy.version}",
                    reason=(
                        f"put in force: {len(change.added)} added, {len(change.removed)} "
                        f"removed, {len(change.changed)} changed"
                    ),
                    digest=change.digest,
                ),
            )
    return version


async def taxonomy_history(engine: AsyncEngine, *, limit: int = 100) -> list[TaxonomyVersion]:
    """Return the recorded versions, newest first."""
    with translate_errors("read the taxonomy history"):
        async with engine.connect() as connection:
            rows = (
                await connection.execute(
                    select(taxonomy_versions).order_by(taxonomy_versions.c.id.desc()).limit(limit)
                )
            ).all()
    return [_version_from_row(row) for row in rows]

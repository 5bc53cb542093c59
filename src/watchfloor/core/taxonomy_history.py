"""The history of the taxonomy in force: fingerprints of each alarm type, and what changed.

Each start compares the taxonomy it loads with the last one recorded; a different one is
recorded (and audited) with the types added, removed and changed, so that the transparency
register can show how what the deployment monitors has changed over time.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from watchfloor.core.alarm_types import AlarmType, Taxonomy

__all__ = ["TaxonomyChange", "TaxonomyVersion", "compare_fingerprints", "fingerprint_types"]


def _type_document(alarm_type: AlarmType, mapped: list[str]) -> str:
    return json.dumps(
        {
            "name": alarm_type.name,
            "category": alarm_type.category,
            "priority": alarm_type.priority,
            "basis": alarm_type.basis.value,
            "sop": list(alarm_type.sop),
            "optional_steps": sorted(alarm_type.optional_steps),
            "ack_within": (
                None if alarm_type.ack_within is None else alarm_type.ack_within.total_seconds()
            ),
            "raises_alarm": alarm_type.raises_alarm,
            "mapped": sorted(mapped),
        },
        sort_keys=True,
        separators=(",", ":"),
    )


def fingerprint_types(taxonomy: Taxonomy) -> dict[int, str]:
    """Return each type's SHA-256 over its definition and the source codes mapped to it."""
    mapped: dict[int, list[str]] = {code: [] for code in taxonomy.types}
    for source, (type_code, restore) in taxonomy.mappings.items():
        mapped[type_code].append(f"{source.system.value}:{source.code}{'/r' if restore else ''}")
    return {
        code: hashlib.sha256(_type_document(t, mapped[code]).encode("utf-8")).hexdigest()
        for code, t in sorted(taxonomy.types.items())
    }


@dataclass(frozen=True, slots=True, kw_only=True)
class TaxonomyChange:
    """Types added, removed and changed between two versions, by code."""

    digest: str
    added: tuple[int, ...]
    removed: tuple[int, ...]
    changed: tuple[int, ...]


def compare_fingerprints(
    previous: Mapping[int, str] | None, current: Mapping[int, str]
) -> TaxonomyChange | None:
    """Return what changed from ``previous`` (None: nothing recorded yet) to ``current``.

    Returns None when nothing changed.
    """
    digest = hashlib.sha256(
        json.dumps(sorted(current.items()), separators=(",", ":")).encode("ascii")
    ).hexdigest()
    before = previous or {}
    added = tuple(sorted(set(current) - set(before)))
    removed = tuple(sorted(set(before) - set(current)))
    changed = tuple(sorted(c for c in set(current) & set(before) if current[c] != before[c]))
    if previous is not None and not (added or removed or changed):
        return None
    return TaxonomyChange(digest=digest, added=added, removed=removed, changed=changed)


@dataclass(frozen=True, slots=True, kw_only=True)
class TaxonomyVersion:
    """A taxonomy that was put in force, and what it changed."""

    loaded_at: datetime
    version: str
    digest: str
    type_count: int
    added: tuple[int, ...]
    removed: tuple[int, ...]
    changed: tuple[int, ...]

"""The start-up sweep of sealed columns: seal values stored in clear or under an older key.

It runs inside ``migrate``'s transaction whenever the engine has a key ring, so it is a data
migration that can reach the key (an Alembic revision runs once per database and could not:
the key lives in a file the database does not know). It is idempotent: a second run finds
every value sealed under the newest key and writes nothing. Values are few (accounts,
cameras, users), so each sealed column is read whole and rewritten row by row.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Column, LargeBinary, Text, select, type_coerce, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from watchfloor.core.errors import SecretKeyError
from watchfloor.store._errors import translate_errors
from watchfloor.store.sealing import (
    SealedBytes,
    SealedText,
    SecretKeys,
    is_sealed,
    sealed_key_id,
)
from watchfloor.store.tables import SEALED_COLUMNS

__all__ = ["CLEAR", "SealReport", "count_sealed", "seal_stored_secrets"]

#: The key of values stored in clear in ``count_sealed``'s answer.
CLEAR = "clear"


@dataclass(frozen=True, slots=True, kw_only=True)
class SealReport:
    """What a sweep changed: values sealed that were in clear, and re-sealed under the newest."""

    sealed_from_clear: int
    resealed: int


def _stored(column: Column[Any]) -> Any:
    # The column as stored, bypassing the sealed type's processing.
    return type_coerce(column, LargeBinary() if isinstance(column.type, SealedBytes) else Text())


def _text(raw: object) -> str:
    return raw.decode("latin-1") if isinstance(raw, bytes) else str(raw)


async def count_sealed(engine: AsyncEngine) -> Mapping[str, int]:
    """Return how many stored secrets each key id seals, and how many are in clear (``CLEAR``).

    Raises:
        StoreUnavailableError: the database could not be read.
    """
    counts: Counter[str] = Counter()
    with translate_errors("count the stored secrets"):
        async with engine.connect() as connection:
            for _, column in SEALED_COLUMNS:
                query = select(_stored(column)).where(column.is_not(None))
                for (raw,) in await connection.execute(query):
                    text = _text(raw)
                    counts[sealed_key_id(text) if is_sealed(text) else CLEAR] += 1
    return counts


async def seal_stored_secrets(connection: AsyncConnection, keys: SecretKeys) -> SealReport:
    """Seal every secret stored in clear, and re-seal those under an older key, in one go.

    Run it in a write transaction; cancelled or failing, the transaction rolls back and
    nothing changes. Idempotent.

    Raises:
        SecretKeyError: some values were sealed with keys the key file does not hold (a
            database copied without its key file); nothing was changed.
    """
    missing: Counter[str] = Counter()
    from_clear = resealed = 0
    for key_column, column in SEALED_COLUMNS:
        sealed_type = column.type
        assert isinstance(sealed_type, SealedBytes | SealedText)  # noqa: S101 - SEALED_COLUMNS
        rows = await connection.execute(
            select(key_column, _stored(column)).where(column.is_not(None))
        )
        for key, raw in rows.all():
            text = _text(raw)
            if not is_sealed(text):
                plain: object = raw
                from_clear += 1
            elif (key_id := sealed_key_id(text)) == keys.primary_id:
                continue
            elif key_id not in keys.key_ids:
                missing[key_id] += 1
                continue
            else:
                opened = keys.open(text, sealed_type.purpose)
                plain = opened if isinstance(sealed_type, SealedBytes) else opened.decode()
                resealed += 1
            await connection.execute(
                update(column.table).where(key_column == key).values({column.name: plain})
            )
    if missing:
        named = ", ".join(f"{count} with key {key_id}" for key_id, count in sorted(missing.items()))
        raise SecretKeyError(
            f"stored secrets were encrypted with keys that {keys.path} does not hold ({named}): "
            "restore the key file that belongs to this database (see README, secrets at rest)"
        )
    return SealReport(sealed_from_clear=from_clear, resealed=resealed)

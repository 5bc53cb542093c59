"""Constrained input types shared by the routes: ids, names, notes, accounts, codes.

Every value that reaches the store is bounded here, so bad input is a 422 naming the field
rather than a database error: ids fit a signed 64-bit column (SQLite and PostgreSQL
``BIGINT``), type codes a 32-bit one, and text carries no control characters (PostgreSQL
refuses NUL in ``text``; the rest have no place in names and confuse logs and terminals).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Annotated

from fastapi import Path, Query
from pydantic import AfterValidator, AwareDatetime, Field, StringConstraints

from watchfloor.codecs.accounts import ACCOUNT_PATTERN

__all__ = [
    "MAX_ID",
    "MAX_TYPE_CODE",
    "AccountPath",
    "AfterId",
    "AlarmId",
    "AsciiKey",
    "BodyId",
    "DispatchId",
    "HexKey",
    "Name",
    "NameQuery",
    "Note",
    "OptionalId",
    "SignalId",
    "SitePath",
    "StepNumber",
    "TypeCode",
    "UnitId",
    "UtcTime",
]

#: The largest id a signed 64-bit integer column holds.
MAX_ID = 2**63 - 1
#: The largest value a signed 32-bit integer column holds (alarm type codes).
MAX_TYPE_CODE = 2**31 - 1

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_CONTROL_BUT_LINES = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def _no_control(text: str) -> str:
    if _CONTROL.search(text):
        raise ValueError("must not contain control characters")
    return text


def _no_control_but_lines(text: str) -> str:
    if _CONTROL_BUT_LINES.search(text):
        raise ValueError("must not contain control characters other than tab and line breaks")
    return text


def _in_utc(value: datetime) -> datetime:
    try:
        return value.astimezone(UTC)
    except OverflowError as err:
        raise ValueError("is out of range once converted to UTC") from err


Name = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=200),
    AfterValidator(_no_control),
]
"""A site, device or person's name: 1 to 200 characters on one line."""

Note = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=4000),
    AfterValidator(_no_control_but_lines),
]
"""Free text for a timeline (notes, reasons): 1 to 4000 characters."""

UtcTime = Annotated[AwareDatetime, AfterValidator(_in_utc)]
"""A time with its zone, converted to UTC (years 1 to 9999 in UTC too)."""

HexKey = Annotated[str, StringConstraints(max_length=64)]
"""An AES key in hex, bounded here; ``codecs.accounts.parse_key`` checks its form and says what is wrong."""
AsciiKey = Annotated[str, StringConstraints(max_length=32)]
"""An AES key as ASCII characters, bounded here; ``codecs.accounts.parse_key`` checks its form."""

TypeCode = Annotated[int, Field(ge=0, le=MAX_TYPE_CODE)]
"""An alarm type's code."""

AlarmId = Annotated[int, Path(ge=1, le=MAX_ID, description="the alarm's id")]
SignalId = Annotated[int, Path(ge=1, le=MAX_ID, description="the signal's id")]
UnitId = Annotated[int, Path(ge=1, le=MAX_ID, description="the unit's id")]
DispatchId = Annotated[int, Path(ge=1, le=MAX_ID, description="the dispatch's id")]
#: A row id in a request body.
BodyId = Annotated[int, Field(ge=1, le=MAX_ID)]
StepNumber = Annotated[int, Path(ge=1, le=1000, description="the procedure step, from 1")]
AccountPath = Annotated[
    str, Path(pattern=f"^{ACCOUNT_PATTERN}$", description="DC-09 account: 3 to 16 hex digits")
]
SitePath = Annotated[str, Path(min_length=1, max_length=200, pattern=r"^[^\x00-\x1f\x7f]+$")]
OptionalId = Annotated[int | None, Query(ge=1, le=MAX_ID)]
AfterId = Annotated[int | None, Query(ge=1, le=MAX_ID, description="only rows with id < after")]
NameQuery = Annotated[
    str | None, Query(min_length=1, max_length=200, pattern=r"^[^\x00-\x1f\x7f]+$")
]

"""CSV exports: the one way every route writes a CSV file, with formula cells neutralised.

A spreadsheet runs a cell that starts with ``=``, ``+``, ``-`` or ``@`` (and some also one that
starts with a tab or a carriage return) as a formula, so a site name typed by a caller could
open a link or leak other cells once a supervisor opens the export (CSV injection, CWE-1236).
As OWASP advises, such a text cell is prefixed with a single quote, which spreadsheets show
as text. Numbers are written as they are: a negative count is data, not a formula.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from typing import Final

from fastapi.responses import Response

__all__ = ["csv_response", "neutralise_cell"]

#: The first characters that make a spreadsheet read a cell as a formula.
_FORMULA_STARTS: Final = ("=", "+", "-", "@", "\t", "\r")


def neutralise_cell(value: object) -> object:
    """Return the value to write in a cell: text that could run as a formula gets a ``'``."""
    if isinstance(value, str) and value.startswith(_FORMULA_STARTS):
        return "'" + value
    return value


def csv_response(
    columns: Sequence[str], rows: Iterable[Sequence[object]], *, filename: str
) -> Response:
    """Return a CSV attachment of a header and rows, every text cell neutralised."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(columns)
    writer.writerows([neutralise_cell(value) for value in row] for row in rows)
    return Response(
        buffer.getvalue(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )

"""Loading the alarm-type taxonomy: the shipped catalogue or an operator's own file."""

from __future__ import annotations

import tomllib
from importlib import resources
from pathlib import Path

from watchfloor.core.alarm_types import Taxonomy
from watchfloor.core.errors import TaxonomyError
from watchfloor.taxonomy._validation import build_taxonomy

__all__ = ["SHIPPED_TAXONOMY", "check_taxonomy_file", "load_taxonomy", "parse_taxonomy"]

#: The name of the catalogue shipped inside this package.
SHIPPED_TAXONOMY = "taxonomy.toml"
_PACKAGE = "watchfloor.taxonomy"


def parse_taxonomy(text: str, *, source: str) -> Taxonomy:
    """Parse and validate a taxonomy written in TOML.

    Pure: no I/O. Every problem is collected before anything is refused.

    Args:
        text: the TOML document.
        source: where the text came from (a path, or the shipped resource's name); every
            problem starts with it.

    Returns:
        The validated taxonomy, with read-only type and mapping tables.

    Raises:
        TaxonomyError: the text is not TOML, or it breaks one or more rules; ``problems`` lists
            each, naming the entry concerned (``type 305 "Glass break": basis ...``,
            ``sia_dcs.BA: maps to unknown type 399``).
    """
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise TaxonomyError([f"{source}: not valid TOML: {err}"]) from err
    return build_taxonomy(document, source=source)


def load_taxonomy(path: Path | None = None) -> Taxonomy:
    """Load and validate a taxonomy file.

    Args:
        path: the file to load; ``None`` loads the catalogue shipped with watchfloor.

    Returns:
        The validated taxonomy.

    Raises:
        TaxonomyError: the file cannot be read or is invalid; the problems name the file.
    """
    if path is None:
        resource = resources.files(_PACKAGE).joinpath(SHIPPED_TAXONOMY)
        text = resource.read_text(encoding="utf-8")
        return parse_taxonomy(text, source=f"{_PACKAGE}/{SHIPPED_TAXONOMY}")
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        raise TaxonomyError([f"{path}: cannot be read: {err}"]) from err
    return parse_taxonomy(text, source=str(path))


def check_taxonomy_file(path: Path) -> list[str]:
    """Check a taxonomy file without using it (``watchfloor taxonomy check FILE``).

    Args:
        path: the file to check.

    Returns:
        Every problem found, each naming the file and the entry; empty when the file is valid.
    """
    try:
        load_taxonomy(path)
    except TaxonomyError as err:
        return list(err.problems)
    return []

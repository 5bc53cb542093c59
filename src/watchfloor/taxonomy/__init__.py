"""The alarm-type taxonomy: the shipped catalogue (``taxonomy.toml``), its loading and validation.

The catalogue is data: each alarm type's code, name, category, priority, basis and standard
operating procedure, and the tables that map Contact ID and SIA DCS event codes to types.
``load_taxonomy()`` returns the shipped catalogue; ``load_taxonomy(path)`` an operator's own
file, validated by the same rules. The values it returns are ``watchfloor.core.alarm_types``'s.
"""

from watchfloor.taxonomy.loader import (
    SHIPPED_TAXONOMY,
    check_taxonomy_file,
    load_taxonomy,
    parse_taxonomy,
)

__all__ = ["SHIPPED_TAXONOMY", "check_taxonomy_file", "load_taxonomy", "parse_taxonomy"]

from __future__ import annotations

from types import MappingProxyType

import pytest

from watchfloor.core.alarm_types import (
    UNCLASSIFIED_SIGNAL,
    UNREGISTERED_TRANSMITTER,
    AlarmType,
    Basis,
    CodeSystem,
    SourceCode,
    Taxonomy,
)


def _type(
    code: int, name: str, basis: Basis, *, priority: int = 2, raises: bool = True
) -> AlarmType:
    return AlarmType(
        code=code,
        name=name,
        category=basis.value,
        priority=priority,
        basis=basis,
        sop=("Check",),
        raises_alarm=raises,
    )


@pytest.fixture
def taxonomy() -> Taxonomy:
    types = {
        t.code: t
        for t in (
            _type(301, "Burglary", Basis.INTRUSION),
            _type(110, "Fire", Basis.FIRE, priority=1),
            _type(801, "Opening/closing", Basis.INTRUSION, priority=5, raises=False),
            _type(UNCLASSIFIED_SIGNAL, "Unclassified signal", Basis.EQUIPMENT_FAULT, priority=3),
            _type(UNREGISTERED_TRANSMITTER, "Unregistered transmitter", Basis.SUPERVISION),
        )
    }
    mappings = {
        SourceCode(system=CodeSystem.SIA_DCS, code="BA"): (301, False),
        SourceCode(system=CodeSystem.SIA_DCS, code="BR"): (301, True),
        SourceCode(system=CodeSystem.CONTACT_ID, code="130"): (301, False),
        SourceCode(system=CodeSystem.SIA_DCS, code="CL"): (801, False),
        SourceCode(system=CodeSystem.SIA_DCS, code="FA"): (110, False),
    }
    return Taxonomy(
        version="test", types=MappingProxyType(types), mappings=MappingProxyType(mappings)
    )

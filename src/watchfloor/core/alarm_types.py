"""Alarm types, the closed list of harms they address, and classification of source codes.

The catalogue itself is data (see ``watchfloor.taxonomy``); this module holds its shape and the
pure lookup from a source code (Contact ID event, SIA DCS code, ...) to an alarm type.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from enum import StrEnum
from types import MappingProxyType

__all__ = [
    "CAMERA_LINK_LOST",
    "DEFAULT_ACK_DEADLINES",
    "DEFAULT_ESCALATION_LADDER",
    "LINK_LOST",
    "UNCLASSIFIED_SIGNAL",
    "UNREGISTERED_TRANSMITTER",
    "AlarmType",
    "Basis",
    "Classification",
    "CodeSystem",
    "EscalationLevel",
    "SourceCode",
    "Taxonomy",
]

#: The type of a signal whose code has no mapping: stored and raised, never discarded.
UNCLASSIFIED_SIGNAL = 990
#: The type of a signal from a transmitter nobody registered.
UNREGISTERED_TRANSMITTER = 991
#: The supervision condition raised when a device stops reporting (``[supervision]`` maps it).
LINK_LOST = "link_lost"
#: The supervision condition of a camera, NVR or Frigate instance gone silent.
CAMERA_LINK_LOST = "camera_link_lost"


#: Acknowledgement deadlines per priority, unless the taxonomy file says otherwise.
DEFAULT_ACK_DEADLINES: Mapping[int, timedelta | None] = MappingProxyType(
    {
        1: timedelta(seconds=30),
        2: timedelta(seconds=60),
        3: timedelta(minutes=3),
        4: timedelta(minutes=10),
        5: None,
    }
)


@dataclass(frozen=True, slots=True, kw_only=True)
class EscalationLevel:
    """One rung of the escalation ladder: who is told of an alarm nobody acknowledged, and when.

    The operators see every alarm from the start; the ladder names who is told after them
    (``supervisor``, ``duty_manager`` ...), each once. ``after`` is how long after the rung
    below this one is reached; the first rung is told when the alarm becomes overdue (its
    acknowledgement deadline), so its ``after`` is zero.
    """

    name: str
    after: timedelta = timedelta(0)


#: Who is told of an overdue alarm, unless the taxonomy file's ``[escalation]`` says otherwise.
DEFAULT_ESCALATION_LADDER: tuple[EscalationLevel, ...] = (
    EscalationLevel(name="supervisor"),
    EscalationLevel(name="duty_manager", after=timedelta(minutes=2)),
)


class Basis(StrEnum):
    """The harm an alarm type addresses. Closed: a type with any other basis is refused."""

    FIRE = "fire"
    INTRUSION = "intrusion"
    HOLD_UP_DURESS = "hold-up/duress"
    MEDICAL = "medical"
    HAZARD = "hazard"
    CRIME_AGAINST_PERSON = "crime against person"
    CRIME_AGAINST_PROPERTY = "crime against property"
    TRAFFIC = "traffic"
    EQUIPMENT_FAULT = "equipment fault"
    SUPERVISION = "supervision"
    TEST_MAINTENANCE = "test/maintenance"


class CodeSystem(StrEnum):
    """A family of source codes that the taxonomy maps to alarm types."""

    CONTACT_ID = "contact_id"
    SIA_DCS = "sia_dcs"
    SUPERVISION = "supervision"
    #: Hikvision ISAPI ``eventType`` values (``VMD``, ``linedetection``, ``videoloss`` ...).
    HIKVISION = "hikvision"
    #: ONVIF event topics, namespace prefixes removed (``RuleEngine/LineDetector/Crossed``).
    ONVIF = "onvif"
    #: Frigate object labels (``person``, ``car``, ``fire`` ...), refined by zone per device.
    FRIGATE = "frigate"
    #: An alarm type's own code, as staff on duty and call-takers choose it from the taxonomy.
    TAXONOMY = "taxonomy"


@dataclass(frozen=True, slots=True, kw_only=True)
class SourceCode:
    """A code as a source sends it: the system it belongs to and the code itself."""

    system: CodeSystem
    code: str


@dataclass(frozen=True, slots=True, kw_only=True)
class AlarmType:
    """One entry of the taxonomy.

    ``sop`` is the standard operating procedure, in order; every step is mandatory before a
    resolve except those in ``optional_steps`` (indexes from 0). ``ack_within`` is how long
    an alarm of this type may wait for acknowledgement before it escalates (None: never).
    ``raises_alarm`` is false for types that are logged but need no operator (openings and
    closings, for instance): their signals are stored and shown, not queued.
    """

    code: int
    name: str
    category: str
    priority: int
    basis: Basis
    sop: tuple[str, ...]
    optional_steps: frozenset[int] = frozenset()
    #: Steps that can be marked done only once the call list is worked (a contact answered).
    call_list_steps: frozenset[int] = frozenset()
    ack_within: timedelta | None = None
    raises_alarm: bool = True


@dataclass(frozen=True, slots=True, kw_only=True)
class Classification:
    """The alarm type a signal belongs to, and whether the signal restores it."""

    alarm_type: AlarmType
    restore: bool


@dataclass(frozen=True, slots=True, kw_only=True)
class Taxonomy:
    """A validated catalogue of alarm types with its code mappings.

    ``mappings`` maps a source code to (alarm type code, is-restore). ``escalation_ladder``
    is who is told, in order, of an alarm not acknowledged by its deadline. Build one through
    ``watchfloor.taxonomy.load_taxonomy`` so that it is validated.
    """

    version: str
    types: Mapping[int, AlarmType]
    mappings: Mapping[SourceCode, tuple[int, bool]]
    ack_deadlines: Mapping[int, timedelta | None] = field(
        default_factory=lambda: DEFAULT_ACK_DEADLINES
    )
    escalation_ladder: tuple[EscalationLevel, ...] = DEFAULT_ESCALATION_LADDER

    def classify(self, source_code: SourceCode, *, restore: bool = False) -> Classification:
        """Return the classification of a source code; unknown codes are unclassified signals.

        A taxonomy code (``CodeSystem.TAXONOMY``) classifies as the type of that code.

        Args:
            source_code: the code as received.
            restore: whether the message itself says restore (Contact ID qualifier 3); a
                restore code in the mapping (SIA ``BR``) is a restore either way.
        """
        mapped = self.mappings.get(source_code) or self._chosen(source_code)
        if mapped is None:
            return Classification(alarm_type=self.types[UNCLASSIFIED_SIGNAL], restore=restore)
        type_code, mapped_restore = mapped
        return Classification(alarm_type=self.types[type_code], restore=restore or mapped_restore)

    def _chosen(self, source_code: SourceCode) -> tuple[int, bool] | None:
        # Staff on duty and call-takers choose a type directly: its own code is that type,
        # unless a ``[taxonomy]`` mapping (read first) redirects it, e.g. a retired type.
        code = source_code.code
        if source_code.system is not CodeSystem.TAXONOMY or not code.isdecimal():
            return None
        return (int(code), False) if int(code) in self.types else None

    def get(self, code: int) -> AlarmType:
        """Return the alarm type with this code.

        Raises:
            KeyError: no such type.
        """
        return self.types[code]

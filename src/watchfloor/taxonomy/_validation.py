"""Checks a decoded taxonomy document and builds the validated Taxonomy from it."""

# Theory of operation: the document is walked once, every problem is collected (never only the
# first), and a Taxonomy is built only when there are none. Each problem starts with where it
# is (type 305 "Glass break", sia_dcs.BA, types[3]) so that whoever edits the file can
# find the entry; a mapping to a type whose own entry is invalid is not reported again.

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from types import MappingProxyType

from watchfloor.core.alarm_types import (
    DEFAULT_ACK_DEADLINES,
    DEFAULT_ESCALATION_LADDER,
    UNCLASSIFIED_SIGNAL,
    UNREGISTERED_TRANSMITTER,
    AlarmType,
    Basis,
    CodeSystem,
    EscalationLevel,
    SourceCode,
    Taxonomy,
)
from watchfloor.core.errors import TaxonomyError

__all__ = ["build_taxonomy"]

_TOP_KEYS = (
    "version",
    "types",
    "acknowledge_within",
    "escalation",
    *(system.value for system in CodeSystem),
)
_TYPE_KEYS = (
    "code",
    "name",
    "category",
    "priority",
    "basis",
    "sop",
    "raises_alarm",
    "ack_within_seconds",
)
_STEP_KEYS = ("step", "optional", "requires")
#: What a step may require before it can be marked done (``AlarmType.call_list_steps``).
_STEP_REQUIREMENTS = ("call_list",)
#: The longest acknowledgement deadline a file may set: a day.
_MAX_DEADLINE_SECONDS = 86_400
_OPTIONAL_TYPE_KEYS = frozenset({"raises_alarm", "ack_within_seconds"})
_MAPPING_KEYS = ("type", "restore")
_ESCALATION_KEYS = ("ladder",)
_LEVEL_KEYS = ("level", "after_seconds")
#: The most rungs a ladder may have: each one is a group of people woken at night.
_MAX_LEVELS = 5
_LEVEL_NAME = re.compile(r"[a-z][a-z0-9_]*")
#: The rung below every ladder: the operators see each alarm from the start.
_BASE_LEVEL = "operator"

_MIN_CODE, _MAX_CODE = 1, 999
_MIN_PRIORITY, _MAX_PRIORITY = 1, 5
_CATEGORY = re.compile(r"[a-z][a-z0-9-]*")
_BASIS_VALUES = tuple(basis.value for basis in Basis)

#: Types every taxonomy needs: intake raises these when it cannot place a signal (DESIGN.md).
_REQUIRED_TYPES: Mapping[int, str] = {
    UNCLASSIFIED_SIGNAL: "signals whose code has no mapping",
    UNREGISTERED_TRANSMITTER: "signals from transmitters nobody registered",
}

#: The form of a source code in each system: Contact ID events are three decimal digits
#: (DC-05), SIA DCS event codes two upper-case letters (DC-03).
_CODE_FORMATS: Mapping[CodeSystem, tuple[re.Pattern[str], str]] = {
    CodeSystem.CONTACT_ID: (re.compile(r"[0-9]{3}"), "a three-digit Contact ID event code"),
    CodeSystem.SIA_DCS: (re.compile(r"[A-Z]{2}"), "a two-letter upper-case SIA DCS event code"),
    CodeSystem.SUPERVISION: (re.compile(r"[a-z][a-z_]*"), "a supervision condition like link_lost"),
    CodeSystem.HIKVISION: (
        re.compile(r"[A-Za-z][A-Za-z0-9_]*"),
        "a Hikvision ISAPI eventType like linedetection",
    ),
    CodeSystem.ONVIF: (
        re.compile(r"[A-Za-z][A-Za-z0-9_]*(/[A-Za-z][A-Za-z0-9_]*)*"),
        "an ONVIF topic without namespace prefixes, like RuleEngine/LineDetector/Crossed",
    ),
    CodeSystem.FRIGATE: (
        re.compile(r"[a-z][a-z0-9_]*"),
        "a Frigate object label like person",
    ),
    CodeSystem.TAXONOMY: (re.compile(r"[0-9]{1,4}"), "an alarm type code"),
}


def _show(value: object) -> str:
    return json.dumps(value, ensure_ascii=False, default=str)


def _seconds(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if 0 <= value <= _MAX_DEADLINE_SECONDS else None


def _whole_number(value: object, low: int, high: int) -> int | None:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        return None
    return value


@dataclass(slots=True)
class _Builder:
    problems: list[str] = field(default_factory=list)
    types: dict[int, AlarmType] = field(default_factory=dict)
    #: Every code an entry declared, valid or not, so that mappings to an invalid entry are not
    #: reported as "unknown" on top of the entry's own problem.
    declared: set[int] = field(default_factory=set)
    names: dict[str, int] = field(default_factory=dict)
    mappings: dict[SourceCode, tuple[int, bool]] = field(default_factory=dict)
    deadlines: dict[int, timedelta | None] = field(
        default_factory=lambda: dict(DEFAULT_ACK_DEADLINES)
    )
    ladder: tuple[EscalationLevel, ...] = DEFAULT_ESCALATION_LADDER

    def report(self, where: str, message: str) -> None:
        self.problems.append(f"{where}: {message}")

    def read_document(self, document: Mapping[str, object]) -> str:
        for key in document:
            if key not in _TOP_KEYS:
                self.report("top level", f"unknown key {_show(key)}")
        version = document.get("version")
        if version is None:
            self.report("version", "missing")
        elif not isinstance(version, str) or not version.strip():
            self.report("version", "must be a non-empty string")
        self.read_deadlines(document.get("acknowledge_within", {}))
        if "escalation" in document:
            self.read_escalation(document["escalation"])
        self.read_types(document.get("types"))
        for system in CodeSystem:
            self.read_mappings(system, document.get(system.value, {}))
        return version.strip() if isinstance(version, str) else ""

    def read_types(self, entries: object) -> None:
        if entries is None:
            self.report("types", "missing: declare each alarm type as a [[types]] table")
        elif not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
            self.report("types", "must be an array of tables ([[types]])")
        else:
            for index, entry in enumerate(entries):
                self.read_type(index, entry)
        for code, purpose in _REQUIRED_TYPES.items():
            if code not in self.declared:
                self.report("types", f"no type {code}: it is required for {purpose}")
            elif code in self.types and not self.types[code].raises_alarm:
                where = f'type {code} "{self.types[code].name}"'
                self.report(where, f"raises_alarm must be true: {purpose} must reach an operator")

    def read_type(self, index: int, entry: Mapping[str, object]) -> None:
        raw_code, raw_name = entry.get("code"), entry.get("name")
        code = _whole_number(raw_code, _MIN_CODE, _MAX_CODE)
        where = f"type {code}" if code is not None else f"types[{index}]"
        if isinstance(raw_name, str) and raw_name.strip():
            where += f" {_show(raw_name)}"
        before = len(self.problems)
        for key in entry:
            if key not in _TYPE_KEYS:
                self.report(where, f"unknown key {_show(key)}")
        for key in _TYPE_KEYS:
            if key not in entry and key not in _OPTIONAL_TYPE_KEYS:
                self.report(where, f'missing key "{key}"')

        if code is None and "code" in entry:
            self.report(where, f"code {_show(raw_code)} is not a whole number from 1 to 999")
        elif code is not None:
            if code in self.declared:
                self.report(where, f"code {code} is used by an earlier type too")
            self.declared.add(code)
        name = self.read_name(where, entry)
        category = self.read_category(where, entry)
        priority = self.read_priority(where, entry)
        basis = self.read_basis(where, entry)
        sop, optional_steps, call_list_steps = self.read_sop(where, entry)
        ack_within = self.read_type_deadline(where, entry, priority)
        raises_alarm = entry.get("raises_alarm", True)
        if not isinstance(raises_alarm, bool):
            self.report(where, f"raises_alarm {_show(raises_alarm)} must be true or false")
            return
        if (
            len(self.problems) > before
            or code is None
            or name is None
            or category is None
            or priority is None
            or basis is None
            or sop is None
        ):
            return
        self.names[name] = code
        self.types[code] = AlarmType(
            code=code,
            name=name,
            category=category,
            priority=priority,
            basis=basis,
            sop=sop,
            optional_steps=optional_steps,
            call_list_steps=call_list_steps,
            ack_within=ack_within,
            raises_alarm=raises_alarm,
        )

    def read_name(self, where: str, entry: Mapping[str, object]) -> str | None:
        if "name" not in entry:
            return None
        name = entry["name"]
        if not isinstance(name, str) or not name.strip():
            self.report(where, "name must be a non-empty string")
            return None
        if name.strip() in self.names:
            self.report(where, f"name is used by type {self.names[name.strip()]} too")
        return name.strip()

    def read_category(self, where: str, entry: Mapping[str, object]) -> str | None:
        if "category" not in entry:
            return None
        category = entry["category"]
        if not isinstance(category, str) or not _CATEGORY.fullmatch(category):
            message = f'category {_show(category)} must be a lower-case slug such as "intrusion"'
            self.report(where, message)
            return None
        return category

    def read_priority(self, where: str, entry: Mapping[str, object]) -> int | None:
        if "priority" not in entry:
            return None
        priority = _whole_number(entry["priority"], _MIN_PRIORITY, _MAX_PRIORITY)
        if priority is None:
            self.report(where, f"priority {_show(entry['priority'])} is not in 1..5")
        return priority

    def read_basis(self, where: str, entry: Mapping[str, object]) -> Basis | None:
        if "basis" not in entry:
            return None
        basis = entry["basis"]
        if not isinstance(basis, str) or basis not in _BASIS_VALUES:
            self.report(where, f"basis {_show(basis)} is not one of: {', '.join(_BASIS_VALUES)}")
            return None
        return Basis(basis)

    def read_sop(
        self, where: str, entry: Mapping[str, object]
    ) -> tuple[tuple[str, ...] | None, frozenset[int], frozenset[int]]:
        """A step is a string (mandatory) or ``{ step = "...", optional = true }``.

        ``requires = "call_list"`` makes a step one that can be marked done only once the
        site's call list has been worked (a contact answered).
        """
        if "sop" not in entry:
            return None, frozenset(), frozenset()
        sop = entry["sop"]
        if not isinstance(sop, list) or not sop:
            self.report(where, "sop must be a non-empty list of steps")
            return None, frozenset(), frozenset()
        steps: list[str] = []
        optional: set[int] = set()
        call_list: set[int] = set()
        for number, item in enumerate(sop, start=1):
            step, is_optional, requires = item, False, None
            if isinstance(item, dict):
                unknown = sorted(set(item) - set(_STEP_KEYS))
                if unknown:
                    self.report(where, f"sop step {number}: unknown key {_show(unknown[0])}")
                step, is_optional = item.get("step"), item.get("optional", False)
                requires = item.get("requires")
                if not isinstance(is_optional, bool):
                    self.report(where, f"sop step {number}: optional must be true or false")
                if requires is not None and requires not in _STEP_REQUIREMENTS:
                    self.report(
                        where,
                        f"sop step {number}: requires {_show(requires)} must be one of "
                        + ", ".join(_STEP_REQUIREMENTS),
                    )
            if isinstance(step, str) and step.strip():
                steps.append(step.strip())
                if is_optional is True:
                    optional.add(number - 1)
                if requires == "call_list":
                    call_list.add(number - 1)
            else:
                self.report(where, f"sop step {number} must be a non-empty string")
        complete = tuple(steps) if len(steps) == len(sop) else None
        return complete, frozenset(optional), frozenset(call_list)

    def read_deadlines(self, table: object) -> None:
        """``[acknowledge_within]`` p1 = 30 ... p5 = 0 (seconds; 0: never escalate)."""
        if not isinstance(table, dict):
            self.report("acknowledge_within", "must be a table like p1 = 30")
            return
        for key, value in table.items():
            where = f"acknowledge_within.{key}"
            priority = int(key[1:]) if key[:1] == "p" and key[1:].isdigit() else None
            if priority is None or not _MIN_PRIORITY <= priority <= _MAX_PRIORITY:
                self.report(where, "keys are p1 to p5")
                continue
            seconds = _seconds(value)
            if seconds is None:
                self.report(
                    where,
                    f"{_show(value)} is not a number of seconds from 0 to "
                    f"{_MAX_DEADLINE_SECONDS} (0: never)",
                )
                continue
            self.deadlines[priority] = timedelta(seconds=seconds) if seconds else None

    def read_escalation(self, table: object) -> None:
        """``[escalation] ladder = [{ level = "supervisor" }, { level = ..., after_seconds = N }]``.

        The first rung is told when an alarm becomes overdue, each later one ``after_seconds``
        after the rung before it.
        """
        form = 'a table like ladder = [{ level = "supervisor" }, ...]'
        if not isinstance(table, dict):
            self.report("escalation", f"must be {form}")
            return
        for key in table:
            if key not in _ESCALATION_KEYS:
                self.report("escalation", f"unknown key {_show(key)}")
        if "ladder" not in table:
            self.report("escalation", f'missing key "ladder": {form}')
            return
        entries = table["ladder"]
        if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
            self.report("escalation.ladder", f"must be a list of tables: {form}")
            return
        if not 1 <= len(entries) <= _MAX_LEVELS:
            self.report("escalation.ladder", f"must name 1 to {_MAX_LEVELS} levels")
            return
        seen: set[str] = set()
        levels = [self.read_level(index, entry, seen) for index, entry in enumerate(entries)]
        if all(level is not None for level in levels):
            self.ladder = tuple(level for level in levels if level is not None)

    def read_level(
        self, index: int, entry: Mapping[str, object], seen: set[str]
    ) -> EscalationLevel | None:
        name = entry.get("level")
        where = f"escalation.ladder[{index}]"
        if isinstance(name, str):
            where += f" {_show(name)}"
        before = len(self.problems)
        for key in entry:
            if key not in _LEVEL_KEYS:
                self.report(where, f"unknown key {_show(key)}")
        if not isinstance(name, str) or not _LEVEL_NAME.fullmatch(name):
            self.report(where, 'level must be a lower-case name such as "duty_manager"')
        elif name == _BASE_LEVEL:
            self.report(where, "operators see every alarm from the start: list who comes after")
        elif name in seen:
            self.report(where, "the level is named twice: each level is told once")
        else:
            seen.add(name)
        after = entry.get("after_seconds")
        if index == 0 and after is not None:
            self.report(
                where,
                "the first level is told when the alarm becomes overdue (its acknowledgement "
                "deadline): remove after_seconds",
            )
        elif index > 0 and after is None:
            self.report(where, 'missing key "after_seconds" (how long after the level before)')
        elif index > 0 and not (_seconds(after) or 0) > 0:
            self.report(
                where,
                f"after_seconds {_show(after)} is not a number of seconds above 0 and at "
                f"most {_MAX_DEADLINE_SECONDS}",
            )
        if len(self.problems) > before or not isinstance(name, str):
            return None
        return EscalationLevel(name=name, after=timedelta(seconds=_seconds(after) or 0))

    def read_type_deadline(
        self, where: str, entry: Mapping[str, object], priority: int | None
    ) -> timedelta | None:
        if "ack_within_seconds" not in entry:
            return self.deadlines.get(priority) if priority is not None else None
        seconds = _seconds(entry["ack_within_seconds"])
        if seconds is None:
            self.report(
                where,
                f"ack_within_seconds {_show(entry['ack_within_seconds'])} is not "
                f"a number of seconds from 0 to {_MAX_DEADLINE_SECONDS} (0: never)",
            )
            return None
        return timedelta(seconds=seconds) if seconds else None

    def read_mappings(self, system: CodeSystem, table: object) -> None:
        if not isinstance(table, dict):
            self.report(system.value, "must be a table of code = type code")
            return
        pattern, description = _CODE_FORMATS[system]
        for key, value in table.items():
            where = f"{system.value}.{key}"
            if not pattern.fullmatch(key):
                self.report(where, f"{_show(key)} is not {description}")
            target = self.read_target(where, value)
            if target is not None and pattern.fullmatch(key):
                self.mappings[SourceCode(system=system, code=key)] = target

    def read_target(self, where: str, value: object) -> tuple[int, bool] | None:
        restore: object = False
        if isinstance(value, dict):
            for key in value:
                if key not in _MAPPING_KEYS:
                    self.report(where, f"unknown key {_show(key)}")
            if "type" not in value:
                self.report(where, 'missing key "type"')
                return None
            restore = value.get("restore", False)
            value = value["type"]
        if isinstance(value, bool) or not isinstance(value, int):
            form = "{ type = N, restore = true }"
            self.report(where, f"must be a type code or {form}, not {_show(value)}")
            return None
        if not isinstance(restore, bool):
            self.report(where, f"restore {_show(restore)} must be true or false")
            return None
        if value not in self.declared:
            self.report(where, f"maps to unknown type {value}")
            return None
        return value, restore


def build_taxonomy(document: Mapping[str, object], *, source: str) -> Taxonomy:
    """Validate a decoded taxonomy document and build the Taxonomy it describes.

    Args:
        document: the document as ``tomllib`` decoded it.
        source: where the document came from, the start of every problem's text.

    Returns:
        The validated taxonomy; its mappings are read-only.

    Raises:
        TaxonomyError: with every problem found, each naming the entry it concerns.
    """
    builder = _Builder()
    version = builder.read_document(document)
    if builder.problems:
        raise TaxonomyError([f"{source}: {problem}" for problem in builder.problems])
    return Taxonomy(
        version=version,
        types=MappingProxyType(dict(sorted(builder.types.items()))),
        mappings=MappingProxyType(builder.mappings),
        ack_deadlines=MappingProxyType(builder.deadlines),
        escalation_ladder=builder.ladder,
    )

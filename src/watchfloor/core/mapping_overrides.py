"""Per-device mapping overrides: where and when a camera's event means another alarm type.

Theory of operation: the taxonomy maps a camera's event type or Frigate label to one alarm
type everywhere. A device may override that with rules, tried in order; the first rule whose
code, zone and hours all match the signal names the alarm type. "A person in zone
loading_dock after hours is an intrusion; the same in the lobby at noon is nothing" is::

    {"timezone": "Europe/Berlin", "rules": [
        {"code": "person", "zone": "loading_dock", "from": "18:00", "to": "07:00", "type": 702},
        {"code": "person", "type": 705}]}

where 705 is a log-only type (stored and shown, never queued). Hours are the device's local
time (``timezone``, an IANA name, UTC by default); ``from`` after ``to`` spans midnight. A
rule without ``zone`` or hours matches any. Overrides are data of the device, set through
the CLI or API and validated there (``parse_overrides``), so intake never meets a bad one.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import datetime, time
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

__all__ = ["CodeOverride", "MappingOverrides", "overridden_type", "parse_overrides"]

_RULE_KEYS = frozenset({"code", "zone", "from", "to", "type"})
_TOP_KEYS = frozenset({"timezone", "rules"})
_MAX_RULES = 100


@dataclass(frozen=True, slots=True, kw_only=True)
class CodeOverride:
    """One rule: signals with this code (in this zone, between these times) get a type.

    ``start``/``end`` are local times, both set or both None.
    """

    code: str
    zone: str | None = None
    start: time | None = None
    end: time | None = None
    type_code: int

    def matches(self, code: str, zone: str | None, local: time) -> bool:
        """Return whether the rule applies to a signal's code and zone at a local time."""
        if code != self.code or (self.zone is not None and zone != self.zone):
            return False
        if self.start is None or self.end is None:
            return True
        if self.start <= self.end:
            return self.start <= local < self.end
        return local >= self.start or local < self.end


@dataclass(frozen=True, slots=True, kw_only=True)
class MappingOverrides:
    """A device's override rules, in order, and the time zone their hours are in."""

    timezone: str = "UTC"
    rules: tuple[CodeOverride, ...] = ()

    def as_document(self) -> dict[str, object]:
        """Return the JSON-ready form that ``parse_overrides`` reads back."""
        return {
            "timezone": self.timezone,
            "rules": [
                {
                    "code": rule.code,
                    **({"zone": rule.zone} if rule.zone is not None else {}),
                    **(
                        {"from": rule.start.strftime("%H:%M"), "to": rule.end.strftime("%H:%M")}
                        if rule.start is not None and rule.end is not None
                        else {}
                    ),
                    "type": rule.type_code,
                }
                for rule in self.rules
            ],
        }


def overridden_type(
    overrides: MappingOverrides, *, code: str, zone: str | None, at: datetime
) -> int | None:
    """Return the alarm type the first matching rule names, or None when no rule matches.

    Args:
        overrides: the device's rules.
        code: the signal's source code (an ISAPI event type, a Frigate label ...).
        zone: the signal's zone.
        at: when the signal was received (timezone-aware).
    """
    local = at.astimezone(ZoneInfo(overrides.timezone)).time()
    return next(
        (rule.type_code for rule in overrides.rules if rule.matches(code, zone, local)), None
    )


def parse_overrides(document: object, *, known_types: Collection[int] | None) -> MappingOverrides:
    """Check and build overrides from their JSON form.

    Args:
        document: the decoded JSON object (see the module docstring).
        known_types: the alarm type codes of the taxonomy in force; None accepts any
            whole number (overrides read back from the store were checked when set).

    Raises:
        ValueError: every problem found, in one message.
    """
    if not isinstance(document, Mapping):
        raise ValueError("mapping overrides must be an object with 'rules'")
    problems = [f"unknown key {key!r}" for key in document if key not in _TOP_KEYS]
    timezone = document.get("timezone", "UTC")
    if not isinstance(timezone, str) or not _is_timezone(timezone):
        problems.append(f"timezone: not an IANA time zone: {timezone!r}")
        timezone = "UTC"
    entries = document.get("rules", [])
    if not isinstance(entries, list) or len(entries) > _MAX_RULES:
        raise ValueError(f"rules must be a list of at most {_MAX_RULES} rules")
    rules = [
        rule
        for index, entry in enumerate(entries)
        if (rule := _rule(f"rules[{index}]", entry, known_types, problems)) is not None
    ]
    if problems:
        raise ValueError("; ".join(problems))
    return MappingOverrides(timezone=timezone, rules=tuple(rules))


def _is_timezone(name: str) -> bool:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return False
    return True


def _rule(
    where: str, entry: object, known_types: Collection[int] | None, problems: list[str]
) -> CodeOverride | None:
    if not isinstance(entry, Mapping):
        problems.append(f"{where}: must be an object")
        return None
    before = len(problems)
    problems.extend(f"{where}: unknown key {key!r}" for key in entry if key not in _RULE_KEYS)
    code, zone, type_code = entry.get("code"), entry.get("zone"), entry.get("type")
    if not isinstance(code, str) or not code:
        problems.append(f"{where}: code must be a non-empty string")
    if zone is not None and (not isinstance(zone, str) or not zone):
        problems.append(f"{where}: zone must be a non-empty string")
    if (
        isinstance(type_code, bool)
        or not isinstance(type_code, int)
        or (known_types is not None and type_code not in known_types)
    ):
        problems.append(f"{where}: type {type_code!r} is not an alarm type of the taxonomy")
    start, end = _time(entry.get("from")), _time(entry.get("to"))
    if ("from" in entry or "to" in entry) and (start is None or end is None):
        problems.append(f"{where}: from and to must both be given as HH:MM")
    if len(problems) > before:
        return None
    assert isinstance(code, str)  # noqa: S101 - checked above
    assert isinstance(type_code, int)  # noqa: S101 - checked above
    return CodeOverride(
        code=code,
        zone=zone if isinstance(zone, str) else None,
        start=start,
        end=end,
        type_code=type_code,
    )


def _time(value: object) -> time | None:
    if not isinstance(value, str):
        return None
    try:
        return time.fromisoformat(value)
    except ValueError:
        return None

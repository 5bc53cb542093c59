"""Who acts: users, their roles, what each role may do, and the principal a request runs as.

The authorization matrix is ``PERMISSIONS``, the one place that says which role may do what.
Every API route names the one permission it needs (``api.auth.allowed``); a test walks every
route of the OpenAPI document against this table. Roles separate duties: operators handle
alarms; supervisors also override, work in bulk and read statistics; administrators manage
equipment, users and notifications; auditors read the audit log and statistics and act on
nothing; patrol staff only report what they find and keep their unit's status.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from types import MappingProxyType

__all__ = ["PERMISSIONS", "Permission", "Principal", "Role", "may"]


class Role(StrEnum):
    """What a user may do, through ``PERMISSIONS``."""

    OPERATOR = "operator"
    SUPERVISOR = "supervisor"
    ADMIN = "admin"
    AUDITOR = "auditor"
    PATROL = "patrol"


class Permission(StrEnum):
    """One thing a request may do; the value reads as "may <value>" in a 403's detail."""

    READ_ALARMS = "read alarms and signals"
    READ_IMAGES = "read images"
    HANDLE_ALARMS = "handle alarms"
    SUPERVISE_ALARMS = "override procedures, take over and act in bulk"
    ENTER_CALLS = "enter calls"
    REPORT_FROM_PATROL = "report from patrol"
    UPDATE_OWN_UNIT = "update their unit's status"
    READ_UNITS = "read units"
    MANAGE_UNITS = "manage units"
    READ_STATISTICS = "read statistics"
    EXPORT_DATA = "search and export data"
    READ_TAXONOMY = "read the alarm types"
    READ_EQUIPMENT = "read equipment"
    READ_SITES = "read site records and call lists"
    MANAGE_SITES = "edit site records and call lists"
    MANAGE_EQUIPMENT = "manage equipment"
    MANAGE_USERS = "manage users and tokens"
    MANAGE_NOTIFICATIONS = "manage notifications"
    READ_AUDIT = "read the audit log"
    READ_METRICS = "read metrics"


_OPERATOR = frozenset(
    {
        Permission.READ_ALARMS,
        Permission.READ_IMAGES,
        Permission.HANDLE_ALARMS,
        Permission.ENTER_CALLS,
        Permission.READ_UNITS,
        Permission.READ_TAXONOMY,
        Permission.READ_EQUIPMENT,
        Permission.READ_SITES,
    }
)
_SUPERVISOR = _OPERATOR | {
    Permission.SUPERVISE_ALARMS,
    Permission.MANAGE_SITES,
    Permission.MANAGE_UNITS,
    Permission.READ_STATISTICS,
    Permission.EXPORT_DATA,
}

#: The authorization matrix. Administrators may do everything but read the audit log, which
#: is the auditors' alone (nobody audits their own actions).
PERMISSIONS: Mapping[Role, frozenset[Permission]] = MappingProxyType(
    {
        Role.OPERATOR: _OPERATOR,
        Role.SUPERVISOR: _SUPERVISOR,
        Role.ADMIN: frozenset(Permission) - {Permission.READ_AUDIT},
        Role.AUDITOR: frozenset(
            {
                Permission.READ_AUDIT,
                Permission.READ_STATISTICS,
                Permission.EXPORT_DATA,
                Permission.READ_TAXONOMY,
            }
        ),
        Role.PATROL: frozenset(
            {
                Permission.REPORT_FROM_PATROL,
                Permission.UPDATE_OWN_UNIT,
                Permission.READ_TAXONOMY,
            }
        ),
    }
)


def may(role: Role, permission: Permission) -> bool:
    """Return whether a role has a permission."""
    return permission in PERMISSIONS[role]


@dataclass(frozen=True, slots=True, kw_only=True)
class Principal:
    """The user a request acts for, and the token label (or session) it used."""

    user: str
    role: Role
    token_label: str

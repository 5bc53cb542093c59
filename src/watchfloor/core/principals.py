"""Who acts: users, their roles, and the principal an API request runs as."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

__all__ = ["Principal", "Role"]


class Role(StrEnum):
    """What a user may do; the authorization matrix lives with the API."""

    OPERATOR = "operator"
    SUPERVISOR = "supervisor"
    ADMIN = "admin"
    AUDITOR = "auditor"


@dataclass(frozen=True, slots=True, kw_only=True)
class Principal:
    """The user a request acts for, and the token label it used."""

    user: str
    role: Role
    token_label: str

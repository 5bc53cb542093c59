"""The port of the site records' store: sites, zone lists, call lists, passphrases, schedules."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from watchfloor.core.ports import AuditedStore
from watchfloor.core.schedules import Schedule
from watchfloor.core.sites import Contact, Site, Zone

__all__ = ["SiteStore"]


class SiteStore(AuditedStore, Protocol):
    """Site records (``store.sites.SqlSiteStore``). Passphrases go in and out as hashes only."""

    async def list_sites(self) -> list[Site]:
        """Every site, by name."""
        ...

    async def get_site(self, name: str) -> Site:
        """One site; NotFoundError when there is none."""
        ...

    async def add_site(self, site: Site) -> Site:
        """Create a site; ConflictError when the name is taken."""
        ...

    async def replace_site(self, site: Site) -> Site:
        """Replace a site's record (not its passphrases); NotFoundError when there is none."""
        ...

    async def set_passphrases(
        self,
        site: str,
        contact_id: int | None,
        *,
        passphrase_hash: str | None,
        duress_hash: str | None,
    ) -> None:
        """Set the site's (or one of its contacts') hashes; None keeps the stored one."""
        ...

    async def passphrase_hashes(
        self, site: str, contact_id: int | None
    ) -> tuple[str | None, str | None]:
        """The (passphrase, duress) hashes of the site or of one of its contacts."""
        ...

    async def list_zones(self, device: str) -> list[Zone]:
        """A device's zone list, by zone; ``device`` is a DC-09 account or a device name."""
        ...

    async def replace_zones(self, device: str, new: Sequence[Zone]) -> list[Zone]:
        """Replace a device's whole zone list; NotFoundError when there is no such device."""
        ...

    async def list_contacts(self, site: str) -> list[Contact]:
        """The site's call list, in order."""
        ...

    async def replace_contacts(self, site: str, new: Sequence[Contact]) -> list[Contact]:
        """Replace the call list; a contact left out is deleted, one with id 0 added."""
        ...

    async def remove_contact(self, site: str, contact_id: int) -> None:
        """Delete one contact of the site; NotFoundError when there is none."""
        ...

    async def list_schedules(self, site: str) -> list[Schedule]:
        """The site's schedules, the whole site's first, then by partition."""
        ...

    async def replace_schedule(self, schedule: Schedule) -> Schedule:
        """Store a site's (or partition's) schedule in place of the one it had."""
        ...

    async def count_contacts(self) -> int:
        """How many contact records are kept (the transparency register)."""
        ...

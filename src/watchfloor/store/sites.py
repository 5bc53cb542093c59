"""The SQL store of site records: sites, zone lists, call lists, passphrase hashes, schedules.

JSON columns hold the nested values (phones, call windows, schedule windows and exceptions)
in the shapes the migration names. A device is named by its DC-09 account, else by its name.
A contact left out of a replaced call list is deleted: contacts are personal data, not kept
once removed.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import date, time, timedelta
from typing import Any

from sqlalchemy import Row, delete, func, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from watchfloor.core.errors import ConflictError, NotFoundError
from watchfloor.core.schedules import Schedule, ScheduleException, WeeklyWindow
from watchfloor.core.sites import (
    CallWindow,
    Contact,
    ContactRole,
    EmergencyNumbers,
    Phone,
    Site,
    Zone,
    ZoneKind,
)
from watchfloor.store._errors import translate_errors
from watchfloor.store._unit import AuditedUnit
from watchfloor.store.tables import contacts, devices, site_schedules, sites, zones

__all__ = ["SqlSiteStore", "contact_values", "schedule_values", "site_values"]


class SqlSiteStore(AuditedUnit):
    """Site records on SQLite or PostgreSQL; implements ``core.site_records.SiteStore``.

    Each method is one short transaction (or part of an ``audited`` unit) and translates
    driver errors: StoreUnavailableError, and ConflictError for a taken name.
    """

    async def list_sites(self) -> list[Site]:
        """Every site, by name."""
        with translate_errors("read sites"):
            async with self._connect() as connection:
                rows = await connection.execute(select(sites).order_by(sites.c.name))
                return [site_from_row(row) for row in rows]

    async def get_site(self, name: str) -> Site:
        """One site; NotFoundError when there is none."""
        with translate_errors(f"read site {name}"):
            async with self._connect() as connection:
                return site_from_row(await _site_row(connection, name))

    async def add_site(self, site: Site) -> Site:
        """Create a site; ConflictError when the name is taken. Not idempotent."""
        with translate_errors(f"add site {site.name}"):
            async with self._write() as connection:
                taken = await connection.scalar(select(sites.c.id).where(sites.c.name == site.name))
                if taken is not None:
                    raise ConflictError(f"site {site.name} exists already")
                now = self._clock.now()
                await connection.execute(
                    sites.insert().values(**site_values(site), created_at=now, updated_at=now)
                )
                return site_from_row(await _site_row(connection, site.name))

    async def replace_site(self, site: Site) -> Site:
        """Replace a site's record but its passphrases; NotFoundError when there is none."""
        with translate_errors(f"change site {site.name}"):
            async with self._write() as connection:
                result = await connection.execute(
                    update(sites)
                    .where(sites.c.name == site.name)
                    .values(**site_values(site), updated_at=self._clock.now())
                )
                if result.rowcount == 0:
                    raise NotFoundError(f"no site {site.name}")
                return site_from_row(await _site_row(connection, site.name))

    async def set_passphrases(
        self,
        site: str,
        contact_id: int | None,
        *,
        passphrase_hash: str | None,
        duress_hash: str | None,
    ) -> None:
        """Set the site's (or a contact's) passphrase hashes; None keeps the stored one.

        Raises:
            NotFoundError: no such site, or no such contact of the site.
        """
        values = {
            name: value
            for name, value in (("passphrase_hash", passphrase_hash), ("duress_hash", duress_hash))
            if value is not None
        }
        with translate_errors(f"set passphrases of site {site}"):
            async with self._write() as connection:
                site_id = (await _site_row(connection, site)).id
                now = self._clock.now()
                if contact_id is None:
                    statement = update(sites).where(sites.c.id == site_id)
                else:
                    statement = update(contacts).where(
                        contacts.c.id == contact_id, contacts.c.site_id == site_id
                    )
                result = await connection.execute(statement.values(**values, updated_at=now))
                if result.rowcount == 0:
                    raise NotFoundError(f"site {site} has no contact {contact_id}")

    async def passphrase_hashes(
        self, site: str, contact_id: int | None
    ) -> tuple[str | None, str | None]:
        """The (passphrase, duress) hashes of the site or of one of its contacts.

        Raises:
            NotFoundError: no such site, or no such contact of the site.
        """
        with translate_errors(f"read passphrases of site {site}"):
            async with self._connect() as connection:
                row = await _site_row(connection, site)
                if contact_id is None:
                    return row.passphrase_hash, row.duress_hash
                found = (
                    await connection.execute(
                        select(contacts.c.passphrase_hash, contacts.c.duress_hash).where(
                            contacts.c.id == contact_id, contacts.c.site_id == row.id
                        )
                    )
                ).first()
                if found is None:
                    raise NotFoundError(f"site {site} has no contact {contact_id}")
                return found.passphrase_hash, found.duress_hash

    async def list_zones(self, device: str) -> list[Zone]:
        """A device's zone list, by zone; NotFoundError when there is no such device."""
        with translate_errors(f"read zones of {device}"):
            async with self._connect() as connection:
                device_id = await _device_id(connection, device)
                rows = await connection.execute(
                    select(zones).where(zones.c.device_id == device_id).order_by(zones.c.zone)
                )
                return [zone_from_row(device, row) for row in rows]

    async def replace_zones(self, device: str, new: Sequence[Zone]) -> list[Zone]:
        """Replace a device's whole zone list; idempotent.

        Raises:
            NotFoundError: no such device.
            ConflictError: a zone is listed twice.
        """
        with translate_errors(f"replace zones of {device}"):
            async with self._write() as connection:
                device_id = await _device_id(connection, device)
                await connection.execute(delete(zones).where(zones.c.device_id == device_id))
                if new:
                    await connection.execute(
                        zones.insert(), [zone_values(device_id, zone) for zone in new]
                    )
        return sorted((_rename(z, device) for z in new), key=lambda z: z.zone)

    async def list_contacts(self, site: str) -> list[Contact]:
        """The site's call list in order; NotFoundError when there is no such site."""
        with translate_errors(f"read contacts of {site}"):
            async with self._connect() as connection:
                site_id = (await _site_row(connection, site)).id
                return await _contacts_of(connection, site_id)

    async def replace_contacts(self, site: str, new: Sequence[Contact]) -> list[Contact]:
        """Replace the call list, in the order given.

        A contact carrying the id of one of the site's contacts updates it (its passphrases
        stay); id 0 adds one; the site's contacts left out are deleted.

        Raises:
            NotFoundError: no such site, or an id that is not one of the site's contacts.
        """
        with translate_errors(f"replace contacts of {site}"):
            async with self._write() as connection:
                site_id = (await _site_row(connection, site)).id
                stored = {
                    row.id
                    for row in await connection.execute(
                        select(contacts.c.id).where(contacts.c.site_id == site_id)
                    )
                }
                unknown = sorted({c.id for c in new if c.id} - stored)
                if unknown:
                    raise NotFoundError(f"site {site} has no contact {unknown[0]}")
                kept = {c.id for c in new if c.id}
                gone = stored - kept
                if gone:
                    await connection.execute(delete(contacts).where(contacts.c.id.in_(gone)))
                now = self._clock.now()
                for position, contact in enumerate(new):
                    values = contact_values(contact, position=position) | {"updated_at": now}
                    if contact.id:
                        await connection.execute(
                            update(contacts).where(contacts.c.id == contact.id).values(**values)
                        )
                    else:
                        await connection.execute(insert(contacts).values(**values, site_id=site_id))
                return await _contacts_of(connection, site_id)

    async def remove_contact(self, site: str, contact_id: int) -> None:
        """Delete one contact of the site; NotFoundError when there is none."""
        with translate_errors(f"remove contact {contact_id} of {site}"):
            async with self._write() as connection:
                site_id = (await _site_row(connection, site)).id
                result = await connection.execute(
                    delete(contacts).where(
                        contacts.c.id == contact_id, contacts.c.site_id == site_id
                    )
                )
                if result.rowcount == 0:
                    raise NotFoundError(f"site {site} has no contact {contact_id}")

    async def list_schedules(self, site: str) -> list[Schedule]:
        """The site's schedules, the whole site's first, then by partition."""
        with translate_errors(f"read schedules of {site}"):
            async with self._connect() as connection:
                row = await _site_row(connection, site)
                rows = await connection.execute(
                    select(site_schedules)
                    .where(site_schedules.c.site_id == row.id)
                    .order_by(site_schedules.c.partition)
                )
                return [schedule_from_row(site, row.time_zone, r) for r in rows]

    async def replace_schedule(self, schedule: Schedule) -> Schedule:
        """Store a site's (or partition's) schedule in place of the one it had; idempotent.

        The schedule's ``time_zone`` is the site's: it is read from the site, not stored.

        Raises:
            NotFoundError: no such site.
        """
        with translate_errors(f"replace the schedule of {schedule.site}"):
            async with self._write() as connection:
                row = await _site_row(connection, schedule.site)
                partition = schedule.partition or ""
                await connection.execute(
                    delete(site_schedules).where(
                        site_schedules.c.site_id == row.id,
                        site_schedules.c.partition == partition,
                    )
                )
                await connection.execute(
                    site_schedules.insert().values(
                        **schedule_values(schedule), site_id=row.id, updated_at=self._clock.now()
                    )
                )
                return Schedule(
                    site=schedule.site,
                    partition=schedule.partition,
                    time_zone=row.time_zone,
                    windows=schedule.windows,
                    exceptions=schedule.exceptions,
                    close_grace=schedule.close_grace,
                    open_grace=schedule.open_grace,
                )

    async def count_contacts(self) -> int:
        """How many contact records are kept (for the transparency register)."""
        with translate_errors("count contacts"):
            async with self._connect() as connection:
                return int(await connection.scalar(select(func.count()).select_from(contacts)) or 0)


async def _site_row(connection: AsyncConnection, name: str) -> Row[Any]:
    row = (await connection.execute(select(sites).where(sites.c.name == name))).first()
    if row is None:
        raise NotFoundError(f"no site {name}")
    return row


async def _device_id(connection: AsyncConnection, device: str) -> int:
    # A DC-09 account first (what panels and the CSV name), then a device's name.
    rows = await connection.execute(
        select(devices.c.id, devices.c.account)
        .where(or_(devices.c.account == device, devices.c.name == device))
        .order_by(devices.c.id)
    )
    found = sorted(rows, key=lambda row: row.account != device)
    if not found:
        raise NotFoundError(f"no device or account {device}")
    device_id: int = found[0].id
    return device_id


async def _contacts_of(connection: AsyncConnection, site_id: int) -> list[Contact]:
    rows = await connection.execute(
        select(contacts)
        .where(contacts.c.site_id == site_id)
        .order_by(contacts.c.position, contacts.c.id)
    )
    return [contact_from_row(row) for row in rows]


def _rename(zone: Zone, device: str) -> Zone:
    return Zone(
        device=device, zone=zone.zone, description=zone.description, kind=zone.kind, area=zone.area
    )


def site_values(site: Site) -> dict[str, Any]:
    """The column values of a site's record (not its passphrases, nor its timestamps)."""
    return {
        "name": site.name,
        "address": site.address,
        "latitude": site.latitude,
        "longitude": site.longitude,
        "time_zone": site.time_zone,
        "customer_ref": site.customer_ref,
        "police_number": site.emergency.police,
        "fire_number": site.emergency.fire,
        "ambulance_number": site.emergency.ambulance,
        "instructions": site.instructions,
        "decommissioned_at": site.decommissioned_at,
    }


def site_from_row(row: Row[Any]) -> Site:
    """The site stored in a row of ``sites``."""
    m = row._mapping
    return Site(
        name=m["name"],
        address=m["address"],
        latitude=m["latitude"],
        longitude=m["longitude"],
        time_zone=m["time_zone"],
        customer_ref=m["customer_ref"],
        emergency=EmergencyNumbers(
            police=m["police_number"], fire=m["fire_number"], ambulance=m["ambulance_number"]
        ),
        instructions=m["instructions"],
        has_passphrase=m["passphrase_hash"] is not None,
        has_duress=m["duress_hash"] is not None,
        decommissioned_at=m["decommissioned_at"],
        updated_at=m["updated_at"],
    )


def zone_values(device_id: int, zone: Zone) -> dict[str, Any]:
    """The column values of a zone of a device."""
    return {
        "device_id": device_id,
        "zone": zone.zone,
        "description": zone.description,
        "kind": zone.kind.value,
        "area": zone.area,
    }


def zone_from_row(device: str, row: Row[Any]) -> Zone:
    """The zone stored in a row of ``zones``."""
    return Zone(
        device=device,
        zone=row.zone,
        description=row.description,
        kind=ZoneKind(row.kind),
        area=row.area,
    )


def _clock_text(value: time) -> str:
    return value.strftime("%H:%M")


def contact_values(contact: Contact, *, position: int) -> dict[str, Any]:
    """The column values of a contact at a position of the call list (no hashes, no site)."""
    return {
        "position": position,
        "name": contact.name,
        "role": contact.role.value,
        "phones": json.dumps([{"label": p.label, "number": p.number} for p in contact.phones]),
        "call_windows": json.dumps(
            [
                {"days": sorted(w.days), "from": _clock_text(w.start), "to": _clock_text(w.end)}
                for w in contact.call_windows
            ]
        ),
    }


def contact_from_row(row: Row[Any]) -> Contact:
    """The contact stored in a row of ``contacts``."""
    m = row._mapping
    return Contact(
        id=m["id"],
        name=m["name"],
        role=ContactRole(m["role"]),
        phones=tuple(Phone(label=p["label"], number=p["number"]) for p in json.loads(m["phones"])),
        call_windows=tuple(
            CallWindow(
                days=frozenset(w["days"]),
                start=time.fromisoformat(w["from"]),
                end=time.fromisoformat(w["to"]),
            )
            for w in json.loads(m["call_windows"])
        ),
        position=m["position"],
        has_passphrase=m["passphrase_hash"] is not None,
        has_duress=m["duress_hash"] is not None,
    )


def schedule_values(schedule: Schedule) -> dict[str, Any]:
    """The column values of a schedule (no site, no time stamp)."""
    return {
        "partition": schedule.partition or "",
        "windows": json.dumps(
            [
                {
                    "weekday": w.weekday,
                    "opens": _clock_text(w.opens),
                    "closes": _clock_text(w.closes),
                }
                for w in schedule.windows
            ]
        ),
        "exceptions": json.dumps(
            [
                {
                    "day": e.day.isoformat(),
                    "opens": None if e.opens is None else _clock_text(e.opens),
                    "closes": None if e.closes is None else _clock_text(e.closes),
                    "note": e.note,
                }
                for e in schedule.exceptions
            ]
        ),
        "close_grace_seconds": schedule.close_grace.total_seconds(),
        "open_grace_seconds": None
        if schedule.open_grace is None
        else schedule.open_grace.total_seconds(),
    }


def _maybe_time(value: str | None) -> time | None:
    return None if value is None else time.fromisoformat(value)


def schedule_from_row(site: str, time_zone: str, row: Row[Any]) -> Schedule:
    """The schedule stored in a row of ``site_schedules``."""
    m = row._mapping
    return Schedule(
        site=site,
        partition=m["partition"] or None,
        time_zone=time_zone,
        windows=tuple(
            WeeklyWindow(
                weekday=w["weekday"],
                opens=time.fromisoformat(w["opens"]),
                closes=time.fromisoformat(w["closes"]),
            )
            for w in json.loads(m["windows"])
        ),
        exceptions=tuple(
            ScheduleException(
                day=date.fromisoformat(e["day"]),
                opens=_maybe_time(e["opens"]),
                closes=_maybe_time(e["closes"]),
                note=e["note"],
            )
            for e in json.loads(m["exceptions"])
        ),
        close_grace=timedelta(seconds=m["close_grace_seconds"]),
        open_grace=None
        if m["open_grace_seconds"] is None
        else timedelta(seconds=m["open_grace_seconds"]),
    )

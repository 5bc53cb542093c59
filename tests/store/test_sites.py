"""The site records store: sites, zones, call lists, passphrase hashes, schedules."""

from __future__ import annotations

from datetime import date, time, timedelta

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from support.clock import FakeClock
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
from watchfloor.store import SqlRepository
from watchfloor.store.sites import SqlSiteStore


@pytest.fixture
def site_store(engine: AsyncEngine, clock: FakeClock) -> SqlSiteStore:
    return SqlSiteStore(engine, clock)


def _contact(name: str, cid: int = 0) -> Contact:
    return Contact(
        id=cid,
        name=name,
        role=ContactRole.KEYHOLDER,
        phones=(Phone(label="mobile", number="+44 7700 900123"),),
        call_windows=(CallWindow(days=frozenset({0, 1}), start=time(22), end=time(6)),),
    )


async def test_a_site_made_by_an_account_has_a_default_record(
    repository: SqlRepository, site_store: SqlSiteStore
) -> None:
    await repository.add_account(account="1234", site="Depot", key=None)
    site = await site_store.get_site("Depot")
    assert (site.address, site.time_zone, site.has_passphrase) == (None, "UTC", False)
    assert [s.name for s in await site_store.list_sites()] == ["Depot"]


async def test_sites_are_added_and_replaced(site_store: SqlSiteStore) -> None:
    depot = Site(
        name="Depot",
        address="1 Quay Road",
        latitude=51.5,
        longitude=-0.1,
        time_zone="Europe/London",
        emergency=EmergencyNumbers(police="999"),
        instructions="Dog on premises",
    )
    stored = await site_store.add_site(depot)
    assert stored.address == "1 Quay Road"
    assert stored.emergency.police == "999"
    with pytest.raises(ConflictError):
        await site_store.add_site(depot)
    changed = await site_store.replace_site(Site(name="Depot", time_zone="Europe/Paris"))
    assert (changed.time_zone, changed.address) == ("Europe/Paris", None)
    with pytest.raises(NotFoundError):
        await site_store.replace_site(Site(name="Nowhere"))
    with pytest.raises(NotFoundError):
        await site_store.get_site("Nowhere")


async def test_zones_are_replaced_per_device(
    repository: SqlRepository, site_store: SqlSiteStore
) -> None:
    await repository.add_account(account="1234", site="Depot", key=None, name="panel")
    rear = Zone(device="1234", zone="005", description="Rear door", kind=ZoneKind.DOOR_CONTACT)
    hall = Zone(device="1234", zone="001", description="Hall PIR", kind=ZoneKind.PIR, area="GF")
    await site_store.replace_zones("1234", [rear, hall])
    assert [z.zone for z in await site_store.list_zones("1234")] == ["001", "005"]
    # By the device's name too.
    assert [z.description for z in await site_store.list_zones("panel")] == [
        "Hall PIR",
        "Rear door",
    ]
    await site_store.replace_zones("1234", [rear])
    assert await site_store.list_zones("1234") == [rear]
    with pytest.raises(NotFoundError):
        await site_store.replace_zones("9999", [rear])


async def test_contacts_are_replaced_in_order_and_removed_ones_deleted(
    site_store: SqlSiteStore,
) -> None:
    await site_store.add_site(Site(name="Depot"))
    first = await site_store.replace_contacts("Depot", [_contact("Jane Doe"), _contact("Sam Roe")])
    assert [c.name for c in first] == ["Jane Doe", "Sam Roe"]
    jane, sam = first
    assert jane.call_windows == _contact("x").call_windows
    await site_store.set_passphrases("Depot", jane.id, passphrase_hash="h1", duress_hash="h2")
    # Reordered, Sam dropped, one added: Jane keeps her id and hashes.
    second = await site_store.replace_contacts("Depot", [_contact("Ann Poe"), jane])
    assert [(c.name, c.position) for c in second] == [("Ann Poe", 0), ("Jane Doe", 1)]
    assert second[1].id == jane.id
    assert second[1].has_passphrase
    assert await site_store.passphrase_hashes("Depot", jane.id) == ("h1", "h2")
    with pytest.raises(NotFoundError):
        await site_store.passphrase_hashes("Depot", sam.id)
    assert await site_store.count_contacts() == 2
    with pytest.raises(NotFoundError):
        await site_store.replace_contacts("Depot", [_contact("X", cid=sam.id)])
    await site_store.remove_contact("Depot", second[0].id)
    assert [c.name for c in await site_store.list_contacts("Depot")] == ["Jane Doe"]
    with pytest.raises(NotFoundError):
        await site_store.remove_contact("Depot", second[0].id)


async def test_site_passphrases_are_kept_as_given_hashes(site_store: SqlSiteStore) -> None:
    await site_store.add_site(Site(name="Depot"))
    await site_store.set_passphrases("Depot", None, passphrase_hash="h1", duress_hash=None)
    assert await site_store.passphrase_hashes("Depot", None) == ("h1", None)
    await site_store.set_passphrases("Depot", None, passphrase_hash=None, duress_hash="h2")
    assert await site_store.passphrase_hashes("Depot", None) == ("h1", "h2")
    site = await site_store.get_site("Depot")
    assert (site.has_passphrase, site.has_duress) == (True, True)
    with pytest.raises(NotFoundError):
        await site_store.set_passphrases("Depot", 999, passphrase_hash="h", duress_hash=None)


async def test_schedules_are_replaced_per_partition(site_store: SqlSiteStore) -> None:
    await site_store.add_site(Site(name="Depot", time_zone="Europe/London"))
    weekdays = tuple(WeeklyWindow(weekday=day, opens=time(8), closes=time(18)) for day in range(5))
    whole = Schedule(
        site="Depot",
        partition=None,
        time_zone="UTC",
        windows=weekdays,
        exceptions=(ScheduleException(day=date(2026, 12, 25), note="Christmas"),),
        close_grace=timedelta(minutes=20),
    )
    stored = await site_store.replace_schedule(whole)
    assert stored.time_zone == "Europe/London"
    night = Schedule(
        site="Depot",
        partition="2",
        time_zone="Europe/London",
        windows=(WeeklyWindow(weekday=5, opens=time(22), closes=time(6)),),
        exceptions=(ScheduleException(day=date(2026, 12, 31), opens=time(20), closes=time(2)),),
        open_grace=timedelta(minutes=5),
    )
    await site_store.replace_schedule(night)
    await site_store.replace_schedule(night)
    schedules = await site_store.list_schedules("Depot")
    assert schedules == [
        Schedule(
            site="Depot",
            partition=None,
            time_zone="Europe/London",
            windows=weekdays,
            exceptions=whole.exceptions,
            close_grace=timedelta(minutes=20),
        ),
        night,
    ]

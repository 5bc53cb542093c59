"""Administration of DC-09 accounts: list, update (site, name, key, supervision), delete."""

from __future__ import annotations

import logging
from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from support.clock import FakeClock
from support.factories import dc09_signal
from watchfloor.core.devices import AccountUpdate, DeviceKind
from watchfloor.core.errors import ConflictError, NotFoundError
from watchfloor.store import GroupCommitWriter, SqlRepository
from watchfloor.store.tables import devices, signals

KEY = bytes(range(16))
NEW_KEY = bytes(range(100, 132))


async def test_list_accounts_orders_dc09_accounts_by_account(
    repository: SqlRepository, engine: AsyncEngine, clock: FakeClock
) -> None:
    for account in ("2", "10", "1"):
        await repository.add_account(account=account, site=None, key=None)
    async with engine.begin() as connection:
        await connection.execute(
            devices.insert().values(
                kind=DeviceKind.HIKVISION.value, name="cam", created_at=clock.now()
            )
        )

    accounts = await repository.list_accounts()

    assert [device.account for device in accounts] == ["1", "10", "2"]
    assert all(device.kind is DeviceKind.DC09 for device in accounts)


async def test_registered_accounts_are_the_dc09_accounts_and_no_other_device(
    repository: SqlRepository, engine: AsyncEngine, clock: FakeClock
) -> None:
    assert await repository.registered_accounts() == frozenset()
    for account in ("1234", "ABC123"):
        await repository.add_account(account=account, site=None, key=None)
    async with engine.begin() as connection:
        await connection.execute(
            devices.insert().values(
                kind=DeviceKind.HIKVISION.value, name="cam", created_at=clock.now()
            )
        )
    await repository.delete_account("1234")

    assert await repository.registered_accounts() == frozenset({"ABC123"})


async def test_list_accounts_of_an_empty_store_is_empty(repository: SqlRepository) -> None:
    assert await repository.list_accounts() == []


async def test_update_account_moves_it_to_a_site_created_by_name(
    repository: SqlRepository,
) -> None:
    await repository.add_account(account="1", site="HQ", key=None)
    await repository.add_account(account="2", site="HQ", key=None)

    moved = await repository.update_account("1", AccountUpdate(site="Depot"))
    joined = await repository.update_account("2", AccountUpdate(site="Depot"))

    assert (moved.site, joined.site) == ("Depot", "Depot")
    assert await repository.find_account("1") == moved


async def test_update_account_renames_and_disables_leaving_the_rest(
    repository: SqlRepository,
) -> None:
    before = await repository.add_account(account="1", site="HQ", key=KEY)

    after = await repository.update_account("1", AccountUpdate(name="back door", enabled=False))

    assert (after.name, after.enabled) == ("back door", False)
    assert (after.id, after.site, after.has_key, after.created_at) == (
        before.id,
        before.site,
        True,
        before.created_at,
    )
    enabled = await repository.update_account("1", AccountUpdate(enabled=True))
    assert enabled.enabled


async def test_an_empty_update_changes_nothing(repository: SqlRepository) -> None:
    before = await repository.add_account(account="1", site="HQ", key=KEY)

    assert await repository.update_account("1", AccountUpdate()) == before
    assert await repository.account_key("1") == KEY


async def test_rotating_the_key_serves_the_new_key_and_never_logs_it(
    repository: SqlRepository, caplog: pytest.LogCaptureFixture
) -> None:
    await repository.add_account(account="1", site=None, key=KEY)
    await repository.add_account(account="2", site=None, key=None, name="taken")
    # Statement logging on, as an operator debugging the store would have it.
    caplog.set_level(logging.DEBUG)
    logging.getLogger("sqlalchemy.engine").setLevel(logging.INFO)
    try:
        rotated = await repository.update_account("1", AccountUpdate(key=NEW_KEY))
        with pytest.raises(ConflictError) as failure:
            await repository.update_account("1", AccountUpdate(key=KEY, name="taken"))
    finally:
        logging.getLogger("sqlalchemy.engine").setLevel(logging.WARNING)

    assert rotated.has_key
    assert await repository.account_key("1") == NEW_KEY
    assert "UPDATE devices" in caplog.text  # the statements were logged, the values not
    error_text = f"{failure.value} {failure.value.__cause__}"
    for key in (KEY, NEW_KEY):
        for form in (key.hex(), repr(key), key.hex().upper()):
            assert form not in caplog.text
            assert form not in error_text


async def test_clearing_the_key_leaves_the_account_unencrypted(
    repository: SqlRepository,
) -> None:
    await repository.add_account(account="1", site=None, key=KEY)

    cleared = await repository.update_account("1", AccountUpdate(clear_key=True))

    assert not cleared.has_key
    assert await repository.account_key("1") is None


async def test_renaming_to_the_name_of_another_account_is_a_conflict(
    repository: SqlRepository,
) -> None:
    await repository.add_account(account="1", site=None, key=None, name="front")
    await repository.add_account(account="2", site=None, key=None, name="back")

    with pytest.raises(ConflictError):
        await repository.update_account("2", AccountUpdate(name="front", site="New site"))

    after = await repository.find_account("2")
    assert after is not None
    assert (after.name, after.site) == ("back", None)


@pytest.mark.parametrize(
    "change",
    [
        AccountUpdate(key=KEY, clear_key=True),
        AccountUpdate(supervision_interval=timedelta(minutes=5), clear_supervision=True),
        AccountUpdate(supervision_grace=timedelta(seconds=5), clear_supervision=True),
        AccountUpdate(supervision_interval=timedelta(0)),
        AccountUpdate(supervision_grace=timedelta(seconds=-1)),
    ],
)
async def test_a_contradictory_or_invalid_change_is_refused(
    repository: SqlRepository, change: AccountUpdate
) -> None:
    await repository.add_account(account="1", site=None, key=KEY)

    with pytest.raises(ValueError, match=r"key|supervision") as failure:
        await repository.update_account("1", change)

    assert KEY.hex() not in str(failure.value)
    assert await repository.account_key("1") == KEY


async def test_supervision_is_set_from_now_and_cleared(
    repository: SqlRepository, clock: FakeClock
) -> None:
    await repository.add_account(account="1", site=None, key=None)

    supervised = await repository.update_account(
        "1",
        AccountUpdate(
            supervision_interval=timedelta(minutes=10), supervision_grace=timedelta(seconds=45)
        ),
    )
    clock.advance(60)
    regraced = await repository.update_account(
        "1", AccountUpdate(supervision_grace=timedelta(seconds=90))
    )
    cleared = await repository.update_account("1", AccountUpdate(clear_supervision=True))

    assert (supervised.supervision_interval, supervised.supervision_grace) == (
        timedelta(minutes=10),
        timedelta(seconds=45),
    )
    assert (regraced.supervision_interval, regraced.supervision_grace) == (
        timedelta(minutes=10),
        timedelta(seconds=90),
    )
    assert (cleared.supervision_interval, cleared.supervision_grace, cleared.link_lost_at) == (
        None,
        None,
        None,
    )


async def test_add_account_starts_unsupervised(repository: SqlRepository) -> None:
    device = await repository.add_account(account="1", site=None, key=None)

    assert (device.supervision_interval, device.supervision_grace, device.link_lost_at) == (
        None,
        None,
        None,
    )


async def test_changing_or_deleting_an_unknown_account_is_not_found(
    repository: SqlRepository,
) -> None:
    await repository.add_account(account="1", site=None, key=None)

    with pytest.raises(NotFoundError):
        await repository.update_account("9", AccountUpdate(name="x"))
    with pytest.raises(NotFoundError):
        await repository.update_account("9", AccountUpdate())
    with pytest.raises(NotFoundError):
        await repository.delete_account("9")
    assert [device.account for device in await repository.list_accounts()] == ["1"]


async def test_delete_account_keeps_its_signals_and_alarms(
    repository: SqlRepository, writer: GroupCommitWriter, engine: AsyncEngine, clock: FakeClock
) -> None:
    await repository.add_account(account="1234", site="HQ", key=None, name="HQ panel")
    (record,) = await writer.submit([dc09_signal(at=clock.now())])
    assert record is not None
    assert record.alarm_id is not None

    await repository.delete_account("1234")

    assert await repository.find_account("1234") is None
    assert await repository.list_accounts() == []
    with pytest.raises(NotFoundError):
        await repository.delete_account("1234")
    assert await repository.list_signals(device="1234", alarm_id=None, limit=5, after=None) == [
        record
    ]
    detail = await repository.get_alarm(record.alarm_id)
    assert (detail.alarm.device, detail.alarm.site) == ("HQ panel", "HQ")
    assert detail.signals == (record,)
    async with engine.connect() as connection:
        device_ids = (await connection.execute(select(signals.c.device_id))).scalars().all()
    assert device_ids == [None]


async def test_a_deleted_account_can_be_registered_again(
    repository: SqlRepository, writer: GroupCommitWriter, clock: FakeClock
) -> None:
    await repository.add_account(account="1234", site="HQ", key=KEY)
    await writer.submit([dc09_signal(at=clock.now())])
    await repository.delete_account("1234")

    again = await repository.add_account(account="1234", site="Depot", key=None)

    assert (again.site, again.has_key) == ("Depot", False)
    assert await repository.account_key("1234") is None

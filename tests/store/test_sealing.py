"""Secrets sealed at rest, on SQLite and PostgreSQL: the key file, sealing, sweeps, rotation."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from support.clock import FakeClock
from watchfloor.core.cameras import CameraRegistration
from watchfloor.core.devices import DeviceKind
from watchfloor.core.errors import SecretKeyError
from watchfloor.core.principals import Role
from watchfloor.store import SqlRepository, migrate, open_engine
from watchfloor.store.cameras import SqlCameraStore
from watchfloor.store.reseal import CLEAR, count_sealed
from watchfloor.store.sealing import KEY_FILE, SecretKeys, sealed_key_id
from watchfloor.store.users import SqlUsers

AES_KEY = bytes.fromhex("00112233445566778899aabbccddeeff")
PASSWORD = "camera-password-5521"
TOTP = "KRSXG5CTMVRXEZLUKRSXG5CTMVRXEZLU"


async def _store_all(engine: AsyncEngine, clock: FakeClock) -> None:
    await SqlRepository(engine, clock).add_account(account="1234", site=None, key=AES_KEY)
    await SqlCameraStore(engine, clock).add_camera(
        CameraRegistration(
            kind=DeviceKind.HIKVISION,
            name="yard",
            site=None,
            url="http://192.0.2.5",
            username="admin",
            password=PASSWORD,
            pull=True,
        )
    )
    users = SqlUsers(engine, clock)
    await users.add_user(name="alice", role=Role.OPERATOR, password_hash=None, now=clock.now())
    await users.set_totp("alice", secret=TOTP, pending="PENDINGSECRET")


async def _raw(engine: AsyncEngine) -> list[str]:
    async with engine.connect() as connection:
        rows = [
            *(await connection.execute(text("SELECT aes_key FROM devices"))),
            *(await connection.execute(text("SELECT password FROM camera_devices"))),
            *(await connection.execute(text("SELECT totp_secret, totp_pending FROM users"))),
        ]
    values = [value for row in rows for value in row if value is not None]
    return [bytes(v).decode("latin-1") if isinstance(v, bytes | memoryview) else v for v in values]


async def _read_all(engine: AsyncEngine, clock: FakeClock) -> tuple[object, ...]:
    key = await SqlRepository(engine, clock).account_key("1234")
    (target,) = await SqlCameraStore(engine, clock).pull_targets()
    user = await SqlUsers(engine, FakeClock()).find_user("alice")
    assert user is not None
    return key, target.password, user.totp_secret, user.totp_pending


async def test_secrets_are_stored_sealed_and_read_back_in_clear(
    engine: AsyncEngine, clock: FakeClock, keys: SecretKeys
) -> None:
    await _store_all(engine, clock)

    raw = await _raw(engine)
    assert len(raw) == 4
    assert all(value.startswith(f"enc:v1:{keys.primary_id}:") for value in raw)
    assert not any(secret in value for value in raw for secret in (PASSWORD, TOTP))
    assert AES_KEY.decode("latin-1") not in "".join(raw)
    assert await _read_all(engine, clock) == (AES_KEY, PASSWORD, TOTP, "PENDINGSECRET")
    assert await count_sealed(engine) == {keys.primary_id: 4}


async def test_a_sealed_value_moved_to_another_column_does_not_open(
    engine: AsyncEngine, clock: FakeClock
) -> None:
    await _store_all(engine, clock)
    async with engine.begin() as connection:
        await connection.execute(text("UPDATE users SET totp_secret = totp_pending"))

    with pytest.raises(SecretKeyError, match=r"users\.totp_secret"):
        await SqlUsers(engine, FakeClock()).find_user("alice")


async def test_a_store_without_the_key_file_neither_writes_nor_reads_secrets(
    engine: AsyncEngine, store_url: str, clock: FakeClock
) -> None:
    await _store_all(engine, clock)
    keyless = open_engine(store_url)
    try:
        repository = SqlRepository(keyless, clock)
        with pytest.raises(SecretKeyError, match="without the secrets key file"):
            await repository.account_key("1234")
        with pytest.raises(SecretKeyError, match="without the secrets key file"):
            await repository.add_account(account="5678", site=None, key=AES_KEY)
        await repository.add_account(account="9999", site=None, key=None)  # no secret: fine
    finally:
        await keyless.dispose()


async def test_another_key_file_cannot_open_the_secrets(
    engine: AsyncEngine, store_url: str, clock: FakeClock, tmp_path: Path
) -> None:
    await _store_all(engine, clock)
    other = open_engine(store_url, keys=SecretKeys.load_or_create(tmp_path / "other.keys"))
    try:
        with pytest.raises(SecretKeyError, match="restore the key file"):
            await migrate(other)
        with pytest.raises(SecretKeyError, match="does not hold"):
            await SqlRepository(other, clock).account_key("1234")
    finally:
        await other.dispose()


async def test_migrate_seals_clear_values_once(
    engine: AsyncEngine, clock: FakeClock, keys: SecretKeys
) -> None:
    await _store_all(engine, clock)
    async with engine.begin() as connection:  # as a version before sealing left them
        await connection.execute(
            text("UPDATE camera_devices SET password = :password"), {"password": PASSWORD}
        )
        await connection.execute(text("UPDATE users SET totp_pending = NULL"))
    assert (await count_sealed(engine))[CLEAR] == 1

    await migrate(engine)
    assert await count_sealed(engine) == {keys.primary_id: 3}
    before = await _raw(engine)
    await migrate(engine)  # idempotent: nothing left to seal, nothing rewritten
    assert await _raw(engine) == before
    assert await _read_all(engine, clock) == (AES_KEY, PASSWORD, TOTP, None)


async def test_rotation_re_seals_under_the_new_key_and_old_backups_still_open(
    engine: AsyncEngine, store_url: str, clock: FakeClock, keys: SecretKeys
) -> None:
    await _store_all(engine, clock)
    old = keys.primary_id
    # Another process (the CLI) rotates the same key file while this engine runs.
    rotated = SecretKeys.load(keys.path)
    new = rotated.add_key()
    assert rotated.key_ids == (old, new)
    other = open_engine(store_url, keys=rotated)
    try:
        await migrate(other)
        assert await count_sealed(other) == {new: 4}
        assert {sealed_key_id(value) for value in await _raw(other)} == {new}
        assert await _read_all(other, clock) == (AES_KEY, PASSWORD, TOTP, "PENDINGSECRET")
    finally:
        await other.dispose()
    # The running engine's ring reads the file again when it meets the new key.
    assert await _read_all(engine, clock) == (AES_KEY, PASSWORD, TOTP, "PENDINGSECRET")
    assert SecretKeys.load(keys.path).primary_id == new


def test_the_key_file_is_made_once_for_its_owner_alone(tmp_path: Path) -> None:
    path = tmp_path / "new-dir" / KEY_FILE
    made = SecretKeys.load_or_create(path)
    again = SecretKeys.load_or_create(path)

    assert again.key_ids == made.key_ids
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    sealed = made.seal(b"secret", "test.column")
    assert again.open(sealed, "test.column") == b"secret"
    assert sealed != made.seal(b"secret", "test.column")  # a fresh nonce each time


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        ("", "holds no key"),
        ("# only a comment\n", "holds no key"),
        ("abc not-base64!\n", "line 1"),
        ("000000000000 " + "A" * 43 + "=\n", "line 1"),  # a key, but not that id's
    ],
)
def test_a_damaged_key_file_is_refused_naming_the_line(
    tmp_path: Path, content: str, problem: str
) -> None:
    path = tmp_path / KEY_FILE
    path.write_text(content, encoding="ascii")
    with pytest.raises(SecretKeyError, match=problem):
        SecretKeys.load(path)


def test_a_missing_key_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(SecretKeyError, match="cannot read the secrets key file"):
        SecretKeys.load(tmp_path / KEY_FILE)


def test_an_altered_sealed_value_does_not_open(tmp_path: Path) -> None:
    keys = SecretKeys.load_or_create(tmp_path / KEY_FILE)
    sealed = keys.seal(b"secret", "test.column")
    altered = sealed[:-4] + ("AAAA" if not sealed.endswith("AAAA") else "BBBB")
    with pytest.raises(SecretKeyError, match="does not decrypt"):
        keys.open(altered, "test.column")
    with pytest.raises(SecretKeyError, match="does not decrypt"):
        keys.open(sealed + "!", "test.column")

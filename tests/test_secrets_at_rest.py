"""Secrets at rest: a private data dir, sealed secrets, a key file apart, and its rotation."""

from __future__ import annotations

import asyncio
import shutil
import sqlite3
import stat
from contextlib import closing
from pathlib import Path

import pytest
from typer.testing import CliRunner

from watchfloor.app import open_platform
from watchfloor.cli import app
from watchfloor.config import HostPort, Settings
from watchfloor.core.cameras import CameraRegistration
from watchfloor.core.devices import DeviceKind
from watchfloor.core.errors import SecretKeyError
from watchfloor.core.principals import Role

runner = CliRunner()

AES_KEY = bytes.fromhex("8f1c2d3e4a5b6c7d8e9fa0b1c2d3e4f5")
CAMERA_PASSWORD = "yard-camera-pass-7731"
TOTP_SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"


def _settings(data_dir: Path) -> Settings:
    return Settings(data_dir=data_dir, dc09=HostPort(host="127.0.0.1", port=0))


async def _store_secrets(data_dir: Path) -> None:
    async with open_platform(_settings(data_dir)) as platform:
        await platform.repository.add_account(account="1234", site="Depot", key=AES_KEY)
        await platform.cameras.add_camera(
            CameraRegistration(
                kind=DeviceKind.HIKVISION,
                name="yard",
                site="Depot",
                url="http://192.0.2.5",
                username="admin",
                password=CAMERA_PASSWORD,
            )
        )
        users = platform.users
        await users.add_user(
            name="alice", role=Role.OPERATOR, password_hash=None, now=platform.handling.clock.now()
        )
        await users.set_totp("alice", secret=TOTP_SECRET, pending=None)
        assert await platform.repository.account_key("1234") == AES_KEY


def _raw(data_dir: Path) -> bytes:
    return b"".join(path.read_bytes() for path in sorted(data_dir.glob("watchfloor.db*")))


def _columns(data_dir: Path) -> list[object]:
    with closing(sqlite3.connect(data_dir / "watchfloor.db")) as database:
        return [
            value
            for query in (
                "SELECT aes_key FROM devices WHERE aes_key IS NOT NULL",
                "SELECT password FROM camera_devices WHERE password IS NOT NULL",
                "SELECT totp_secret FROM users WHERE totp_secret IS NOT NULL",
            )
            for (value,) in database.execute(query)
        ]


async def test_the_database_file_holds_no_secret_in_clear(tmp_path: Path) -> None:
    data_dir = tmp_path / "var"
    await _store_secrets(data_dir)

    raw = _raw(data_dir)
    assert raw  # the database is there, and read whole
    assert AES_KEY not in raw
    assert CAMERA_PASSWORD.encode() not in raw
    assert TOTP_SECRET.encode() not in raw
    values = _columns(data_dir)
    assert len(values) == 3
    assert all(
        (v if isinstance(v, bytes) else str(v).encode()).startswith(b"enc:v1:") for v in values
    )


async def test_the_data_dir_and_its_files_are_the_owners_alone(tmp_path: Path) -> None:
    data_dir = tmp_path / "var"
    async with open_platform(_settings(data_dir)) as platform:
        await platform.repository.add_account(account="1234", site=None, key=AES_KEY)
        files = sorted(path for path in data_dir.iterdir() if path.is_file())
        modes = {path.name: stat.S_IMODE(path.stat().st_mode) for path in files}

    assert stat.S_IMODE(data_dir.stat().st_mode) == 0o700
    assert {"watchfloor.db", "secrets.keys", "audit-signing-key.pem"} <= set(modes)
    assert modes == dict.fromkeys(modes, 0o600)


async def test_a_database_copied_without_its_key_file_gives_no_secret(tmp_path: Path) -> None:
    data_dir = tmp_path / "var"
    await _store_secrets(data_dir)
    elsewhere = tmp_path / "copy"
    elsewhere.mkdir()
    shutil.copy(data_dir / "watchfloor.db", elsewhere / "watchfloor.db")

    with pytest.raises(SecretKeyError, match="restore the key file"):
        async with open_platform(_settings(elsewhere)):
            pass
    # With the key file it belongs to, the copy (a restored backup) opens.
    shutil.copy(data_dir / "secrets.keys", elsewhere / "secrets.keys")
    async with open_platform(_settings(elsewhere)) as platform:
        assert await platform.repository.account_key("1234") == AES_KEY


async def test_secrets_stored_in_clear_before_are_sealed_at_start(tmp_path: Path) -> None:
    data_dir = tmp_path / "var"
    async with open_platform(_settings(data_dir)) as platform:
        await platform.repository.add_account(account="1234", site=None, key=None)
    with closing(sqlite3.connect(data_dir / "watchfloor.db")) as database:
        # As an older version left it: the key in clear.
        database.execute("UPDATE devices SET aes_key = ? WHERE account = '1234'", (AES_KEY,))
        database.commit()
    assert AES_KEY in _raw(data_dir)

    async with open_platform(_settings(data_dir)) as platform:
        assert await platform.repository.account_key("1234") == AES_KEY
    assert AES_KEY not in _raw(data_dir)


def test_rotating_the_key_re_encrypts_and_keeps_secrets_readable(tmp_path: Path) -> None:
    data_dir = tmp_path / "var"
    asyncio.run(_store_secrets(data_dir))
    before = runner.invoke(app, ["secrets", "status", "--data-dir", str(data_dir)])
    assert before.exit_code == 0, before.output
    (old_key,) = [line.split()[0] for line in before.output.splitlines() if "encrypts" in line]
    assert f"{old_key}  encrypts  3 stored secrets" in before.output

    rotated = runner.invoke(app, ["secrets", "rotate-key", "--data-dir", str(data_dir)])
    assert rotated.exit_code == 0, rotated.output
    (new_key,) = [line.split()[2] for line in rotated.output.splitlines() if "new key" in line]
    assert new_key != old_key
    assert f"{new_key}  encrypts  3 stored secrets" in rotated.output
    assert f"{old_key}            0 stored secrets" in rotated.output
    assert all(f":{new_key}:" in str(value) for value in _columns(data_dir))

    async def read() -> bytes | None:
        async with open_platform(_settings(data_dir)) as platform:
            return await platform.repository.account_key("1234")

    assert asyncio.run(read()) == AES_KEY
    assert AES_KEY not in _raw(data_dir)

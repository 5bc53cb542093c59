"""Secrets at rest: the key file, and the column types that encrypt and decrypt secret values.

Theory of operation: the secrets the platform must use in clear (a DC-09 account's AES key, a
camera's password, a user's TOTP secret) are stored encrypted, so that a copy of the database
or of its backup does not give them away. Each value is sealed with AES-256-GCM under a key
kept apart from the database, in a key file (``secrets.keys`` in the data directory, mode
0600, like the audit signing key), and bound to its column (the associated data names it),
so a sealed value copied into another column does not open. A sealed value reads
``enc:v1:<key id>:<base64url(nonce | ciphertext | tag)>``; the prefix tells it from a value
stored in clear before sealing existed, which ``store.reseal`` seals at start-up.

The key file lists keys, one a line as ``<key id> <base64url key>``; the last one seals, all
of them open. Rotation (``add_key``) appends a new key and the start-up sweep re-seals every
value under it; older keys stay to open older backups until someone removes them.

The column types (``SealedBytes``, ``SealedText``) find the keys through the engine they run
on: ``attach_keys`` ties a key ring to an engine's dialect (one dialect per engine), and a
type writing or opening a sealed value without one raises ``SecretKeyError`` rather than
store a secret in clear. Values stored in clear still read back as they are.
"""

from __future__ import annotations

import base64
import binascii
import fcntl
import hashlib
import logging
import os
import secrets
import stat
import weakref
from pathlib import Path
from typing import Final

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy import Dialect, LargeBinary, Text
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.types import TypeDecorator

from watchfloor.core.errors import SecretKeyError

__all__ = [
    "KEY_FILE",
    "SEALED_PREFIX",
    "SealedBytes",
    "SealedText",
    "SecretKeys",
    "attach_keys",
    "is_sealed",
    "keys_of",
    "sealed_key_id",
]

logger = logging.getLogger(__name__)

#: The key file's name in the data directory.
KEY_FILE: Final = "secrets.keys"
#: What every sealed value starts with (v1: AES-256-GCM, 96-bit nonce, column-bound).
SEALED_PREFIX: Final = "enc:v1:"

_KEY_BYTES: Final = 32
_NONCE_BYTES: Final = 12
_ID_HEX: Final = 12
_HEADER: Final = (
    "# watchfloor: the keys that encrypt secrets in the database (AES-256-GCM).\n"
    "# The last key encrypts; every key listed decrypts. Keep this file out of database\n"
    "# backups and back it up apart: without it the stored secrets cannot be read.\n"
)


def _key_id(key: bytes) -> str:
    return hashlib.sha256(b"watchfloor secrets key\x00" + key).hexdigest()[:_ID_HEX]


def _encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode("ascii")


def _decode(text: str) -> bytes:
    # validate: a stray character is an error, not silently skipped.
    return base64.b64decode(text.encode("ascii"), altchars=b"-_", validate=True)


def is_sealed(value: str) -> bool:
    """Return whether a stored value is sealed (not stored in clear)."""
    return value.startswith(SEALED_PREFIX)


def sealed_key_id(value: str) -> str:
    """Return the id of the key a sealed value was sealed with."""
    return value[len(SEALED_PREFIX) :].partition(":")[0]


class SecretKeys:
    """The key ring of one key file: seals with the newest key, opens with any of them.

    A value sealed with a key the ring does not hold makes it read the file again once (a
    rotation by another process, e.g. ``watchfloor secrets rotate-key`` while the server
    runs), then fails with ``SecretKeyError``.
    """

    def __init__(self, path: Path, keys: dict[str, bytes]) -> None:
        if not keys:
            raise SecretKeyError(f"{path}: holds no key")
        self.path = path
        self._keys = dict(keys)

    @classmethod
    def load(cls, path: Path) -> SecretKeys:
        """Read a key file.

        Raises:
            SecretKeyError: the file cannot be read, or a line is not a valid key (the
                message names the line, never a key).
        """
        try:
            text = path.read_text(encoding="ascii")
            mode = path.stat().st_mode
        except (OSError, UnicodeDecodeError) as err:
            raise SecretKeyError(f"{path}: cannot read the secrets key file: {err}") from err
        if mode & (stat.S_IRWXG | stat.S_IRWXO):
            logger.warning("%s is readable by others than its owner: chmod 600 it", path)
        return cls(path, _parse(path, text))

    @classmethod
    def load_or_create(cls, path: Path) -> SecretKeys:
        """Read the key file, making it with one new key (mode 0600) if there is none yet.

        Two processes starting at once make one file between them.

        Raises:
            SecretKeyError: the file exists but cannot be read or holds an invalid line.
        """
        if path.exists():
            return cls.load(path)
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        key = secrets.token_bytes(_KEY_BYTES)
        try:
            # O_EXCL: two processes starting at once must not overwrite each other's key.
            descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            return cls.load(path)
        with os.fdopen(descriptor, "w", encoding="ascii") as file:
            file.write(_HEADER + f"{_key_id(key)} {_encode(key)}\n")
            file.flush()
            os.fsync(file.fileno())
        logger.info("made the secrets key file %s (key %s)", path, _key_id(key))
        return cls(path, {_key_id(key): key})

    @property
    def key_ids(self) -> tuple[str, ...]:
        """The ids of the keys held, oldest first; the last one seals."""
        return tuple(self._keys)

    @property
    def primary_id(self) -> str:
        """The id of the key new values are sealed with."""
        return next(reversed(self._keys))

    def add_key(self) -> str:
        """Append a new key to the file, which seals from now on; return its id.

        The file is replaced atomically (written aside, synced, renamed), so a crash leaves
        either the old or the new file, never half of one; two rotations at once each add
        their key (the directory is locked while the file is read and replaced). Values
        already sealed are re-sealed under the new key by the next start-up sweep
        (``store.migrate``).
        """
        directory = os.open(self.path.parent, os.O_RDONLY)
        try:
            fcntl.flock(directory, fcntl.LOCK_EX)
            current = _parse(self.path, self.path.read_text(encoding="ascii"))
            key = secrets.token_bytes(_KEY_BYTES)
            current[_key_id(key)] = key
            lines = "".join(f"{key_id} {_encode(value)}\n" for key_id, value in current.items())
            aside = self.path.with_name(self.path.name + ".new")
            descriptor = os.open(aside, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(descriptor, "w", encoding="ascii") as file:
                file.write(_HEADER + lines)
                file.flush()
                os.fsync(file.fileno())
            aside.replace(self.path)
            os.fsync(directory)
        finally:
            os.close(directory)  # releases the lock
        self._keys = current
        return _key_id(key)

    def seal(self, plain: bytes, purpose: str) -> str:
        """Return ``plain`` sealed under the newest key, bound to ``purpose`` (its column)."""
        key_id = self.primary_id
        nonce = secrets.token_bytes(_NONCE_BYTES)
        sealed = AESGCM(self._keys[key_id]).encrypt(nonce, plain, _associated(purpose))
        return f"{SEALED_PREFIX}{key_id}:{_encode(nonce + sealed)}"

    def open(self, value: str, purpose: str) -> bytes:
        """Return the plain value of a sealed one.

        Raises:
            SecretKeyError: the key it names is not in the file, or it does not open (it
                was changed, or belongs to another column).
        """
        key_id, _, body = value[len(SEALED_PREFIX) :].partition(":")
        key = self._keys.get(key_id)
        if key is None:
            self._reload()
            key = self._keys.get(key_id)
        if key is None:
            raise SecretKeyError(
                f"a stored secret ({purpose}) was encrypted with key {key_id}, which "
                f"{self.path} does not hold: restore the key file that belongs to this database"
            )
        try:
            data = _decode(body)
            return AESGCM(key).decrypt(
                data[:_NONCE_BYTES], data[_NONCE_BYTES:], _associated(purpose)
            )
        except (InvalidTag, ValueError, binascii.Error) as err:
            raise SecretKeyError(
                f"a stored secret ({purpose}) does not decrypt with key {key_id}: "
                "it was altered or copied from another column"
            ) from err

    def _reload(self) -> None:
        try:
            self._keys = _parse(self.path, self.path.read_text(encoding="ascii"))
        except (OSError, UnicodeDecodeError, SecretKeyError):
            logger.exception("could not read %s again", self.path)


def _associated(purpose: str) -> bytes:
    return f"watchfloor:{purpose}".encode()


def _parse(path: Path, text: str) -> dict[str, bytes]:
    keys: dict[str, bytes] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        key_id, _, encoded = line.partition(" ")
        try:
            key = _decode(encoded.strip())
        except (ValueError, binascii.Error):
            key = b""
        if len(key) != _KEY_BYTES or _key_id(key) != key_id:
            raise SecretKeyError(
                f"{path} line {number}: expected '<key id> <base64url of a 32-byte key>' "
                "with the id that belongs to the key"
            )
        keys[key_id] = key
    if not keys:
        raise SecretKeyError(f"{path}: holds no key")
    return keys


#: The key ring of each engine, by its dialect (SQLAlchemy makes one dialect per engine and
#: hands it to the column types' processors).
_RINGS: weakref.WeakKeyDictionary[Dialect, SecretKeys] = weakref.WeakKeyDictionary()


def attach_keys(engine: AsyncEngine, keys: SecretKeys) -> None:
    """Let the engine's sealed columns seal and open with this key ring."""
    _RINGS[engine.sync_engine.dialect] = keys


def keys_of(dialect: Dialect) -> SecretKeys | None:
    """Return the key ring attached to the engine of this dialect, if any."""
    return _RINGS.get(dialect)


def _required_keys(dialect: Dialect, purpose: str) -> SecretKeys:
    keys = _RINGS.get(dialect)
    if keys is None:
        raise SecretKeyError(
            f"cannot use {purpose}: the store was opened without the secrets key file"
        )
    return keys


class SealedBytes(TypeDecorator[bytes]):
    """A binary secret, stored sealed (as the ASCII of its sealed text)."""

    impl = LargeBinary
    cache_ok = True

    def __init__(self, purpose: str) -> None:
        super().__init__()
        self.purpose = purpose

    def process_bind_param(self, value: bytes | None, dialect: Dialect) -> bytes | None:
        """Seal a value on its way in."""
        if value is None:
            return None
        return _required_keys(dialect, self.purpose).seal(value, self.purpose).encode("ascii")

    def process_result_value(self, value: bytes | None, dialect: Dialect) -> bytes | None:
        """Open a sealed value on its way out; one stored in clear comes out as it is."""
        if value is None:
            return None
        stored = bytes(value)
        if not stored.startswith(SEALED_PREFIX.encode("ascii")):
            return stored
        return _required_keys(dialect, self.purpose).open(stored.decode("ascii"), self.purpose)


class SealedText(TypeDecorator[str]):
    """A text secret, stored sealed."""

    impl = Text
    cache_ok = True

    def __init__(self, purpose: str) -> None:
        super().__init__()
        self.purpose = purpose

    def process_bind_param(self, value: str | None, dialect: Dialect) -> str | None:
        """Seal a value on its way in."""
        if value is None:
            return None
        return _required_keys(dialect, self.purpose).seal(value.encode(), self.purpose)

    def process_result_value(self, value: str | None, dialect: Dialect) -> str | None:
        """Open a sealed value on its way out; one stored in clear comes out as it is."""
        if value is None or not is_sealed(value):
            return value
        return _required_keys(dialect, self.purpose).open(value, self.purpose).decode()
